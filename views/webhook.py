"""Outgoing webhooks as the wire shows them (the secret only as its hint)."""

from __future__ import annotations


def webhook_view(row) -> dict:
    return {
        "id": str(row.id),
        "space_id": str(row.space_id),
        "url": row.url,
        "events": list(row.events or []),
        "description": row.description,
        "enabled": row.enabled,
        "disabled_reason": row.disabled_reason,
        "secret_hint": row.secret_hint,
        "created_at": row.created_at,
        "updated_at": row.updated_at,
    }


def delivery_view(row) -> dict:
    return {
        "id": str(row.id),
        "webhook_id": str(row.subscription_id),
        "event_id": row.event_id,
        "event": row.event,
        "status": row.status,
        "attempts": row.attempts,
        "next_attempt_at": row.next_attempt_at,
        "response_status": row.response_status,
        "response_ms": row.response_ms,
        "response_excerpt": row.response_excerpt,
        "last_error": row.last_error,
        "created_at": row.created_at,
        "updated_at": row.updated_at,
    }
