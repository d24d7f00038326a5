"""Listings across a space: the console's intelligence list and its resource library."""

from __future__ import annotations

from core.links import url_of
from views.passport import avatar_url


def intelligence_view(bot, published_at: int | None, user, kind: int) -> dict:
    """An agent (kind 1) or a project (kind 2); `bot.creator` must be joined (services.search
    does)."""
    owner = bot.creator
    return {
        "basic_info": {
            "id": str(bot.id),
            "name": bot.name,
            "description": bot.description,
            "icon_uri": bot.icon_uri,
            "icon_url": url_of(bot.icon_uri),
            "space_id": str(bot.space_id),
            "owner_id": str(bot.creator_id),
            "create_time": bot.created_at,
            "update_time": bot.updated_at,
            "status": 1,
            "publish_time": published_at or 0,
        },
        "type": kind,
        "publish_info": {"has_published": published_at is not None, "publish_time": published_at or 0},
        "permission_info": {"can_delete": bot.creator_id == user.id, "can_view": True},
        "owner_info": {"user_id": str(owner.id), "nickname": owner.name, "avatar_url": avatar_url(owner)},
        "other_info": {"bot_mode": bot.bot_mode} if kind == 1 else {},
    }


def prompt_resource_view(prompt, user, res_type: int) -> dict:
    """`prompt.creator` must be joined (services.search does)."""
    mine = prompt.creator_id == user.id
    return {
        "res_id": str(prompt.id),
        "res_type": res_type,
        "res_sub_type": 0,
        "name": prompt.name,
        "desc": prompt.description,
        "icon": "",
        "creator_id": str(prompt.creator_id),
        "creator_name": prompt.creator.name,
        "publish_status": 2,
        "biz_res_status": 0,
        "edit_time": prompt.updated_at,
        "space_id": str(prompt.space_id),
        "actions": [{"key": 1, "enable": True}, {"key": 2, "enable": mine}, {"key": 4, "enable": True}],
    }
