"""User-defined databases: their schemas, binding them to agents, and their rows as the console
reads and edits them (services/memory_rows keeps the rows; services/agent_memory lets agents use
them in chat)."""

from __future__ import annotations

import dataclasses
import re

from peewee import Value

from core import authz, errors
from core.ids import parse_id
from models import paging
from models.agent import Bot
from models.conversation import CONNECTOR_WEB
from models.db import write_transaction
from models.identity import User
from models.memory import COPIES, FIELD_TEXT, RW_PER_USER, MemoryDatabase
from services import agents, memory_rows, projects, refs
from services.memory_rows import Scope

NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}")
MAX_FIELDS = 20


@dataclasses.dataclass(frozen=True)
class FieldInput:
    """A field as a schema edit names it: `id` says which existing field it is (None: a new one)."""

    name: str
    type: int = FIELD_TEXT
    description: str = ""
    required: bool = False
    id: int | None = None


def load(user: User, database_id, action: str = authz.READ, *, field: str = "id") -> MemoryDatabase:
    return refs.one(user, refs.DATABASE, database_id, action, field=field)


def _check_name(name: str, where: str, *, table: bool) -> str:
    name = (name or "").strip()
    if not NAME.fullmatch(name):
        raise errors.DATABASE_NAME_INVALID(
            f"{where}: {name[:64]!r} must start with a letter and hold only letters, digits"
            " and _ (at most 64)"
        )
    if not table and name.lower() in memory_rows.SYSTEM_FIELDS:
        raise errors.DATABASE_NAME_INVALID(f"{where}: {name} is a system field's name")
    return name


def _schema(current: list[dict], fields: list[FieldInput], next_id: int) -> tuple[list[dict], int]:
    """The new field list (kept ids, new ids for new fields) and the next free id."""
    if not fields:
        raise errors.MEMORY_INVALID_PARAM("field_list: a table needs at least one field")
    if len(fields) > MAX_FIELDS:
        raise errors.MEMORY_INVALID_PARAM(f"field_list: at most {MAX_FIELDS} fields")
    existing = {f["id"]: f for f in current}
    schema, seen = [], set()
    for index, item in enumerate(fields):
        where = f"field_list[{index}]"
        name = _check_name(item.name, f"{where}.name", table=False)
        if name.lower() in seen:
            raise errors.DATABASE_NAME_INVALID(f"{where}.name: {name} is named twice")
        seen.add(name.lower())
        if item.type not in memory_rows.TYPE_NAMES:
            raise errors.MEMORY_INVALID_PARAM(
                f"{where}.type: must be 1 text, 2 integer, 3 time, 4 float or 5 boolean"
            )
        if item.id:
            before = existing.get(item.id)
            if before is None:
                raise errors.DATABASE_FIELD_UNKNOWN(f"{where}.id: the table has no field {item.id}")
            if before["type"] != item.type:
                raise errors.DATABASE_FIELD_TYPE_LOCKED(
                    f"{where}.type: field {before['name']} keeps its type; add a new field for another type"
                )
            field_id = item.id
        else:
            field_id, next_id = next_id, next_id + 1
        schema.append(
            {
                "id": field_id,
                "name": name,
                "desc": item.description or "",
                "type": item.type,
                "must_required": bool(item.required),
            }
        )
    return schema, next_id


def _check_unique(space_id: int, name: str, own_id: int | None = None) -> None:
    query = MemoryDatabase.select().where(MemoryDatabase.space == space_id, MemoryDatabase.name == name)
    if own_id is not None:
        query = query.where(MemoryDatabase.id != own_id)
    if query.exists():
        raise errors.DATABASE_NAME_DUPLICATE(f"table_name: the space already has a table named {name}")


