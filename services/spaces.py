"""Team spaces and their members: who owns a space, who administers it, who works in it.

What each role may do is core.authz's permission matrix (docs/permissions.md): by default the
owner everything, admins the space's settings and its members (not other admins), members its
resources; deleting and transferring a space is `workspace:delete`, admins and roles
`workspace:manage`. A personal space has its owner alone. Roles are read on every request
(core.authz), so a change, or a removal, applies at once."""

from __future__ import annotations

from core import authz, errors
from core.ids import parse_id
from models import paging
from models.db import write_transaction
from models.identity import ROLE_ADMIN, ROLE_MEMBER, ROLE_OWNER, SPACE_TEAM, Space, SpaceMember, User
from services import accounts, refs


def _team(space: Space, doing: str) -> None:
    if space.personal:
        raise errors.SPACE_PERSONAL(f"space {space.id} is a personal space: it cannot be {doing}")


def _membership(space: Space, user_id: int, field: str) -> SpaceMember:
    found = SpaceMember.get_or_none(space=space.id, user=user_id)
    if found is None:
        raise errors.PERMISSION_INVALID_PARAM(f"{field}: user {user_id} is not a member of space {space.id}")
    return found


def create(user: User, name: str, description: str = "", icon_uri: str = "") -> Space:
    icon = refs.file_uri(user, icon_uri, field="icon_uri", invalid=errors.PERMISSION_INVALID_PARAM)
    with write_transaction():
        space = Space.create(
            name=name.strip() or "Team",
            description=description or "",
            icon_uri=icon,
            space_type=SPACE_TEAM,
            owner=user.id,
        )
        SpaceMember.create(space=space.id, user=user.id, role=ROLE_OWNER)
    return space


def update(user: User, space_id, *, name=None, description=None, icon_uri=None) -> Space:
    space = refs.one(user, refs.SPACE, space_id, authz.UPDATE, field="space_id")
    changes: dict = {}
    if name is not None:
        if not name.strip():
            raise errors.PERMISSION_INVALID_PARAM("name: must not be blank")
        changes["name"] = name.strip()
    if description is not None:
        changes["description"] = description
    if icon_uri is not None:
        changes["icon_uri"] = refs.file_uri(
            user, icon_uri, field="icon_uri", current=space.icon_uri, invalid=errors.PERMISSION_INVALID_PARAM
        )
    return space.touch(**changes) if changes else space


def delete(user: User, space_id) -> None:
    space = refs.one(user, refs.SPACE, space_id, authz.DELETE, field="space_id")
    _team(space, "deleted")
    with write_transaction():
        space.delete_instance()  # its resources go with it (foreign keys cascade)


def add_members(user: User, space_id, user_ids: list, role: int = ROLE_MEMBER) -> tuple[list[str], list[str]]:
    """(the users added, the ones already members)."""
    space = refs.one(user, refs.SPACE, space_id, "member:create", field="space_id")
    _team(space, "shared")
    if role == ROLE_ADMIN:
        authz.require_space(user, space.id, authz.MANAGE_SPACE)
    users = [accounts.named(raw, f"user_ids[{i}]", enabled=True) for i, raw in enumerate(user_ids)]
    added, already = [], []
    with write_transaction():
        for member in dict.fromkeys(users):
            if SpaceMember.role_of(space.id, member.id) is not None:
                already.append(str(member.id))
                continue
            SpaceMember.create(space=space.id, user=member.id, role=role)
            added.append(str(member.id))
    return added, already


def remove_member(user: User, space_id, user_id) -> None:
    space = refs.one(user, refs.SPACE, space_id, field="space_id")
    target = _membership(space, parse_id(user_id) or 0, "user_id")
    if target.role == ROLE_OWNER:
        raise errors.SPACE_OWNER_FIXED(f"user_id: {target.user_id} owns space {space.id}; transfer it first")
    if target.user_id != user.id:  # anyone may leave; removing others is for admins and the owner
        authz.require_space(user, space.id, "member:delete")
        if target.role == ROLE_ADMIN:
            authz.require_space(user, space.id, authz.MANAGE_SPACE)
    with write_transaction():
        target.delete_instance()


def members(user: User, space_id, keyword: str = "", page: int = 1, size: int = 20):
    space = refs.one(user, refs.SPACE, space_id, field="space_id")
    query = SpaceMember.select(SpaceMember, User).join(User).where(SpaceMember.space == space.id)
    if keyword:
        query = query.where(User.name.contains(keyword) | User.unique_name.contains(keyword))
    listed = paging.page(query.order_by(SpaceMember.role, SpaceMember.id), page, size, total=True)
    return listed.rows, listed.total


def update_role(user: User, space_id, user_id, role: int) -> SpaceMember:
    space = refs.one(user, refs.SPACE, space_id, authz.MANAGE, field="space_id")
    target = _membership(space, parse_id(user_id) or 0, "user_id")
    if target.role == ROLE_OWNER:
        raise errors.SPACE_OWNER_FIXED(
            f"user_id: {target.user_id} owns space {space.id}; transfer it instead"
        )
    target = target.touch(role=role)
    target.user = User.by_id(target.user_id)
    return target


def transfer(user: User, space_id, user_id) -> Space:
    space = refs.one(user, refs.SPACE, space_id, authz.DELETE, field="space_id")
    _team(space, "transferred")
    target = _membership(space, parse_id(user_id) or 0, "user_id")
    if target.user_id == space.owner_id:
        return space
    with write_transaction():
        SpaceMember.update(role=ROLE_ADMIN).where(
            SpaceMember.space == space.id, SpaceMember.role == ROLE_OWNER
        ).execute()
        target.touch(role=ROLE_OWNER)
        space = space.touch(owner=target.user_id)
    return space
