"""Agents using their bound databases in chat: four tools (query, insert, update, delete) whose
arguments are a structured query (a table the agent has, field names, operators and values), never
SQL. They reach only the agent's own tables (bound in the settings the run uses, and in its space),
the draft copy in the playground and the online copy for a published agent, and in a table with
`rw_mode` 1 only the current end user's rows."""

from __future__ import annotations

import json

from core import errors
from models.agent import Bot
from models.conversation import CONNECTOR_WEB
from models.db import run_db, write_transaction
from models.memory import DRAFT, ONLINE, RW_PER_USER, RW_READ_ONLY, MemoryDatabase
from services import memory, memory_rows, tools
from services.memory_rows import OPERATIONS, TYPE_NAMES, Scope

QUERY, INSERT, UPDATE, DELETE = (
    "query_database",
    "insert_database_rows",
    "update_database_rows",
    "delete_database_rows",
)
MAX_QUERY_ROWS = 50
MAX_INSERT_ROWS = 20
_COMPACT = {"separators": (",", ":"), "ensure_ascii": False}


def _usable(config: dict) -> list[dict]:
    """The bound tables the model may use (those with prompt_disabled are hidden from it)."""
    return [
        e for e in config.get("database_list") or [] if isinstance(e, dict) and not e.get("prompt_disabled")
    ]


def _schema_text(entries: list[dict]) -> str:
    lines = []
    for entry in entries:
        fields = ", ".join(
            f"{f.get('name')} ({TYPE_NAMES.get(f.get('type'), 'text')}"
            + (", required" if f.get("must_required") else "")
            + (f": {f.get('desc')}" if f.get("desc") else "")
            + ")"
            for f in entry.get("field_list") or []
        )
        about = f" ({entry.get('table_desc')})" if entry.get("table_desc") else ""
        lines.append(f"- {entry.get('table_name')}{about}: {fields}")
    return "\n".join(lines)


_WHERE = {
    "type": "array",
    "description": "Conditions on fields (all must hold unless logic is or); none: every row.",
    "items": {
        "type": "object",
        "required": ["field", "op"],
        "properties": {
            "field": {"type": "string"},
            "op": {"type": "string", "enum": list(OPERATIONS)},
            "value": {
                "description": "A string; a list of strings for in and not in; none for is null.",
                "anyOf": [{"type": "string"}, {"type": "number"}, {"type": "boolean"}, {"type": "array"}],
            },
        },
    },
}


def _criterion(arguments: dict) -> dict | None:
    """A tool's where/logic as Coze's ComplexCondition (checked field by field by memory_rows)."""
    where = arguments.get("where") or []
    if not isinstance(where, list):
        raise errors.DATABASE_FILTER_INVALID("where: must be a list of conditions")
    conditions = []
    for index, item in enumerate(where):
        if not isinstance(item, dict) or str(item.get("op", "")).lower() not in OPERATIONS:
            raise errors.DATABASE_FILTER_INVALID(f"where[{index}].op: must be one of {', '.join(OPERATIONS)}")
        value = item.get("value")
        right = json.dumps([str(v) for v in value]) if isinstance(value, list) else value
        if isinstance(right, bool):
            right = "true" if right else "false"
        conditions.append(
            {"left": item.get("field"), "operation": OPERATIONS[str(item["op"]).lower()], "right": right}
        )
    logic = str(arguments.get("logic") or "and").upper()
    return {"conditions": conditions, "logic": logic} if conditions else None


def _table(config: dict, bot: Bot, name) -> MemoryDatabase:
    usable = {str(e.get("table_name", "")).lower() for e in _usable(config)}
    for database in memory.bound_to(bot, config):
        if database.name.lower() == str(name or "").lower() and database.name.lower() in usable:
            return database
    raise errors.DATABASE_NOT_FOUND(f"table: the agent has no table named {str(name)[:64]!r}")


def _scope(database: MemoryDatabase, context: tools.ToolContext) -> Scope:
    if database.rw_mode != RW_PER_USER:
        return Scope()
    end_user = context.end_user or str(context.user_id)  # in the console, the developer
    return Scope(end_user, context.connector_id or CONNECTOR_WEB)