def create(
    user: User,
    space_id,
    name: str,
    fields: list[FieldInput],
    *,
    description: str = "",
    icon_uri: str = "",
    rw_mode: int = RW_PER_USER,
    prompt_disabled: bool = False,
    extra_info: dict | None = None,
    project_id=None,
) -> MemoryDatabase:
    space = refs.one(user, refs.SPACE, space_id, "database:create", field="space_id")
    project = projects.in_space(user, project_id, space.id)
    name = _check_name(name, "table_name", table=True)
    icon_uri = refs.file_uri(user, icon_uri or "", field="icon_uri", invalid=errors.MEMORY_INVALID_PARAM)
    schema, next_id = _schema([], fields, 1)
    with write_transaction():
        _check_unique(space.id, name)
        database = MemoryDatabase.create(
            space=space.id,
            creator=user.id,
            name=name,
            description=description or "",
            icon_uri=icon_uri,
            rw_mode=rw_mode,
            prompt_disabled=prompt_disabled,
            fields=schema,
            next_field_id=next_id,
            extra_info=extra_info or {},
            project_id=project,
        )
        memory_rows.create_tables(database)
    return database


def update(
    user: User,
    database_id,
    *,
    name: str | None = None,
    description: str | None = None,
    icon_uri: str | None = None,
    fields: list[FieldInput] | None = None,
    rw_mode: int | None = None,
    prompt_disabled: bool | None = None,
    extra_info: dict | None = None,
) -> MemoryDatabase:
    """Change what is given; a new field list adds and drops columns (existing fields keep their
    values, and their type)."""
    database = load(user, database_id, authz.UPDATE)
    changes: dict = {}
    if name is not None:
        changes["name"] = _check_name(name, "table_name", table=True)
    if description is not None:
        changes["description"] = description
    if icon_uri is not None:
        changes["icon_uri"] = refs.file_uri(
            user, icon_uri, field="icon_uri", current=[database.icon_uri], invalid=errors.MEMORY_INVALID_PARAM
        )
    if rw_mode is not None:
        changes["rw_mode"] = rw_mode
    if prompt_disabled is not None:
        changes["prompt_disabled"] = prompt_disabled
    if extra_info is not None:
        changes["extra_info"] = extra_info
    added, dropped = [], []
    if fields is not None:
        schema, next_id = _schema(database.fields, fields, database.next_field_id)
        kept = {f["id"] for f in schema}
        before = {f["id"] for f in database.fields}
        added = [f for f in schema if f["id"] not in before]
        dropped = [f for f in database.fields if f["id"] not in kept]
        changes.update(fields=schema, next_field_id=next_id)
    with write_transaction():
        if "name" in changes:
            _check_unique(database.space_id, changes["name"], database.id)
        if changes:
            database.touch(**changes)
        if added or dropped:
            memory_rows.alter_tables(database, added, dropped)
        _rebind(database, keep=True)
    return database


def delete(user: User, database_id) -> None:
    """The table, its rows, and its place in the drafts of the agents it is bound to."""
    database = load(user, database_id, authz.DELETE)
    with write_transaction():
        _rebind(database, keep=False)
        memory_rows.drop_tables(database)
        database.delete_instance()


def page_of_space(
    user: User,
    space_id,
    *,
    name: str | None = None,
    creator_id: int | None = None,
    bot_id=None,
    project_id=None,
    offset: int = 0,
    limit: int = 20,
    newest_first: bool = True,
) -> tuple[list[MemoryDatabase], int, int | None]:
    """(databases, total, the bot whose bindings were asked for, if any)."""
    space = refs.one(user, refs.SPACE, space_id, "database:read", field="space_id")
    project = refs.optional(user, refs.PROJECT, project_id, field="project_id")
    query = MemoryDatabase.select().where(MemoryDatabase.space == space.id)
    if project is not None:
        query = query.where(MemoryDatabase.project_id == project)
    bot = None
    if bot_id not in (None, "", "0", 0):
        bot = agents.load(user, bot_id)
        query = query.where(MemoryDatabase.id.in_([_entry_id(e) for e in _bound_entries(bot)] or [0]))
    if name:
        query = query.where(MemoryDatabase.name.contains(name))
    if creator_id is not None:
        query = query.where(MemoryDatabase.creator == creator_id)
    order = MemoryDatabase.updated_at.desc() if newest_first else MemoryDatabase.updated_at.asc()
    listed = paging.window(query.order_by(order, MemoryDatabase.id.desc()), offset, limit, total=True)
    return listed.rows, listed.total, bot


