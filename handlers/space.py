"""Spaces the caller belongs to."""

from __future__ import annotations

from core.authz import require_space
from core.envelope import ok
from models import paging
from models.identity import SPACE_PERSONAL, Space
from services import refs, spaces
from views.space import member_view, space_view, workspace_view


def list_spaces(token_info, body=None):
    spaces = [space_view(s, s.role) for s in Space.for_member(token_info["user"].id)]
    return ok(
        {
            "bot_space_list": spaces,
            "recently_used_space_list": [],
            "has_personal_space": any(s["space_type"] == SPACE_PERSONAL for s in spaces),
            "team_space_num": sum(1 for s in spaces if s["space_type"] != SPACE_PERSONAL),
            "total": len(spaces),
            "has_more": False,
        }
    )


def get_space(token_info, body):
    user = token_info["user"]
    space = refs.one(user, refs.SPACE, body["space_id"], field="space_id")
    return ok({"space": space_view(space, require_space(user, space.id))})


def list_workspaces(
    token_info, page_num=1, page_size=20, user_id=None, coze_account_id=None, enterprise_id=None
):
    page = paging.page(Space.for_member(token_info["user"].id), page_num, page_size, total=True)
    return ok(
        {
            "workspaces": [workspace_view(s) for s in page.rows],
            "total_count": page.total,
        }
    )


def create_space(token_info, body):
    user = token_info["user"]
    space = spaces.create(user, body["name"], body.get("description") or "", body.get("icon_uri") or "")
    return ok({"id": str(space.id), "space": space_view(space, require_space(user, space.id))})


def update_space(token_info, body):
    user = token_info["user"]
    space = spaces.update(
        user,
        body["space_id"],
        name=body.get("name"),
        description=body.get("description"),
        icon_uri=body.get("icon_uri"),
    )
    return ok({"space": space_view(space, require_space(user, space.id))})


def delete_space(token_info, body):
    spaces.delete(token_info["user"], body["space_id"])
    return ok()


def add_space_members(token_info, body):
    added, already = spaces.add_members(
        token_info["user"], body["space_id"], body["user_ids"], body.get("role_type", 3)
    )
    return ok({"added": added, "already_members": already})


def remove_space_member(token_info, body):
    spaces.remove_member(token_info["user"], body["space_id"], body["user_id"])
    return ok()


def list_space_members(token_info, body):
    rows, total = spaces.members(
        token_info["user"],
        body["space_id"],
        body.get("keyword") or "",
        body.get("page", 1),
        body.get("size", 20),
    )
    return ok({"members": [member_view(m) for m in rows], "total": total})


def update_space_member_role(token_info, body):
    membership = spaces.update_role(token_info["user"], body["space_id"], body["user_id"], body["role_type"])
    return ok(member_view(membership))


def transfer_space(token_info, body):
    user = token_info["user"]
    space = spaces.transfer(user, body["space_id"], body["user_id"])
    return ok({"space": space_view(space, require_space(user, space.id))})