def _writable(database: MemoryDatabase) -> None:
    if database.rw_mode == RW_READ_ONLY:
        raise errors.DATABASE_READ_ONLY(f"table {database.name} is read-only for end users")


def _run(config: dict, name: str, arguments: dict, context: tools.ToolContext) -> str:
    bot = Bot.by_id(context.bot_id)
    database = _table(config, bot, arguments.get("table"))
    rows = memory_rows.Rows(database, DRAFT if context.draft else ONLINE)
    scope = _scope(database, context)
    if name == QUERY:
        order = [
            {"field": o.get("field"), "direction": 2 if o.get("descending") else 1}
            for o in arguments.get("order_by") or []
            if isinstance(o, dict)
        ]
        limit = max(1, min(int(arguments.get("limit") or 20), MAX_QUERY_ROWS))
        page = rows.list(scope, criterion=_criterion(arguments), order_by=order, limit=limit, where="where")
        return json.dumps({"rows": page.rows, "total": page.total}, **_COMPACT)
    _writable(database)
    owner = Scope(scope.connector_uid or context.end_user or str(context.user_id), context.connector_id)
    with write_transaction():
        if name == INSERT:
            records = arguments.get("rows") or []
            if not isinstance(records, list) or not 1 <= len(records) <= MAX_INSERT_ROWS:
                raise errors.DATABASE_VALUE_INVALID(f"rows: give 1 to {MAX_INSERT_ROWS} rows")
            added = rows.insert(owner, records, "rows")
            return json.dumps({"inserted": len(added), "ids": [r["bstudio_id"] for r in added]}, **_COMPACT)
        if name == UPDATE:
            values = arguments.get("values") or {}
            if not isinstance(values, dict) or not values:
                raise errors.DATABASE_VALUE_INVALID("values: give the fields to change and their new values")
            return json.dumps(
                {"updated": rows.update_where(scope, _criterion(arguments), values, "arguments")}
            )
        return json.dumps({"deleted": rows.delete_where(scope, _criterion(arguments), "where")})


_ROWS = {"type": "array", "items": {"type": "object", "additionalProperties": {"type": "string"}}}
_ORDER = {
    "type": "array",
    "items": {
        "type": "object",
        "properties": {"field": {"type": "string"}, "descending": {"type": "boolean"}},
    },
}


def _tool_provider(config: dict) -> list[tools.Tool]:
    entries = _usable(config)
    if not entries:
        return []
    schema = _schema_text(entries)
    table = {
        "type": "string",
        "enum": [e.get("table_name", "") for e in entries],
        "description": "The table.",
    }
    where = {"where": _WHERE, "logic": {"type": "string", "enum": ["and", "or"]}}

    def tool(name: str, about: str, required: list[str], properties: dict) -> tools.Tool:
        async def run(arguments: dict, context: tools.ToolContext) -> str:
            return await run_db(_run, config, name, arguments, context)

        parameters = {
            "type": "object",
            "required": ["table", *required],
            "properties": {"table": table, **properties},
        }
        return tools.Tool(name=name, run=run, description=f"{about} Tables:\n{schema}", parameters=parameters)

    limit = {"type": "integer", "minimum": 1, "maximum": MAX_QUERY_ROWS}
    values = {"type": "object", "additionalProperties": {"type": "string"}}
    return [
        tool(
            QUERY,
            "Read rows of the agent's tables (values are strings).",
            [],
            {**where, "order_by": _ORDER, "limit": limit},
        ),
        tool(
            INSERT,
            "Add rows to one of the agent's tables.",
            ["rows"],
            {"rows": {**_ROWS, "maxItems": MAX_INSERT_ROWS}},
        ),
        tool(UPDATE, "Change fields of the rows that match.", ["values"], {**where, "values": values}),
        tool(DELETE, "Delete the rows that match.", [], where),
    ]


tools.register_provider(_tool_provider)