# --- binding to agents (the draft's database_list) ---------------------------------------------


def _entry_id(entry: dict) -> int | None:
    return parse_id(entry.get("table_id")) if isinstance(entry, dict) else None


def _bound_entries(bot: Bot) -> list[dict]:
    return list(bot.config.get("database_list") or [])


def _save_bound(bot: Bot, entries: list[dict]) -> None:
    config = {**bot.config, "database_list": entries}
    bot.touch(config=config, draft_version=bot.draft_version + 1)


def _rebind(database: MemoryDatabase, *, keep: bool) -> None:
    """Bring the drafts the table is bound to up to date with it (or, deleted, without it)."""
    mention = Value(f"%{database.id}%", converter=False)  # the id as text, not a JSON value
    for bot in Bot.select().where(Bot.space == database.space_id, Bot.config**mention):
        bound = _bound_entries(bot)
        if any(_entry_id(e) == database.id for e in bound):
            fresh = [
                bound_entry(database, e.get("prompt_disabled")) if _entry_id(e) == database.id else e
                for e in bound
                if keep or _entry_id(e) != database.id
            ]
            _save_bound(bot, fresh)


def bound_entry(database: MemoryDatabase, prompt_disabled: bool | None = None) -> dict:
    """How a bound table appears in an agent's settings (Coze's Database struct)."""
    return {
        "table_id": str(database.id),
        "table_name": database.name,
        "table_desc": database.description,
        "field_list": database.fields,
        "rw_mode": database.rw_mode,
        "prompt_disabled": database.prompt_disabled if prompt_disabled is None else prompt_disabled,
    }


def _bot_and_database(user: User, bot_id, database_id) -> tuple[Bot, MemoryDatabase]:
    bot = agents.load(user, bot_id, authz.UPDATE)
    database = load(user, database_id, field="database_id")
    if database.space_id != bot.space_id:
        raise errors.DATABASE_NOT_FOUND(
            f"database_id: table {database.id} is not in the space of agent {bot.id}"
        )
    return bot, database


def bind(user: User, bot_id, database_id) -> Bot:
    with write_transaction():
        bot, database = _bot_and_database(user, bot_id, database_id)
        entries = _bound_entries(bot)
        if any(_entry_id(e) == database.id for e in entries):
            raise errors.DATABASE_ALREADY_BOUND(f"table {database.id} is already bound to agent {bot.id}")
        _save_bound(bot, [*entries, bound_entry(database)])
    return bot


def unbind(user: User, bot_id, database_id) -> Bot:
    with write_transaction():
        bot, database = _bot_and_database(user, bot_id, database_id)
        entries = _bound_entries(bot)
        if not any(_entry_id(e) == database.id for e in entries):
            raise errors.DATABASE_NOT_BOUND(f"table {database.id} is not bound to agent {bot.id}")
        _save_bound(bot, [e for e in entries if _entry_id(e) != database.id])
    return bot


def set_prompt_disabled(user: User, bot_id, database_id, disabled: bool) -> Bot:
    """Whether the agent's model is told about the table (the tools stay)."""
    with write_transaction():
        bot, database = _bot_and_database(user, bot_id, database_id)
        entries = _bound_entries(bot)
        if not any(_entry_id(e) == database.id for e in entries):
            raise errors.DATABASE_NOT_BOUND(f"table {database.id} is not bound to agent {bot.id}")
        _save_bound(
            bot, [{**e, "prompt_disabled": disabled} if _entry_id(e) == database.id else e for e in entries]
        )
    return bot


def bound_to(bot: Bot, config: dict | None = None) -> list[MemoryDatabase]:
    """The tables an agent's settings name that are in its space, in the settings' order, in one
    query (a table bound elsewhere, or since deleted, is left out)."""
    ids = [
        i
        for i in (
            _entry_id(e) for e in (config if config is not None else bot.config).get("database_list") or []
        )
        if i
    ]
    if not ids:
        return []
    found = {
        d.id: d
        for d in MemoryDatabase.select().where(
            MemoryDatabase.id.in_(ids), MemoryDatabase.space == bot.space_id
        )
    }
    return [found[i] for i in dict.fromkeys(ids) if i in found]


