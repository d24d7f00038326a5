"""Personal access tokens (never their secret: that is shown once, by the handler that mints it)."""

from __future__ import annotations


def pat_view(pat) -> dict:
    return {
        "id": str(pat.id),
        "name": pat.name,
        "created_at": pat.created_at * 1000,
        "updated_at": pat.updated_at * 1000,
        "last_used_at": pat.last_used_at,
        "expire_at": pat.expire_at,
        "expired": pat.expired,
    }


def admin_user_view(user) -> dict:
    return {
        "user_id": str(user.id),
        "email": user.email,
        "name": user.name,
        "unique_name": user.unique_name or "",
        "is_super_admin": user.is_super_admin,
        "is_disabled": user.is_disabled,
        "must_change_password": user.must_change_password,
        "create_time": user.created_at,
    }


def audit_entry_view(row) -> dict:
    return {
        "id": str(row.id),
        "actor_id": str(row.actor_id) if row.actor_id else "",
        "operation": row.operation,
        "method": row.method,
        "path": row.path,
        "resource_type": row.resource_type,
        "resource_ids": list(row.resource_ids or []),
        "space_id": str(row.space_id) if row.space_id else "",
        "status": row.status,
        "code": row.code,
        "client_ip": row.client_ip,
        "user_agent": row.user_agent,
        "request_id": row.request_id,
        "create_time": row.created_at,
    }


def role_view(role, permissions: list[dict]) -> dict:
    """`permissions`: what the role grants, grouped as services.roles.permission_groups makes it."""
    return {
        "id": str(role.id),
        "role_code": role.role_code,
        "role_name": role.role_name,
        "role_domain": role.role_domain,
        "super_admin": int(role.super_admin),
        "space_role_type": role.space_role_type,
        "is_builtin": int(role.is_builtin),
        "is_disabled": int(role.is_disabled),
        "description": role.description,
        "permissions": permissions,
        "created_by": str(role.created_by or ""),
        "created_at": role.created_at,
        "updated_at": role.updated_at,
    }


def user_roles_view(user, assigned, memberships, space_role_codes: dict) -> dict:
    return {
        "user_id": str(user.id),
        "roles": [
            {
                "role_id": str(role.id),
                "role_code": role.role_code,
                "role_name": role.role_name,
                "role_domain": role.role_domain,
                "space_id": domain.removeprefix("space:")
                if domain.startswith("space:") and domain != "space:*"
                else "",
                "is_disabled": int(role.is_disabled),
            }
            for role, domain in assigned
        ],
        "space_roles": [
            {
                "space_id": str(space.id),
                "space_name": space.name,
                "role_type": role,
                "role_code": space_role_codes[role],
            }
            for space, role in memberships
        ],
    }
