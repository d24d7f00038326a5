"""Spaces the caller belongs to."""

from __future__ import annotations

from core.authz import require_space
from core.envelope import ok
from models import paging
from models.identity import SPACE_PERSONAL, Space
from services import refs
from views.space import space_view, workspace_view


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
