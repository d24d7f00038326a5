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