def bound_tables(user: User, bot_id) -> tuple[Bot, list[MemoryDatabase]]:
    bot = agents.load(user, bot_id)
    return bot, bound_to(bot)


# --- rows, as the console reads and edits them -------------------------------------------------


@dataclasses.dataclass(frozen=True)
class RecordQuery:
    copy: int
    criterion: dict | None = None
    order_by: list[dict] | None = None
    limit: int = 50
    offset: int = 0
    all_end_users: bool = False
    all_connectors: bool = False


def console_scope(
    user: User, database: MemoryDatabase, *, all_end_users=False, all_connectors=False
) -> Scope:
    """In the console the caller is the end user (on the console's connector); a table of shared
    rows, or a caller who asks for everyone's, is not filtered."""
    if database.rw_mode != RW_PER_USER:
        return Scope()
    return Scope(
        connector_uid=None if all_end_users else str(user.id),
        connector_id=None if all_connectors else CONNECTOR_WEB,
    )


@dataclasses.dataclass(frozen=True)
class Context:
    """What a request says it acts for (each is checked; none of them changes which rows)."""

    bot_id: object = None
    workflow_id: object = None
    project_id: object = None


def _check_context(user: User, context: Context) -> None:
    if context.bot_id not in (None, "", "0", 0):
        refs.one(user, refs.AGENT, context.bot_id, field="bot_id")
    refs.optional(user, refs.WORKFLOW, context.workflow_id, field="workflow_id")
    refs.optional(user, refs.PROJECT, context.project_id, field="project_id")


def list_records(
    user: User, database_id, query: RecordQuery, context: Context = Context()
) -> tuple[MemoryDatabase, memory_rows.Page]:
    database = load(user, database_id, field="database_id")
    _check_context(user, context)
    scope = console_scope(
        user, database, all_end_users=query.all_end_users, all_connectors=query.all_connectors
    )
    page = memory_rows.Rows(database, query.copy).list(
        scope,
        criterion=query.criterion,
        order_by=query.order_by,
        limit=query.limit,
        offset=query.offset,
    )
    return database, page


def update_records(
    user: User,
    database_id,
    copy: int,
    *,
    add: list[dict] = (),
    alter: list[dict] = (),
    delete: list[dict] = (),
    connector_id: int | None = None,
) -> list[dict]:
    """Insert, change and delete rows at once (all or nothing). New rows are the caller's, on the
    console's connector unless another is named; space members may change any row."""
    database = load(user, database_id, authz.UPDATE, field="database_id")
    owner = Scope(str(user.id), connector_id or CONNECTOR_WEB)
    with write_transaction():
        rows = memory_rows.Rows(database, copy)
        inserted = rows.insert(owner, add, "record_data_add")
        changed = rows.update(Scope(), list(alter), "record_data_alter")
        rows.delete(Scope(), list(delete), "record_data_delete")
    return inserted + changed


def reset(
    user: User,
    named: dict,
    copy: int,
    *,
    connector_uid: str | None = None,
    connector_id=None,
    context: Context = Context(),
) -> int:
    """Empty a copy of the table, or one end user's rows of it. `named`: the table's id under
    each name the request gives it (field: id); they must agree."""
    tables = {load(user, raw, authz.UPDATE, field=field).id for field, raw in named.items()}
    if not tables:
        raise errors.MEMORY_INVALID_PARAM("database_info_id: name the table to reset (or table_id)")
    if len(tables) > 1:
        raise errors.MEMORY_INVALID_PARAM(f"{' and '.join(named)} name different tables")
    database = MemoryDatabase.by_id(tables.pop())
    _check_context(user, context)
    scope = Scope(connector_uid or None, connector_id if connector_uid else None)
    with write_transaction():
        return memory_rows.Rows(database, copy).delete_where(scope, None, "")


def row_counts(database: MemoryDatabase) -> dict[int, int]:
    """Rows held in each copy (draft, online)."""
    return {copy: memory_rows.Rows(database, copy).count() for copy in COPIES}
