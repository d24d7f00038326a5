"""Users as the console and the passport routes show them."""

from __future__ import annotations


def avatar_url(user) -> str:
    return f"/api/user/avatar/{user.avatar_key}" if user.avatar_key else ""


def creator_view(user, caller_id: int) -> dict:
    """Who made a plugin or a workflow, as Coze's Creator struct shows them."""
    return {
        "id": str(user.id),
        "name": user.name,
        "avatar_url": avatar_url(user),
        "self": user.id == caller_id,
    }


def user_view(user) -> dict:
    return {
        "user_id_str": str(user.id),
        "name": user.name,
        "user_unique_name": user.unique_name or "",
        "email": user.email,
        "description": user.description,
        "avatar_url": avatar_url(user),
        "screen_name": user.name,
        "app_user_info": {"user_unique_name": user.unique_name or ""},
        "locale": user.locale,
        "user_create_time": user.created_at,
        "is_super_admin": user.is_super_admin,
    }


def open_user_view(user) -> dict:
    """/v1/users/me."""
    return {
        "user_id": str(user.id),
        "user_name": user.unique_name or user.email,
        "nick_name": user.name,
        "avatar_url": avatar_url(user),
    }


def user_brief(user) -> dict:
    """The short form lists embed (an agent's copier, an owner)."""
    return {"user_id": str(user.id), "name": user.name, "avatar_url": avatar_url(user)}
