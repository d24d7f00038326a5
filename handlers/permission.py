"""Personal access tokens (Coze's /api/permission_api/pat/* routes)."""

from __future__ import annotations

from core.envelope import ok
from core.security import require_session
from services import refs, tokens
from views.permission import pat_view


def create_pat(token_info, body):
    require_session(token_info, "creating a personal access token")
    refs.optional(token_info["user"], refs.ORGANIZATION, body.get("organization_id"), field="organization_id")
    pat, plaintext = tokens.create(
        token_info["user"], body["name"], body.get("duration_day"), body.get("expire_at")
    )
    return ok({"personal_access_token": pat_view(pat), "token": plaintext})


def list_pats(token_info, page=1, size=10):
    listed = tokens.page(token_info["user"], page, size)
    return ok(
        {
            "personal_access_tokens": [pat_view(p) for p in listed.rows],
            "has_more": listed.has_more,
            "total": listed.total,
        }
    )


def get_pat(token_info, id):
    return ok({"personal_access_token": pat_view(tokens.owned(token_info["user"], id))})


def update_pat(token_info, body):
    pat = tokens.rename(token_info["user"], body["id"], body["name"])
    return ok({"personal_access_token": pat_view(pat)})


def delete_pat(token_info, body):
    tokens.delete(token_info["user"], body["id"])
    return ok()
