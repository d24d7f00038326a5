"""Agents' variables: the definitions live in the agent's settings (`variable_list`: key,
description, default, enabled, system or not); the values are each end user's, per connector.
The persona prompt's `{{key}}` placeholders are filled from them (and from the system variables
and a chat's custom_variables), and the model can remember a value with the `set_variable` tool."""

from __future__ import annotations

import dataclasses
import re
import time

from core import authz, errors
from models.db import run_db, write_transaction
from models.identity import User
from models.memory import VariableValue
from services import refs, tools

KEY = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,49}")
MAX_VALUE = 10_000
PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][\w.-]*)\s*\}\}")
TOOL_NAME = "set_variable"
SYSTEM = {  # key: description
    "sys_uuid": "The end user's id (the Open API's user_id; in the console, the developer's)",
    "sys_conversation_id": "The conversation's id",
    "sys_connector_id": "The connector the chat comes through (1024 API, 999 Chat SDK, 10000010 console)",
    "sys_current_time": "The current time (UTC), YYYY-MM-DD HH:MM:SS",
}


@dataclasses.dataclass(frozen=True)
class Holder:
    """Whose values: an end user on a connector."""

    connector_uid: str
    connector_id: int


@dataclasses.dataclass(frozen=True)
class Value:
    keyword: str
    value: str
    create_time: int
    update_time: int
    is_system: bool
    prompt_disabled: bool


# --- definitions (the agent's settings) ----------------------------------------------------


def check_definitions(
    items: list,
    *,
    field: str = "variable_list",
    error: errors.ErrorCode = errors.AGENT_INVALID_PARAM,
    names: tuple[str, str] = ("key", "default_value"),
) -> None:
    """The variable definitions an agent's settings (or a project) may hold: unique keys; system
    ones known. `names`: what the request calls the key and the default, for the messages."""
    key_name, default_name = names
    seen = set()
    for index, item in enumerate(items or []):
        where = f"{field}[{index}]"
        if not isinstance(item, dict):
            raise error(f"{where}: must be an object")
        key = item.get("key")
        if not isinstance(key, str) or not KEY.fullmatch(key):
            raise error(
                f"{where}.{key_name}: must start with a letter and hold letters, digits and _ (at most 50)"
            )
        if key.lower() in seen:
            raise error(f"{where}.{key_name}: {key} is defined twice")
        seen.add(key.lower())
        system = bool(item.get("is_system"))
        if system and key not in SYSTEM:
            raise error(f"{where}.{key_name}: system variables are {', '.join(SYSTEM)}")
        if not system and key.startswith("sys_"):
            raise error(f"{where}.{key_name}: names starting with sys_ are the system's")
        if len(str(item.get("default_value") or "")) > MAX_VALUE:
            raise error(f"{where}.{default_name}: longer than {MAX_VALUE} characters")


def definitions(config: dict) -> list[dict]:
    """The enabled variables of a settings document, in order."""
    return [
        item
        for item in config.get("variable_list") or []
        if isinstance(item, dict) and item.get("key") and not item.get("is_disabled")
    ]


def _writable_keys(configs: list[dict]) -> set[str]:
    return {
        d["key"]
        for config in configs
        for d in definitions(config)
        if not d.get("is_system") and not d.get("read_only")
    }


# --- values ----------------------------------------------------------------------------------


def _now() -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())


def system_values(holder: Holder, conversation_id: int | None = None) -> dict[str, str]:
    return {
        "sys_uuid": holder.connector_uid,
        "sys_conversation_id": str(conversation_id or ""),
        "sys_connector_id": str(holder.connector_id),
        "sys_current_time": _now(),
    }


@dataclasses.dataclass(frozen=True)
class Target:
    """The agent or project whose variables these are, with the settings that define them (an
    agent's draft first, then its last published version)."""

    kind: str  # AGENT or PROJECT
    id: int
    configs: tuple[dict, ...]

    @property
    def column(self):
        return VariableValue.bot if self.kind == AGENT else VariableValue.project

    @property
    def label(self) -> str:
        return f"{self.kind} {self.id}"


AGENT, PROJECT = "agent", "project"


def _held(target: Target, holder: Holder):
    return (
        (target.column == target.id)
        & (VariableValue.connector_id == holder.connector_id)
        & (VariableValue.connector_uid == holder.connector_uid)
    )


def stored(target: Target, holder: Holder) -> dict[str, VariableValue]:
    return {row.keyword: row for row in VariableValue.select().where(_held(target, holder))}


def values_of(target: Target, holder: Holder, keywords: list[str] | None = None) -> list[Value]:
    """The holder's value of each defined variable (its default when none is stored)."""
    held = stored(target, holder)
    system = system_values(holder)
    wanted = {k for k in keywords or [] if k}
    found = []
    for item in definitions(merged(target.configs)):
        key = item["key"]
        if wanted and key not in wanted:
            continue
        row = held.get(key)
        if item.get("is_system"):
            value, created, updated = system.get(key, ""), 0, 0
        elif row is not None:
            value, created, updated = row.value, row.created_at, row.updated_at
        else:
            value, created, updated = str(item.get("default_value") or ""), 0, 0
        found.append(
            Value(
                key, value, created, updated, bool(item.get("is_system")), bool(item.get("prompt_disabled"))
            )
        )
    return found


