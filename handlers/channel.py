"""Publishing channels (/api/channel/*): binding agents to platforms, and the platforms' callbacks."""

from __future__ import annotations

from connexion import request
from connexion.lifecycle import ConnexionResponse

from core.envelope import ok
from core.middleware import RAW_BODY
from services import channels
from services.channel_types import TYPES
from views.channel import channel_view, message_view, type_view


def _shown(row) -> dict:
    return channel_view(row, channels.state_of(row), channels.callback_url(row))


def channel_types(token_info):
    return ok({"types": [type_view(kind) for kind in TYPES.values()]})


def channel_create(token_info, body):
    row, made = channels.create(
        token_info["user"],
        body["bot_id"],
        body["type"],
        body["config"],
        name=body.get("name") or "",
        enabled=body.get("enabled"),
    )
    return ok({"id": str(row.id), "channel": _shown(row), "secrets": made})


def channel_get(token_info, body):
    return ok(_shown(channels.load(token_info["user"], body["id"])))


def channel_update(token_info, body):
    row = channels.update(
        token_info["user"],
        body["id"],
        bot_id=body.get("bot_id"),
        name=body.get("name"),
        config=body.get("config"),
        enabled=body.get("enabled"),
    )
    return ok(_shown(row))


def channel_delete(token_info, body):
    channels.delete(token_info["user"], body["id"])
    return ok()


def channel_list(token_info, body):
    rows, total = channels.space_channels(
        token_info["user"],
        body["space_id"],
        bot_id=body.get("bot_id"),
        type_=body.get("type") or "",
        page=body.get("page", 1),
        size=body.get("size", 20),
    )
    return ok({"channels": [_shown(r) for r in rows], "total": total})


def channel_status(token_info, body):
    found = channels.status(token_info["user"], body["id"])
    row = found["channel"]
    return ok(
        {
            "channel_id": str(row.id),
            "enabled": row.enabled,
            "state": channels.state_of(row),
            "last_event_at": row.last_event_at,
            "last_error": row.last_error,
            "last_error_at": row.last_error_at,
            "last_day": found["last_day"],
            "recent_errors": [message_view(m) for m in found["recent_errors"]],
        }
    )


def channel_test(token_info, body):
    return ok(channels.test(token_info["user"], body["id"]))


def channel_messages(token_info, body):
    rows, total = channels.messages(
        token_info["user"], body["id"], body.get("status") or "", body.get("page", 1), body.get("size", 20)
    )
    return ok({"messages": [message_view(m) for m in rows], "total": total})


def _query() -> dict:
    return dict(request.query_params)


def _sent(reply: channels.Reply) -> ConnexionResponse:
    return ConnexionResponse(
        status_code=200, body=reply.body, mimetype=reply.content_type, content_type=reply.content_type
    )


async def channel_verify(channel_id, **_params):
    return _sent(await channels.verify_url(channel_id, _query()))


async def channel_callback(channel_id, body=None, **_params):
    raw = request.scope["extensions"][RAW_BODY]  # as sent: the platforms sign these bytes
    return _sent(await channels.receive(channel_id, _query(), request.headers, raw))
