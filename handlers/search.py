"""Listing and searching: the space's agents, recently edited agents, the resource library."""

from __future__ import annotations

from core.envelope import ok
from services import search
from views.search import intelligence_view, prompt_resource_view


def get_draft_intelligence_list(token_info, body):
    user = token_info["user"]
    criteria = search.AgentQuery(
        space_id=body["space_id"],
        types=tuple(body.get("types") or (search.TYPE_BOT,)),
        name=body.get("name") or "",
        mine_only=body.get("search_scope") == 1,
        published=body.get("has_published"),
        order=body.get("order_by", 0),
        cursor=body.get("cursor_id"),
        size=body.get("size") or 20,
    )
    rows, total, following = search.intelligences(user, criteria)
    return ok(
        {
            "intelligences": [intelligence_view(row, at, user, kind) for row, at, kind in rows],
            "total": total,
            "has_more": following is not None,
            "next_cursor_id": str(following or ""),
        }
    )


def get_recently_edit_intelligence(token_info, body=None):
    user = token_info["user"]
    rows = search.recently_edited(user, (body or {}).get("size") or 20)
    return ok({"intelligence_info_list": [intelligence_view(b, at, user, search.TYPE_BOT) for b, at in rows]})


def library_resource_list(token_info, body):
    criteria = search.LibraryQuery(
        space_id=body["space_id"],
        types=tuple(body.get("res_type_filter") or (search.RES_PROMPT,)),
        keyword=body.get("name") or " ".join(body.get("search_keys") or []),
        mine_only=body.get("user_filter") == 1,
        unpublished_only=body.get("publish_status_filter") == 1,
        cursor=body.get("cursor"),
        size=body.get("size") or 20,
    )
    user = token_info["user"]
    rows, following = search.library(user, criteria)
    resources = [prompt_resource_view(p, user, search.RES_PROMPT) for p in rows]
    return ok({"resource_list": resources, "cursor": str(following or ""), "has_more": following is not None})
