"""Generates the labelled knowledge evaluation set: `bench/data/knowledge_eval.json`.

    python -m bench.knowledge_eval_data

130 documents, one fact a paragraph (one chunk when split at blank lines), and 270 questions,
each labelled with the document and the paragraph that answers it:
- 100 English manuals of invented products with seeded facts, two questions each. The products
  share templates, so the product's name, which the question gives, decides between
  near-identical paragraphs.
- 20 Chinese service policies, two questions each.
- 10 company policies on different topics, three questions each that name no document.
Questions are worded the way users ask: some repeat the text's words, others paraphrase them
("guarantee" for "warranty", "give back" for "send back"), so full-text and vector retrieval
differ."""

from __future__ import annotations

import json
import random
from pathlib import Path

OUT = Path(__file__).resolve().parent / "data" / "knowledge_eval.json"

KINDS = [
    "kettle",
    "toaster",
    "blender",
    "coffee grinder",
    "rice cooker",
    "air fryer",
    "juicer",
    "hand mixer",
    "food processor",
    "waffle maker",
]
SYLLABLES = ["ar", "vo", "ne", "lin", "tra", "qu", "mo", "zel", "ka", "ris", "on", "pa", "dex", "ul", "fen"]
MATERIALS = ["brushed steel", "borosilicate glass", "matte ceramic", "recycled plastic", "anodised aluminium"]
COLOURS = ["slate grey", "sage green", "cream", "midnight blue", "terracotta"]
CITIES = ["Porto", "Tallinn", "Lyon", "Gdansk", "Valencia", "Ghent"]

# (paragraph template, [(question template, uses the manual's words?)])
SECTIONS = [
    (
        "The {name} {kind} is made of {material} and comes in {colour}. It was designed in {city}.",
        [
            ("What is the {name} made of?", True),
            ("Where was the {name} designed?", True),
            ("Which colour does the {name} {kind} come in?", True),
        ],
    ),
    (
        "Capacity: the {name} holds {capacity} litres and draws {watts} watts at full power.",
        [("How much can the {name} hold?", False), ("How much power does the {name} use?", False)],
    ),
    (
        "Warranty: every {name} carries a {years}-year warranty; register it within {days} days of purchase.",
        [
            ("How long is the guarantee on the {name}?", False),
            ("How many days do I have to register my {name}?", True),
        ],
    ),
    (
        "Cleaning: descale the {name} every {weeks} weeks with {cleaner}, and never put the base in water.",
        [
            ("How often should I clean the limescale out of the {name}?", False),
            ("What should I use to descale the {name}?", True),
        ],
    ),
    (
        "Troubleshooting: if the {name} shows error {code}, unplug it for {minutes} minutes, "
        "then restart it.",
        [
            ("My {name} displays {code}. What do I do?", False),
            ("What does error {code} on the {name} mean for me?", True),
        ],
    ),
]
CLEANERS = ["citric acid", "white vinegar", "a descaling tablet", "lemon juice"]

