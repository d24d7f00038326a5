"""Channels as the wire shows them: secrets only as their hints."""

from __future__ import annotations


def type_view(kind) -> dict:
    return {
        "type": kind.type,
        "name": kind.name,
        "description": kind.description,
        "config_schema": kind.schema,
        "secret_fields": kind.secret_fields,
    }


def channel_view(row, state: str, callback_url: str) -> dict:
    hints = row.secret_hints or {}
    return {
        "id": str(row.id),
        "space_id": str(row.space_id),
        "bot_id": str(row.bot_id),
        "type": row.type,
        "name": row.name,
        "config": {**(row.config or {}), **hints},
        "secret_fields": sorted(hints),
        "enabled": row.enabled,
        "state": state,
        "callback_url": callback_url,
        "last_event_at": row.last_event_at,
        "last_error": row.last_error,
        "last_error_at": row.last_error_at,
        "created_at": row.created_at,
        "updated_at": row.updated_at,
    }


def message_view(row) -> dict:
    return {
        "id": str(row.id),
        "channel_id": str(row.channel_id),
        "external_id": row.external_id,
        "external_user": row.external_user,
        "kind": row.kind,
        "content": row.content,
        "status": row.status,
        "reply_via": row.reply_via,
        "reply": row.reply,
        "conversation_id": str(row.conversation_id) if row.conversation_id else "",
        "chat_id": str(row.chat_id) if row.chat_id else "",
        "attempts": row.attempts,
        "last_error": row.last_error,
        "created_at": row.created_at,
        "updated_at": row.updated_at,
    }
