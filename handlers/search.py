"""Listing and searching: the space's agents, recently edited agents, the resource library."""

from __future__ import annotations

from core.envelope import ok
from handlers.views import avatar_url
from services import files, search


def _intelligence(bot, published_at, user) -> dict:
    owner = bot.creator  # joined by the query
    return {
        "basic_info": {
            "id": str(bot.id),
            "name": bot.name,
            "description": bot.description,
            "icon_url": files.url_of(bot.icon_uri),
            "space_id": str(bot.space_id),
            "owner_id": str(bot.creator_id),
            "create_time": bot.created_at,
            "update_time": bot.updated_at,
            "status": 1,
            "publish_time": published_at or 0,
        },
        "type": search.TYPE_BOT,
        "publish_info": {"has_published": published_at is not None, "publish_time": published_at or 0},
        "permission_info": {"can_delete": bot.creator_id == user.id, "can_view": True},
        "owner_info": {"user_id": str(owner.id), "nickname": owner.name, "avatar_url": avatar_url(owner)},
        "other_info": {"bot_mode": bot.bot_mode},
    }


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
            "intelligences": [_intelligence(b, at, user) for b, at in rows],
            "total": total,
            "has_more": following is not None,
            "next_cursor_id": str(following or ""),
        }
    )


def get_recently_edit_intelligence(token_info, body=None):
    user = token_info["user"]
    rows = search.recently_edited(user, (body or {}).get("size") or 20)
    return ok({"intelligence_info_list": [_intelligence(b, at, user) for b, at in rows]})


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
    resources, following = search.library(token_info["user"], criteria)
    return ok({"resource_list": resources, "cursor": str(following or ""), "has_more": following is not None})
