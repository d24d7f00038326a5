"""Personal access tokens (Coze's /api/permission_api/pat/* routes)."""

from __future__ import annotations

from core.envelope import ok
from core.security import require_session
from services import accounts, audit_log, refs, tokens
from views.permission import admin_user_view, audit_entry_view, pat_view


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


# --- administrators' user management (/api/permission_api/user/*) ---------------------------


def admin_list_users(token_info, body):
    page, size = body.get("page", 1), body.get("limit", 20)
    rows, total = accounts.admin_users(
        token_info["user"], body.get("keyword") or "", body.get("is_disabled"), page, size
    )
    return ok({"users": [admin_user_view(u) for u in rows], "total": total, "has_more": page * size < total})


def admin_create_user(token_info, body):
    user = accounts.admin_create_user(
        token_info["user"], body["email"], body["password"], body.get("name") or ""
    )
    return ok({"user": admin_user_view(user)})


def admin_update_user_status(token_info, body):
    user = accounts.admin_set_disabled(token_info["user"], body["user_id"], body["is_disabled"] == 1)
    return ok({"user": admin_user_view(user)})


def admin_reset_password(token_info, body):
    revoked = accounts.admin_reset_password(token_info["user"], body["email"], body["new_password"])
    return ok({"revoked_sessions": revoked})


def audit_list(token_info, body):
    filters = {
        k: body.get(k)
        for k in (
            "actor_id",
            "space_id",
            "operation",
            "resource_type",
            "resource_id",
            "outcome",
            "since",
            "until",
        )
    }
    rows, total = audit_log.entries(token_info["user"], filters, body.get("page", 1), body.get("size", 20))
    return ok({"entries": [audit_entry_view(r) for r in rows], "total": total})
