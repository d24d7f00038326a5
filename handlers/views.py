"""How models appear on the wire (ids as digit strings, Coze's field names)."""
from __future__ import annotations

from models.identity import PersonalAccessToken, Space, User


def avatar_url(user: User) -> str:
    return f"/api/user/avatar/{user.avatar_key}" if user.avatar_key else ""


def user_view(user: User) -> dict:
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


def space_view(space: Space, role: int) -> dict:
    return {
        "id": str(space.id),
        "name": space.name,
        "description": space.description,
        "icon_url": space.icon_uri,
        "space_type": space.space_type,
        "role_type": role,
        "space_role_type": role,
        "owner_id": str(space.owner_id),
        "create_time": space.created_at,
    }


def pat_view(pat: PersonalAccessToken) -> dict:
    return {
        "id": str(pat.id),
        "name": pat.name,
        "created_at": pat.created_at * 1000,
        "updated_at": pat.updated_at * 1000,
        "last_used_at": pat.last_used_at,
        "expire_at": pat.expire_at,
        "expired": pat.expired,
    }