# Company policies: each a different topic, asked about without naming the document.
# (title, paragraphs, [(question, paragraph index, uses the policy's words?)])
POLICIES = [
    (
        "Shipping policy",
        [
            "Orders placed before 2 pm leave our warehouse the same working day.",
            "Standard delivery inside the EU takes three to five working days.",
            "Parcels to Norway and Switzerland are charged customs duty on arrival.",
        ],
        [
            ("When do orders placed in the morning get sent out?", 0, False),
            ("How long does standard delivery take inside the EU?", 1, True),
            ("Will I pay import fees when ordering from Switzerland?", 2, False),
        ],
    ),
    (
        "Returns policy",
        [
            "Unused items can be sent back within 30 days for a full refund.",
            "Return labels are free for customers in Germany, Austria and the Netherlands.",
            "Refunds reach the original payment method within ten days of the return arriving.",
        ],
        [
            ("Can I give back something I never used?", 0, False),
            ("Do I pay for the return label in Austria?", 1, True),
            ("How soon after my parcel arrives back do I get the money?", 2, False),
        ],
    ),
    (
        "Payment methods",
        [
            "We accept Visa, Mastercard, PayPal and bank transfer.",
            "Bank transfers must arrive within seven days or the order is cancelled.",
            "Invoices for companies show the VAT number given at checkout.",
        ],
        [
            ("Can I pay with PayPal?", 0, True),
            ("What happens if my wire transfer is late?", 1, False),
            ("Where does my company's tax number appear?", 2, False),
        ],
    ),
    (
        "Account security",
        [
            "Passwords must have at least twelve characters.",
            "Two-factor authentication can be switched on under Settings, Security.",
            "After five wrong passwords the account is locked for fifteen minutes.",
        ],
        [
            ("How long must my password be?", 0, True),
            ("How do I turn on 2FA?", 1, False),
            ("I typed my password wrong many times; when can I try again?", 2, False),
        ],
    ),
    (
        "Privacy notice",
        [
            "We keep order records for ten years because tax law requires it.",
            "Marketing e-mails are sent only to customers who opted in.",
            "You can ask for a copy of your personal data by writing to privacy@example.com.",
        ],
        [
            ("Why do you keep my old orders for so long?", 0, False),
            ("Will I get newsletters if I never agreed?", 1, False),
            ("How can I get a copy of my personal data?", 2, True),
        ],
    ),
    (
        "Gift cards",
        [
            "Gift cards are valid for three years from the date of purchase.",
            "A gift card cannot be exchanged for cash.",
            "Several gift cards can be combined in one order.",
        ],
        [
            ("Do gift vouchers expire?", 0, False),
            ("Can I turn a gift card into cash?", 1, True),
            ("May I use two gift cards on the same order?", 2, False),
        ],
    ),
    (
        "Repairs and spare parts",
        [
            "Spare parts stay available for seven years after a model is discontinued.",
            "Repairs outside the warranty are quoted before any work starts.",
            "A repaired appliance is covered for six months on the part replaced.",
        ],
        [
            ("For how many years can I still buy parts for an old model?", 0, False),
            ("Will you tell me the price before repairing out of warranty?", 1, False),
            ("Is the replaced part guaranteed after a repair?", 2, False),
        ],
    ),
    (
        "Store opening hours",
        [
            "The Ghent showroom opens Tuesday to Saturday from 10 am to 6 pm.",
            "On public holidays all showrooms are closed.",
            "Appointments for product demonstrations can be booked online.",
        ],
        [
            ("When is the Ghent showroom open?", 0, True),
            ("Are you open on bank holidays?", 1, False),
            ("Can I reserve a time to see a product demonstrated?", 2, False),
        ],
    ),
    (
        "Sustainability",
        [
            "Our packaging is made of recycled cardboard and contains no plastic foam.",
            "Old appliances are taken back for recycling when a new one is delivered.",
            "Our warehouse runs on electricity from its own solar panels.",
        ],
        [
            ("Is there any polystyrene in your packaging?", 0, False),
            ("Will the courier take my old device away?", 1, False),
            ("Where does the warehouse get its power?", 2, False),
        ],
    ),
    (
        "Business customers",
        [
            "Companies ordering more than 50 units get a volume discount of 8 percent.",
            "Business accounts can pay on invoice with 30 days to pay.",
            "A dedicated account manager answers business customers within one working day.",
        ],
        [
            ("Is there a discount for buying in bulk?", 0, False),
            ("Can a company pay later by invoice?", 1, True),
            ("How fast does the business account manager reply?", 2, False),
        ],
    ),
]

