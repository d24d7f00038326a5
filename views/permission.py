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
