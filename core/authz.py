"""The one place that decides whether a user may act on a space's resources.

Every handler that touches a space-owned resource calls `require_space`. Non-members get
"space not found" rather than "forbidden", so ids of other people's spaces reveal nothing.
Later issues extend ACTION_ROLES with custom roles.
"""
from __future__ import annotations

from core import errors
from core.ids import parse_id
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


def require_super_admin(user: User) -> None:
    if not user.is_super_admin:
        raise errors.PERMISSION_DENIED("this operation is for administrators")


def load_space_resource(model, resource_id, user: User, action: str, not_found: errors.ErrorCode,
                        label: str, space_of=lambda row: row.space_id):
    """A space-owned row the caller may act on (`space_of` finds the space of rows that belong
    to it through a parent). Rows of spaces the caller is not in are simply not found, with the
    resource's own code, so their ids reveal nothing."""
    number = parse_id(resource_id)
    row = model.by_id(number) if number is not None else None
    if row is None:
        raise not_found(f"{label} {resource_id} not found")
    try:
        require_space(user, space_of(row), action)
    except errors.ApiError as exc:
        if exc.error is errors.SPACE_NOT_FOUND:
            raise not_found(f"{label} {resource_id} not found")
        raise
    return row
