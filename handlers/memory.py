"""Memory: user-defined databases (/api/memory/database/*) and their rows."""

from __future__ import annotations

from core.envelope import SUCCESS_MSG, ok
from core.ids import parse_id
from models.memory import DRAFT, RW_PER_USER
from services import memory
from views.memory import database_view, field_view, system_field_views


def _fields(items: list[dict]) -> list[memory.FieldInput]:
    """The field list as the console sends it (system fields it echoes back are left out)."""
    return [
        memory.FieldInput(
            name=item["name"],
            type=item["type"],
            description=item.get("desc") or "",
            required=bool(item.get("must_required")),
            id=item.get("id") or item.get("alterId") or None,
        )
        for item in items
        if not item.get("is_system_field")
    ]


def _result(database, **view) -> dict:
    return ok({"database_info": database_view(database, **view)})


def add_database(token_info, body):
    database = memory.create(
        token_info["user"],
        body["space_id"],
        body["table_name"],
        _fields(body["field_list"]),
        description=body.get("table_desc") or "",
        icon_uri=body.get("icon_uri") or "",
        rw_mode=body.get("rw_mode") or RW_PER_USER,
        prompt_disabled=bool(body.get("prompt_disabled")),
        extra_info=body.get("extra_info"),
        project_id=body.get("project_id"),
    )
    return _result(database)


def update_database(token_info, body):
    fields = body.get("field_list")
    database = memory.update(
        token_info["user"],
        body["id"],
        name=body.get("table_name"),
        description=body.get("table_desc"),
        icon_uri=body.get("icon_uri"),
        fields=_fields(fields) if fields is not None else None,
        rw_mode=body.get("rw_mode"),
        prompt_disabled=body.get("prompt_disabled"),
        extra_info=body.get("extra_info"),
    )
    return _result(database)


def delete_database(token_info, body):
    memory.delete(token_info["user"], body["id"])
    return ok()


def get_database(token_info, body):
    database = memory.load(token_info["user"], body["id"])
    return _result(
        database, row_counts=memory.row_counts(database), system_fields=bool(body.get("need_sys_fields"))
    )


def list_databases(token_info, body):
    offset, limit = body.get("offset", 0), body.get("limit", 20)
    order = (body.get("order_by") or [{}])[0]
    rows, total, bot = memory.page_of_space(
        token_info["user"],
        body["space_id"],
        name=body.get("table_name") or None,
        creator_id=parse_id(body.get("creator_id")),
        bot_id=body.get("bot_id"),
        project_id=body.get("project_id"),
        offset=offset,
        limit=limit,
        newest_first=order.get("direction", 2) != 1,
    )
    bound = {"bound": True, "bot_id": bot.id} if bot is not None else {}
    return ok(
        {
            "database_info_list": [database_view(d, **bound) for d in rows],
            "has_more": offset + len(rows) < total,
            "total_count": total,
        }
    )


def bind_database(token_info, body):
    memory.bind(token_info["user"], body["bot_id"], body["database_id"])
    return ok()


def unbind_database(token_info, body):
    memory.unbind(token_info["user"], body["bot_id"], body["database_id"])
    return ok()


def update_database_bot_switch(token_info, body):
    memory.set_prompt_disabled(
        token_info["user"], body["bot_id"], body["database_id"], body["prompt_disable"]
    )
    return ok()


def list_bot_tables(token_info, body):
    bot, tables = memory.bound_tables(token_info["user"], body["bot_id"])
    return ok({"bot_table_list": [database_view(d, bound=True, bot_id=bot.id) for d in tables]})


def get_online_database_id(token_info, body):
    return ok({"id": str(memory.load(token_info["user"], body["id"]).id)})


def _context(body: dict) -> memory.Context:
    return memory.Context(body.get("bot_id"), body.get("workflow_id"), body.get("project_id"))


# --- rows --------------------------------------------------------------------------------------


def list_database_records(token_info, body):
    query = memory.RecordQuery(
        copy=body.get("table_type") or DRAFT,
        criterion=body.get("filter_criterion"),
        order_by=body.get("order_by_list"),
        limit=body.get("limit", 50),
        offset=body.get("offset", 0),
        all_end_users=bool(body.get("not_filter_by_user_id")),
        all_connectors=bool(body.get("not_filter_by_connector_id")),
    )
    database, page = memory.list_records(token_info["user"], body["database_id"], query, _context(body))
    return {
        "code": 0,
        "msg": SUCCESS_MSG,
        "data": page.rows,
        "HasMore": page.has_more,
        "TotalNum": page.total,
        "field_list": [field_view(f) for f in database.fields] + system_field_views(),
    }


def update_database_records(token_info, body):
    rows = memory.update_records(
        token_info["user"],
        body["database_id"],
        body.get("table_type") or DRAFT,
        add=body.get("record_data_add") or [],
        alter=body.get("record_data_alter") or [],
        delete=body.get("record_data_delete") or [],
        connector_id=parse_id(body.get("ori_connector_id")),
    )
    return ok(rows)


def reset_database_table(token_info, body):
    named = {key: body[key] for key in ("database_info_id", "table_id") if body.get(key) not in (None, "")}
    memory.reset(
        token_info["user"],
        named,
        body["table_type"],
        connector_uid=body.get("connector_uid") or None,
        connector_id=parse_id(body.get("connector_id")),
        context=_context(body),
    )
    return ok()
