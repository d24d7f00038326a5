"""Personal access tokens, user management, the audit log, roles (/api/permission_api/*)."""

from __future__ import annotations

from core import authz
from core.envelope import ok
from core.security import require_session
from models.permission import DOMAIN_SPACE
from services import accounts, audit_log, refs, roles, tokens
from views.permission import admin_user_view, audit_entry_view, pat_view, role_view, user_roles_view


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


# --- roles and their holders (/api/permission_api/role/*, template/list, user/*roles) ----------


def _role(role) -> dict:
    return role_view(role, roles.permission_groups(roles.granted(role)))


def create_role(token_info, body):
    role = roles.create(
        token_info["user"],
        body["role_code"],
        body["role_name"],
        body.get("description") or "",
        body.get("role_domain") or DOMAIN_SPACE,
        body.get("permissions") or [],
    )
    return ok({"id": str(role.id), "role": _role(role)})


def update_role(token_info, body):
    role = roles.update(
        token_info["user"],
        body["id"],
        name=body.get("role_name"),
        description=body.get("description"),
        disabled=body.get("is_disabled"),
        permissions=body.get("permissions"),
    )
    return ok({"role": _role(role)})


def delete_role(token_info, body):
    roles.delete(token_info["user"], body["id"])
    return ok()


def get_role(token_info, id):
    return ok({"role": _role(roles.load(token_info["user"], id))})


def list_roles(token_info, body):
    rows, total = roles.page(token_info["user"], body, body.get("page", 1), body.get("page_size", 20))
    return ok({"roles": [_role(r) for r in rows], "total": total})


def list_permission_templates(token_info, body):
    authz.require(token_info["user"], "role:read")
    return ok(roles.templates(body.get("domain"), body.get("resource"), body.get("keyword") or ""))


def _holder(admin, user_id, permission: str = "role:read") -> dict:
    found, assigned, memberships = roles.held(admin, user_id, permission)
    return user_roles_view(found, assigned, memberships, authz.SPACE_ROLE_CODES)


def assign_roles(token_info, body):
    user = roles.assign(token_info["user"], body["user_id"], body["role_ids"], body.get("space_id"))
    return ok(_holder(token_info["user"], user.id, "role:manage"))  # who assigns sees what they gave


def unassign_roles(token_info, body):
    user = roles.unassign(token_info["user"], body["user_id"], body["role_ids"], body.get("space_id"))
    return ok(_holder(token_info["user"], user.id, "role:manage"))


def get_user_roles(token_info, user_id):
    return ok(_holder(token_info["user"], user_id))
