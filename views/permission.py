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
