"""Outgoing webhooks (/api/webhook/*): a space's subscriptions, their tests and deliveries."""

from __future__ import annotations

from core.envelope import ok
from services import webhooks
from views.webhook import delivery_view, webhook_view


def webhook_create(token_info, body):
    row, secret = webhooks.create(
        token_info["user"],
        body["space_id"],
        body["url"],
        body["events"],
        secret=body.get("secret"),
        description=body.get("description") or "",
        enabled=body.get("enabled"),
    )
    return ok({"id": str(row.id), "secret": secret, "webhook": webhook_view(row)})


def webhook_update(token_info, body):
    row = webhooks.update(
        token_info["user"],
        body["id"],
        url=body.get("url"),
        secret=body.get("secret"),
        events=body.get("events"),
        description=body.get("description"),
        enabled=body.get("enabled"),
    )
    return ok(webhook_view(row))


def webhook_delete(token_info, body):
    webhooks.delete(token_info["user"], body["id"])
    return ok()


def webhook_list(token_info, body):
    rows, total = webhooks.space_hooks(
        token_info["user"], body["space_id"], body.get("page", 1), body.get("size", 20)
    )
    return ok({"webhooks": [webhook_view(r) for r in rows], "total": total})


def webhook_test(token_info, body):
    return ok(delivery_view(webhooks.test_ping(token_info["user"], body["id"])))


def webhook_deliveries(token_info, body):
    rows, total = webhooks.deliveries(
        token_info["user"], body["id"], body.get("page", 1), body.get("size", 20), body.get("status") or ""
    )
    return ok({"deliveries": [delivery_view(r) for r in rows], "total": total})


def webhook_redeliver(token_info, body):
    return ok(delivery_view(webhooks.redeliver(token_info["user"], body["delivery_id"])))
