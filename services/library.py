"""The prompt library (per space) and shortcut commands (per agent)."""

from __future__ import annotations

from peewee import IntegrityError

from core import authz, errors
from models.db import db
from models.identity import User
from models.library import PromptResource, ShortcutCommand
from services import agents, refs

OFFICIAL_PROMPTS = [
    {
        "id": "official-assistant",
        "name": "General assistant",
        "description": "A helpful, concise assistant persona.",
        "prompt_text": "You are a helpful assistant. Answer concisely and say when you are unsure.",
    },
    {
        "id": "official-support",
        "name": "Customer support",
        "description": "Polite support agent that uses the knowledge base.",
        "prompt_text": "You are a customer support agent. Be polite, cite the knowledge base, and "
        "ask for an order number when the question is about an order.",
    },
    {
        "id": "official-translator",
        "name": "Translator",
        "description": "Translates between Chinese and English.",
        "prompt_text": "Translate the user's message: Chinese to English, anything else to Chinese. "
        "Output only the translation.",
    },
]


def upsert_prompt(user: User, prompt: dict) -> PromptResource:
    if prompt.get("id") is not None:
        found = get_prompt(user, prompt["id"], authz.UPDATE)
        changes = {k: prompt[k] for k in ("name", "description", "prompt_text") if prompt.get(k) is not None}
        if changes:
            found.touch(**changes)
        return found
    space_id = refs.one(user, refs.SPACE, prompt["space_id"], "prompt:create", field="prompt.space_id").id
    return PromptResource.create(
        space=space_id,
        creator=user.id,
        name=prompt["name"].strip(),
        description=prompt.get("description") or "",
        prompt_text=prompt.get("prompt_text") or "",
    )


def get_prompt(user: User, prompt_id, action: str = authz.READ) -> PromptResource:
    return refs.one(user, refs.PROMPT, prompt_id, action)


def official_prompts(keyword: str | None) -> list[dict]:
    keyword = (keyword or "").lower()
    return [
        p
        for p in OFFICIAL_PROMPTS
        if not keyword or keyword in p["name"].lower() or keyword in p["description"].lower()
    ]


# --- shortcut commands ------------------------------------------------------------------------

SHORTCUT_CONFIG_KEYS = (
    "description",
    "send_type",
    "tool_type",
    "work_flow_id",
    "plugin_id",
    "plugin_api_name",
    "plugin_api_id",
    "template_query",
    "components_list",
    "card_schema",
    "tool_info",
    "shortcut_icon",
    "agent_id",
)


def _shortcut_config(user: User, shortcut: dict, current: dict) -> dict:
    """The stored settings, with the tool and icon they name checked as the caller's."""
    config = {k: shortcut[k] for k in SHORTCUT_CONFIG_KEYS if shortcut.get(k) is not None}
    for key, kind in (("plugin_id", refs.PLUGIN), ("work_flow_id", refs.WORKFLOW)):
        if config.get(key) not in (None, "", "0"):
            refs.one(user, kind, config[key], field=f"shortcuts.{key}")
    icon = config.get("shortcut_icon")
    if isinstance(icon, dict) and icon.get("uri"):
        kept = (current.get("shortcut_icon") or {}).get("uri", "")
        config["shortcut_icon"] = {
            **icon,
            "uri": refs.file_uri(
                user,
                icon["uri"],
                field="shortcuts.shortcut_icon.uri",
                current=kept,
                invalid=errors.SHORTCUT_INVALID_PARAM,
            ),
        }
    return config


def save_shortcut(user: User, bot_id, space_id, shortcut: dict) -> ShortcutCommand:
    """Create (no command_id) or update a shortcut; new ones join the agent's shortcut_sort."""
    bot = agents.load(user, bot_id, authz.UPDATE, space_id)
    existing = (
        get_shortcut(bot, shortcut["command_id"])
        if shortcut.get("command_id") not in (None, "", "0", 0)
        else None
    )
    fields = {
        "command_name": shortcut["command_name"].strip(),
        "shortcut_command": shortcut["shortcut_command"].strip(),
        "config": _shortcut_config(user, shortcut, existing.config if existing else {}),
    }
    try:
        with db.atomic():
            if existing is not None:
                command = existing
                command.touch(**fields)
            else:
                command = ShortcutCommand.create(bot=bot.id, **fields)
                sort = [*bot.config.get("shortcut_sort", []), str(command.id)]
                agents.update_draft(user, {"bot_id": bot.id, "shortcut_sort": sort})
    except IntegrityError:
        raise errors.SHORTCUT_DUPLICATE(
            f"agent {bot.id} already has a shortcut named '{fields['command_name']}' or "
            f"typed '{fields['shortcut_command']}'"
        )
    return command


def get_shortcut(bot, command_id) -> ShortcutCommand:
    return refs.under(refs.SHORTCUT, command_id, ShortcutCommand.bot == bot.id, where=f"of agent {bot.id}")


def delete_shortcut(user: User, bot_id, space_id, command_id) -> None:
    bot = agents.load(user, bot_id, authz.UPDATE, space_id)
    with db.atomic():
        get_shortcut(bot, command_id).delete_instance()
        sort = [c for c in bot.config.get("shortcut_sort", []) if c != str(command_id)]
        agents.update_draft(user, {"bot_id": bot.id, "shortcut_sort": sort})
