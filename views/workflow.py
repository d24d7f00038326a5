"""Workflows as the wire shows them (Coze's Workflow struct)."""

from __future__ import annotations

from core.links import url_of
from views.passport import creator_view

NEVER_PUBLISHED, PUBLISHED = 1, 3  # Coze's publish status


def workflow_view(workflow, creator, caller_id: int, published: bool, *, with_schema: bool = False) -> dict:
    view = {
        "workflow_id": str(workflow.id),
        "name": workflow.name,
        "desc": workflow.description,
        "url": url_of(workflow.icon_uri),
        "icon_uri": workflow.icon_uri,
        "status": PUBLISHED if published else NEVER_PUBLISHED,
        "type": 0,
        "plugin_id": "0",
        "create_time": workflow.created_at,
        "update_time": workflow.updated_at,
        "space_id": str(workflow.space_id),
        "project_id": str(workflow.project_id or 0),
        "flow_mode": workflow.flow_mode,
        "creator": creator_view(creator, caller_id),
    }
    if with_schema:
        view["schema_json"] = workflow.schema_json
    return view
