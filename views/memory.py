"""Memory: user-defined databases (Coze's DatabaseInfo and FieldItem). Rows need no view: they
are already records (field name to string value) as services/memory_rows reads them."""

from __future__ import annotations

from core.links import url_of

SYSTEM_FIELDS = (  # name, type, description
    ("bstudio_id", 2, "The row's id"),
    ("bstudio_create_time", 3, "When the row was added"),
    ("bstudio_connector_uid", 1, "The end user the row belongs to"),
    ("bstudio_connector_id", 2, "The connector the row came through"),
)


def field_view(field: dict) -> dict:
    return {
        "name": field["name"],
        "desc": field.get("desc", ""),
        "type": field["type"],
        "must_required": bool(field.get("must_required")),
        "id": field["id"],
        "alterId": field["id"],
        "is_system_field": False,
    }


def system_field_views() -> list[dict]:
    return [
        {
            "name": n,
            "desc": d,
            "type": t,
            "must_required": False,
            "id": 0,
            "alterId": 0,
            "is_system_field": True,
        }
        for n, t, d in SYSTEM_FIELDS
    ]


def database_view(
    database,
    *,
    bound: bool = False,
    bot_id: int | None = None,
    row_counts: dict | None = None,
    system_fields: bool = False,
) -> dict:
    """`bound`: whether the agent the request named (`bot_id`) has it; `row_counts`: rows per copy
    ({1: draft, 2: online}), when they were counted."""
    fields = [field_view(f) for f in database.fields] + (system_field_views() if system_fields else [])
    view = {
        "id": str(database.id),
        "space_id": str(database.space_id),
        "project_id": str(database.project_id or 0),
        "icon_uri": database.icon_uri,
        "icon_url": url_of(database.icon_uri),
        "table_name": database.name,
        "table_desc": database.description,
        "status": 1,
        "creator_id": str(database.creator_id),
        "create_time": database.created_at,
        "update_time": database.updated_at,
        "field_list": fields,
        "actual_table_name": database.table_name(1),
        "rw_mode": database.rw_mode,
        "prompt_disabled": database.prompt_disabled,
        "is_visible": True,
        "draft_id": str(database.id),
        "extra_info": {k: str(v) for k, v in (database.extra_info or {}).items()},
        "is_added_to_bot": bound,
    }
    if bot_id is not None:
        view["bot_id"] = str(bot_id)
    if row_counts is not None:
        view["draft_row_count"], view["online_row_count"] = row_counts[1], row_counts[2]
    return view


def open_variable_view(value) -> dict:
    """A value as /v1/variables lists it (`value`: services.variables.Value)."""
    return {
        "keyword": value.keyword,
        "value": value.value,
        "create_time": value.create_time,
        "update_time": value.update_time,
    }


def variable_memory_view(value) -> dict:
    """A value as /api/memory/variable/get lists it: the Open API's, with what the console shows."""
    return {
        **open_variable_view(value),
        "is_system": value.is_system,
        "prompt_disabled": value.prompt_disabled,
        "schema": "",
    }


def variable_meta_view(definition: dict) -> dict:
    """A definition in Coze's PascalCase Variable shape."""
    system = bool(definition.get("is_system"))
    return {
        "Keyword": definition["key"],
        "DefaultValue": str(definition.get("default_value") or ""),
        "VariableType": definition.get("variable_type") or 1,
        "Channel": definition.get("channel") or (2 if system else 1),
        "Description": definition.get("description") or "",
        "Enable": not definition.get("is_disabled"),
        "EffectiveChannelList": list(definition.get("effective_channels") or []),
        "Schema": definition.get("schema") or "",
        "IsReadOnly": system or bool(definition.get("read_only")),
    }


CHANNEL_SYSTEM, CHANNEL_APP = 2, 5
_PROJECT_GROUPS = [  # (name, description, read only, channel): how the console groups them
    ("App variables", "The project's own: each end user holds a value", False, CHANNEL_APP),
    ("System variables", "Set by the platform; read only", True, CHANNEL_SYSTEM),
]


def project_variables_view(definitions: list[dict], can_edit: bool) -> dict:
    found = [variable_meta_view(d) for d in definitions]
    groups = [
        {
            "GroupName": name,
            "GroupDesc": about,
            "GroupExtDesc": "",
            "VarInfoList": [v for v in found if (v["Channel"] == CHANNEL_SYSTEM) == read_only],
            "SubGroupList": [],
            "IsReadOnly": read_only,
            "DefaultChannel": channel,
        }
        for name, about, read_only, channel in _PROJECT_GROUPS
    ]
    return {"VariableList": found, "CanEdit": can_edit, "GroupConf": groups}


def import_view(job) -> dict:
    """An import into a database (`job`: models.memory.MemoryImport)."""
    return {
        "file_name": job.file_name,
        "progress": job.progress,
        "status": job.status,
        "status_descript": job.status_reason,
        "total_rows": job.total_rows,
        "inserted_rows": job.inserted_rows,
        "rejected_count": job.rejected_count,
        "rejected_rows": job.rejected,
    }
