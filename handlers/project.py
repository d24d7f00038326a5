"""Projects (Coze's apps: /api/intelligence_api/draft_project/*)."""

from __future__ import annotations

from core.envelope import ok
from services import projects, search
from views.project import AUDIT_PASSED
from views.search import intelligence_view


def draft_project_create(token_info, body):
    project = projects.create(
        token_info["user"],
        body["space_id"],
        body["name"],
        body.get("description") or "",
        body.get("icon_uri") or "",
    )
    return ok({"project_id": str(project.id), "audit_data": AUDIT_PASSED})


def draft_project_update(token_info, body):
    projects.update(
        token_info["user"],
        body["project_id"],
        name=body.get("name"),
        description=body.get("description"),
        icon_uri=body.get("icon_uri"),
    )
    return ok({"audit_data": AUDIT_PASSED})


def draft_project_delete(token_info, body):
    projects.delete(token_info["user"], body["project_id"])
    return ok()


def get_draft_intelligence_info(token_info, body):
    user, kind = token_info["user"], body.get("intelligence_type") or search.TYPE_APP
    row, published = search.intelligence(user, body["intelligence_id"], kind)
    view = intelligence_view(row, published, user, kind)
    return ok(
        {"intelligence_type": kind, **{k: view[k] for k in ("basic_info", "publish_info", "owner_info")}}
    )
