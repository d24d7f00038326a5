"""The one place that decides whether a user may act on a space's resources.

Rows a request names are loaded through services/refs, which asks `require_space` for space-owned
ones. Non-members get "space not found" rather than "forbidden", so ids of other people's spaces
reveal nothing. Later issues extend ACTION_ROLES with custom roles.
"""

from __future__ import annotations

from core import errors
from models.identity import ROLE_ADMIN, ROLE_MEMBER, ROLE_OWNER, Space, SpaceMember, User

READ = "read"
WRITE = "write"
MANAGE = "manage"

ACTION_ROLES = {
    READ: {ROLE_OWNER, ROLE_ADMIN, ROLE_MEMBER},
    WRITE: {ROLE_OWNER, ROLE_ADMIN, ROLE_MEMBER},
    MANAGE: {ROLE_OWNER, ROLE_ADMIN},
}


def require_space(user: User, space_id: int, action: str = READ) -> int:
    """Return the caller's role in the space, or raise."""
    role = SpaceMember.role_of(space_id, user.id)
    if role is None:
        if user.is_super_admin and Space.get_or_none(Space.id == space_id) is not None:
            return ROLE_ADMIN
        raise errors.SPACE_NOT_FOUND(f"space {space_id} not found")
    if role not in ACTION_ROLES[action]:
        raise errors.PERMISSION_DENIED(f"your role in space {space_id} does not allow {action}")
    return role


def may(user: User, space_id: int, action: str) -> bool:
    try:
        require_space(user, space_id, action)
    except errors.ApiError:
        return False
    return True


def require_super_admin(user: User) -> None:
    if not user.is_super_admin:
        raise errors.PERMISSION_DENIED("this operation is for administrators")