def set_values(target: Target, holder: Holder, data: list[tuple[str, str]], field: str = "data") -> None:
    """Store values (all or none); every keyword must be one of the owner's writable variables."""
    writable = _writable_keys(list(target.configs))
    for index, (keyword, value) in enumerate(data):
        if keyword not in writable:
            raise errors.VARIABLE_UNKNOWN(
                f"{field}[{index}].keyword: {target.label} has no variable {str(keyword)[:64]!r} to set"
                + (f" (it has {', '.join(sorted(writable))})" if writable else "")
            )
        if len(value) > MAX_VALUE:
            raise errors.MEMORY_INVALID_PARAM(f"{field}[{index}].value: longer than {MAX_VALUE} characters")
    with write_transaction():
        held = stored(target, holder)
        for keyword, value in data:
            row = held.get(keyword)
            if row is not None:
                row.touch(value=value)
            else:
                held[keyword] = VariableValue.create(
                    **{target.column.name: target.id},
                    keyword=keyword,
                    value=value,
                    connector_id=holder.connector_id,
                    connector_uid=holder.connector_uid,
                )


def delete_values(target: Target, holder: Holder, keywords: list[str] | None = None) -> int:
    """Forget values (all of the holder's when no keyword is named): defaults apply again."""
    query = VariableValue.delete().where(_held(target, holder))
    if keywords:
        query = query.where(VariableValue.keyword.in_(keywords))
    return query.execute()


# --- what requests ask for --------------------------------------------------------------------


def load_agent(user: User, bot_id, action: str = authz.READ, field: str = "bot_id") -> Target:
    """The agent and the settings that define its variables: the draft and the last published
    version (an end user's values may be set for either)."""
    from services import agents  # imported here: agents checks variable_list with this module

    bot = refs.one(user, refs.AGENT, bot_id, action, field=field)
    configs = [bot.config]  # the draft's settings (bot_info would also load its shortcuts)
    published = agents.published(bot)
    if published is not None:
        configs.append(published.snapshot)
    return Target(AGENT, bot.id, tuple(configs))


def merged(configs) -> dict:
    """One settings document whose variable_list is the union of the configs' (the first wins)."""
    seen, items = set(), []
    for config in configs:
        for item in definitions(config):
            if item["key"] not in seen:
                seen.add(item["key"])
                items.append(item)
    return {"variable_list": items}


@dataclasses.dataclass(frozen=True)
class Owner:
    """Whose variables a request names: an agent, or a project (Coze's app_id / project_id)."""

    bot_id: object = None
    project_id: object = None
    bot_field: str = "bot_id"
    project_field: str = "project_id"


def target_of(user: User, owner: Owner, action: str = authz.READ) -> Target:
    """The agent the request names or, when it names none, its project."""
    from services import projects

    named = owner.project_id not in (None, "", "0", 0)
    if owner.bot_id in (None, "") or (owner.bot_id in ("0", 0) and named):  # Coze's "0": none
        if owner.project_id in (None, ""):
            raise errors.MEMORY_INVALID_PARAM(f"{owner.bot_field}: name the agent (or {owner.project_field})")
        project = projects.load(user, owner.project_id, action, field=owner.project_field)
        return Target(PROJECT, project.id, (project.config or {},))
    refs.optional(user, refs.PROJECT, owner.project_id, field=owner.project_field)
    return load_agent(user, owner.bot_id, action, owner.bot_field)


def meta(user: User, owner: Owner) -> list[dict]:
    """The enabled variable definitions (an agent's draft's)."""
    return definitions(target_of(user, owner).configs[0])


def values_for(user: User, owner: Owner, holder: Holder, keywords: list[str] | None = None) -> list[Value]:
    return values_of(target_of(user, owner), holder, keywords)


def assign(
    user: User, owner: Owner, holder: Holder, data: list[tuple[str, str]], action: str = authz.READ
) -> None:
    set_values(target_of(user, owner, action), holder, data)


def forget(user: User, owner: Owner, holder: Holder, keywords: list[str] | None = None) -> int:
    return delete_values(target_of(user, owner), holder, keywords)


# --- chat --------------------------------------------------------------------------------------


def persona(config: dict, values: dict[str, str]) -> str:
    """The persona prompt with {{key}} replaced (unknown placeholders stay as they are)."""
    prompt = (config.get("prompt_info") or {}).get("prompt") or ""
    return PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), prompt)


def chat_values(bot_id: int, config: dict, holder: Holder, conversation_id: int, custom: dict | None) -> dict:
    """What the placeholders become in a chat: defaults, then the end user's stored values, then
    the system variables, then the chat's custom_variables."""
    values = {
        d["key"]: str(d.get("default_value") or "") for d in definitions(config) if not d.get("is_system")
    }
    held = stored(Target(AGENT, bot_id, (config,)), holder)
    values.update({k: row.value for k, row in held.items() if k in values})
    values.update(system_values(holder, conversation_id))
    values.update({k: str(v) for k, v in (custom or {}).items()})
    return values


def _tool_provider(config: dict) -> list[tools.Tool]:
    keys = sorted(_writable_keys([config]))
    if not keys:
        return []

    async def run(arguments: dict, context: tools.ToolContext) -> str:
        holder = Holder(context.end_user or str(context.user_id), context.connector_id)
        keyword, value = str(arguments.get("keyword") or ""), str(arguments.get("value") or "")
        target = Target(AGENT, context.bot_id, (config,))
        await run_db(set_values, target, holder, [(keyword, value)], "arguments")
        return f"remembered {keyword} = {value[:200]}"

    described = "; ".join(
        f"{d['key']}: {d.get('description') or 'no description'}"
        for d in definitions(config)
        if d["key"] in keys
    )
    return [
        tools.Tool(
            name=TOOL_NAME,
            run=run,
            description=f"Remember a value for this user, for later conversations. Variables: {described}",
            parameters={
                "type": "object",
                "required": ["keyword", "value"],
                "properties": {"keyword": {"type": "string", "enum": keys}, "value": {"type": "string"}},
            },
        )
    ]


tools.register_provider(_tool_provider)
