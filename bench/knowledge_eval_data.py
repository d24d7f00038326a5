"""Generates the labelled knowledge evaluation set: `bench/data/knowledge_eval.json`.

    python -m bench.knowledge_eval_data

120 documents (100 English product manuals, 20 Chinese service policies) of invented products
with seeded facts, one fact a paragraph (one chunk when split at blank lines), and two questions
per document, each labelled with the document and the paragraph that answers it. Questions are
worded the way users ask: some repeat the manual's words, others paraphrase them ("guarantee"
for "warranty", "how much water" for "capacity"), so full-text and vector retrieval differ. The
products share templates, so the product's name decides between near-identical paragraphs."""
from __future__ import annotations

import json
import random
from pathlib import Path

OUT = Path(__file__).resolve().parent / "data" / "knowledge_eval.json"

KINDS = ["kettle", "toaster", "blender", "coffee grinder", "rice cooker", "air fryer", "juicer",
         "hand mixer", "food processor", "waffle maker"]
SYLLABLES = ["ar", "vo", "ne", "lin", "tra", "qu", "mo", "zel", "ka", "ris", "on", "pa", "dex", "ul", "fen"]
MATERIALS = ["brushed steel", "borosilicate glass", "matte ceramic", "recycled plastic", "anodised aluminium"]
COLOURS = ["slate grey", "sage green", "cream", "midnight blue", "terracotta"]
CITIES = ["Porto", "Tallinn", "Lyon", "Gdansk", "Valencia", "Ghent"]

# (paragraph template, [(question template, uses the manual's words?)])
SECTIONS = [
    ("The {name} {kind} is made of {material} and comes in {colour}. It was designed in {city}.",
     [("What is the {name} made of?", True), ("Where was the {name} designed?", True),
      ("Which colour does the {name} {kind} come in?", True)]),
    ("Capacity: the {name} holds {capacity} litres and draws {watts} watts at full power.",
     [("How much can the {name} hold?", False), ("How much power does the {name} use?", False)]),
    ("Warranty: every {name} carries a {years}-year warranty; register it within {days} days of purchase.",
     [("How long is the guarantee on the {name}?", False), ("How many days do I have to register my {name}?", True)]),
    ("Cleaning: descale the {name} every {weeks} weeks with {cleaner}, and never put the base in water.",
     [("How often should I clean the limescale out of the {name}?", False),
      ("What should I use to descale the {name}?", True)]),
    ("Troubleshooting: if the {name} shows error {code}, unplug it for {minutes} minutes, then restart it.",
     [("My {name} displays {code}. What do I do?", False), ("What does error {code} on the {name} mean for me?", True)]),
]
CLEANERS = ["citric acid", "white vinegar", "a descaling tablet", "lemon juice"]

ZH_SERVICES = ["宽带", "话费套餐", "会员卡", "快递服务", "家电维修"]
ZH_SECTIONS = [
    ("{name}{service}的退款政策：签收后{days}天内可以申请全额退款，退款在{work}个工作日内到账。",
     [("{name}{service}多久能退款？", True), ("{name}{service}的钱多久退回来？", False)]),
    ("{name}{service}的客服电话是{phone}，服务时间为每天{start}点到{end}点。",
     [("{name}{service}的客服电话是多少？", True), ("{name}{service}几点可以联系人工服务？", False)]),
    ("{name}{service}每月费用为{price}元，新用户首月减免{discount}元。",
     [("{name}{service}每个月多少钱？", False), ("{name}{service}新用户有什么优惠？", True)]),
]
ZH_NAMES = ["星河", "青松", "海蓝", "金穗", "云帆", "红枫", "白鹭", "明湖", "远山", "晨光",
            "翠竹", "长风", "暖阳", "碧波", "银杏", "飞鸿", "锦程", "瑞雪", "丰年", "安居"]


def _name(rng: random.Random, taken: set[str]) -> str:
    while True:
        name = "".join(rng.choice(SYLLABLES) for _ in range(2)).capitalize() + f" {rng.choice('KTXRMV')}{rng.randint(1, 9)}"
        if name not in taken:
            taken.add(name)
            return name


def generate(seed: int = 20261126) -> dict:
    rng = random.Random(seed)
    documents, questions, taken = [], [], set()
    for index in range(100):
        facts = {"name": _name(rng, taken), "kind": KINDS[index % len(KINDS)], "material": rng.choice(MATERIALS),
                 "colour": rng.choice(COLOURS), "city": rng.choice(CITIES),
                 "capacity": f"{rng.randint(5, 30) / 10:.1f}", "watts": rng.choice([600, 800, 1200, 1500, 2000, 2200]),
                 "years": rng.randint(1, 5), "days": rng.choice([14, 30, 60, 90]), "weeks": rng.choice([2, 4, 6, 8]),
                 "cleaner": rng.choice(CLEANERS), "code": f"E{rng.randint(10, 99)}", "minutes": rng.choice([5, 10, 15, 30])}
        name = f"{facts['name']} {facts['kind']} manual"
        documents.append({"name": name, "paragraphs": [p.format(**facts) for p, _ in SECTIONS]})
        picked = rng.sample(range(len(SECTIONS)), 2)
        for section in picked:
            template, lexical = rng.choice(SECTIONS[section][1])
            questions.append({"question": template.format(**facts), "document": name, "paragraph": section,
                              "lexical": lexical, "language": "en"})
    for index in range(20):
        facts = {"name": ZH_NAMES[index], "service": ZH_SERVICES[index % len(ZH_SERVICES)],
                 "days": rng.choice([7, 15, 30]), "work": rng.choice([3, 5, 7]),
                 "phone": f"400-{rng.randint(100, 999)}-{rng.randint(1000, 9999)}", "start": rng.choice([8, 9]),
                 "end": rng.choice([20, 21, 22]), "price": rng.choice([39, 59, 99, 129]), "discount": rng.choice([10, 20, 30])}
        name = f"{facts['name']}{facts['service']}服务说明"
        documents.append({"name": name, "paragraphs": [p.format(**facts) for p, _ in ZH_SECTIONS]})
        for section in rng.sample(range(len(ZH_SECTIONS)), 2):
            template, lexical = rng.choice(ZH_SECTIONS[section][1])
            questions.append({"question": template.format(**facts), "document": name, "paragraph": section,
                              "lexical": lexical, "language": "zh"})
    return {"about": __doc__.strip().splitlines()[0], "seed": seed, "documents": documents, "questions": questions}


if __name__ == "__main__":
    data = generate()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {OUT}: {len(data['documents'])} documents, {len(data['questions'])} questions")