ZH_SERVICES = ["宽带", "话费套餐", "会员卡", "快递服务", "家电维修"]
ZH_SECTIONS = [
    (
        "{name}{service}的退款政策：签收后{days}天内可以申请全额退款，退款在{work}个工作日内到账。",
        [("{name}{service}多久能退款？", True), ("{name}{service}的钱多久退回来？", False)],
    ),
    (
        "{name}{service}的客服电话是{phone}，服务时间为每天{start}点到{end}点。",
        [("{name}{service}的客服电话是多少？", True), ("{name}{service}几点可以联系人工服务？", False)],
    ),
    (
        "{name}{service}每月费用为{price}元，新用户首月减免{discount}元。",
        [("{name}{service}每个月多少钱？", False), ("{name}{service}新用户有什么优惠？", True)],
    ),
]
ZH_NAMES = [
    "星河",
    "青松",
    "海蓝",
    "金穗",
    "云帆",
    "红枫",
    "白鹭",
    "明湖",
    "远山",
    "晨光",
    "翠竹",
    "长风",
    "暖阳",
    "碧波",
    "银杏",
    "飞鸿",
    "锦程",
    "瑞雪",
    "丰年",
    "安居",
]


def _name(rng: random.Random, taken: set[str]) -> str:
    while True:
        name = (
            "".join(rng.choice(SYLLABLES) for _ in range(2)).capitalize()
            + f" {rng.choice('KTXRMV')}{rng.randint(1, 9)}"
        )
        if name not in taken:
            taken.add(name)
            return name


def _add_manual(rng, documents, questions, name, facts, sections, language) -> None:
    """One document from the section templates, and questions on two of its sections."""
    documents.append({"name": name, "paragraphs": [p.format(**facts) for p, _ in sections]})
    for section in rng.sample(range(len(sections)), 2):
        template, lexical = rng.choice(sections[section][1])
        question = {"question": template.format(**facts), "document": name, "paragraph": section}
        questions.append({**question, "lexical": lexical, "language": language})


def generate(seed: int = 20261126) -> dict:
    rng = random.Random(seed)
    documents, questions, taken = [], [], set()
    for index in range(100):
        facts = {
            "name": _name(rng, taken),
            "kind": KINDS[index % len(KINDS)],
            "material": rng.choice(MATERIALS),
            "colour": rng.choice(COLOURS),
            "city": rng.choice(CITIES),
            "capacity": f"{rng.randint(5, 30) / 10:.1f}",
            "watts": rng.choice([600, 800, 1200, 1500, 2000, 2200]),
            "years": rng.randint(1, 5),
            "days": rng.choice([14, 30, 60, 90]),
            "weeks": rng.choice([2, 4, 6, 8]),
            "cleaner": rng.choice(CLEANERS),
            "code": f"E{rng.randint(10, 99)}",
            "minutes": rng.choice([5, 10, 15, 30]),
        }
        name = f"{facts['name']} {facts['kind']} manual"
        _add_manual(rng, documents, questions, name, facts, SECTIONS, "en")
    for index in range(20):
        facts = {
            "name": ZH_NAMES[index],
            "service": ZH_SERVICES[index % len(ZH_SERVICES)],
            "days": rng.choice([7, 15, 30]),
            "work": rng.choice([3, 5, 7]),
            "phone": f"400-{rng.randint(100, 999)}-{rng.randint(1000, 9999)}",
            "start": rng.choice([8, 9]),
            "end": rng.choice([20, 21, 22]),
            "price": rng.choice([39, 59, 99, 129]),
            "discount": rng.choice([10, 20, 30]),
        }
        name = f"{facts['name']}{facts['service']}服务说明"
        _add_manual(rng, documents, questions, name, facts, ZH_SECTIONS, "zh")
    for title, paragraphs, asked in POLICIES:
        documents.append({"name": title, "paragraphs": paragraphs})
        for question, paragraph, lexical in asked:
            questions.append(
                {
                    "question": question,
                    "document": title,
                    "paragraph": paragraph,
                    "lexical": lexical,
                    "language": "en",
                    "names_document": False,
                }
            )
    for question in questions:
        question.setdefault("names_document", True)
    return {
        "about": __doc__.strip().splitlines()[0],
        "seed": seed,
        "documents": documents,
        "questions": questions,
    }


if __name__ == "__main__":
    data = generate()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {OUT}: {len(data['documents'])} documents, {len(data['questions'])} questions")
