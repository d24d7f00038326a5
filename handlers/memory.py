"""Memory: user-defined databases (/api/memory/database/*) and their rows, and agents' variables
(/api/memory/variable/*, /v1/variables)."""

from __future__ import annotations

from connexion.lifecycle import ConnexionResponse

from core import authz
from core.envelope import SUCCESS_MSG, ok
from core.ids import parse_id
from models.agent import CONNECTOR_API
from models.conversation import CONNECTOR_WEB
from models.memory import DRAFT, RW_PER_USER
from services import memory, memory_imports, projects, refs, variables
from views.memory import (
    database_view,
    field_view,
    import_view,
    open_variable_view,
    project_variables_view,
    system_field_views,
    variable_memory_view,
    variable_meta_view,
)


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


# --- variables ---------------------------------------------------------------------------------


def _console_holder(user, body: dict) -> variables.Holder:
    """In the console the caller holds the values, on its connector unless another is named."""
    return variables.Holder(str(user.id), parse_id(body.get("connector_id")) or CONNECTOR_WEB)


def _owner(body: dict) -> variables.Owner:
    return variables.Owner(bot_id=body.get("bot_id"), project_id=body.get("project_id"))


def get_variable_meta(token_info, body):
    project = body["ConnectorID"] if body.get("ConnectorType") == 2 else None
    owner = variables.Owner(
        bot_id=None if project else body["ConnectorID"],
        project_id=project,
        bot_field="ConnectorID",
        project_field="ConnectorID",
    )
    found = variables.meta(token_info["user"], owner)
    own = "5" if project else "1"
    by_channel = {
        own: [variable_meta_view(d) for d in found if not d.get("is_system")],
        "2": [variable_meta_view(d) for d in found if d.get("is_system")],
    }
    return ok({"VariableMap": by_channel})


def get_system_variables(token_info):
    return ok({"conf": [{"key": key, "description": about} for key, about in variables.SYSTEM.items()]})


def get_variable_values(token_info, body):
    user = token_info["user"]
    found = variables.values_for(user, _owner(body), _console_holder(user, body), body.get("keywords"))
    return ok({"memories": [variable_memory_view(v) for v in found]})


def set_variable_values(token_info, body):
    user = token_info["user"]
    data = [(item["keyword"], item.get("value") or "") for item in body["data"]]
    variables.assign(user, _owner(body), _console_holder(user, body), data)
    return ok()


def delete_variable_values(token_info, body):
    user = token_info["user"]
    variables.forget(user, _owner(body), _console_holder(user, body), body.get("keywords"))
    return ok()


def _open_holder(connector_uid: str, connector_id) -> variables.Holder:
    return variables.Holder(connector_uid, parse_id(connector_id) or CONNECTOR_API)


def open_get_variables(token_info, connector_uid, bot_id=None, app_id=None, connector_id=None, keywords=None):
    owner = variables.Owner(bot_id=bot_id, project_id=app_id, project_field="app_id")
    wanted = [k.strip() for k in (keywords or "").split(",") if k.strip()]
    found = variables.values_for(token_info["user"], owner, _open_holder(connector_uid, connector_id), wanted)
    return ok({"items": [open_variable_view(v) for v in found]})


def open_set_variables(token_info, body):
    owner = variables.Owner(bot_id=body.get("bot_id"), project_id=body.get("app_id"), project_field="app_id")
    data = [(item["keyword"], item.get("value") or "") for item in body["data"]]
    holder = _open_holder(body["connector_uid"], body.get("connector_id"))
    variables.assign(token_info["user"], owner, holder, data, authz.UPDATE)
    return ok()


# --- import and export -------------------------------------------------------------------------


def get_table_schema(token_info, body):
    found = memory_imports.table_schema(
        token_info["user"], body["source_file"]["tos_uri"], body.get("table_sheet")
    )
    wanted = body.get("table_data_type", 0)
    return ok(
        {
            "file_name": found["file_name"],
            "table_meta": found["columns"] if wanted != 2 else [],
            "preview_data": found["preview"] if wanted != 1 else [],
            "total_rows": found["total_rows"],
        }
    )


def validate_table_schema(token_info, body):
    user = token_info["user"]
    if body.get("space_id") not in (None, "", "0", 0):
        refs.one(user, refs.SPACE, body["space_id"], field="space_id")
    problems = memory_imports.check_schema(
        user, body["database_id"], body["source_file"]["tos_uri"], body.get("table_sheet")
    )
    return ok({"schema_valid_result": problems})


def submit_table_import(token_info, body):
    job = memory_imports.submit(
        token_info["user"],
        body["database_id"],
        body.get("table_type") or DRAFT,
        body["file_uri"],
        body.get("table_sheet"),
        body.get("connector_id"),
    )
    return ok({"import_id": str(job.id)})


def get_import_progress(token_info, body):
    job = memory_imports.progress(token_info["user"], body["database_id"], body.get("table_type") or DRAFT)
    return ok(import_view(job))


def export_database(token_info, database_id, table_type=DRAFT):
    name, content = memory_imports.export_csv(token_info["user"], database_id, table_type)
    return ConnexionResponse(
        status_code=200,
        body=content,
        mimetype="text/csv",
        content_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"},
    )


# --- project variables ---------------------------------------------------------------------------


def get_project_variables(token_info, ProjectID, UserID=None, version=None):  # noqa: N803 (Coze's names)
    definitions, can_edit = projects.variables_of(token_info["user"], ProjectID)
    return {"code": 0, "msg": SUCCESS_MSG, **project_variables_view(definitions, can_edit)}


def update_project_variables(token_info, body):
    projects.set_variables(token_info["user"], body["ProjectID"], body["VariableList"])
    return {"code": 0, "msg": SUCCESS_MSG}
