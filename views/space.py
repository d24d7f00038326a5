"""Spaces (workspaces) with the caller's role in each: the console's and the Open API's shapes."""

from __future__ import annotations

from views.passport import avatar_url

ROLE_NAMES = {1: "owner", 2: "admin", 3: "member"}


def space_view(space, role: int) -> dict:
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


def workspace_view(space) -> dict:
    """/v1/workspaces: `space.role` is the caller's, selected with the space (Space.for_member)."""
    return {
        "id": str(space.id),
        "name": space.name,
        "icon_url": space.icon_uri,
        "role_type": ROLE_NAMES.get(space.role, "member"),
        "workspace_type": "personal" if space.personal else "team",
        "enterprise_id": "",
    }


def member_view(membership) -> dict:
    """A member with their user (selected with the membership)."""
    user = membership.user
    return {
        "user_id": str(user.id),
        "name": user.name,
        "unique_name": user.unique_name or "",
        "avatar_url": avatar_url(user),
        "role_type": membership.role,
        "joined_at": membership.created_at,
    }
