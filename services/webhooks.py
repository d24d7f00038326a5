"""Outgoing webhooks: a space's subscriptions (URL, secret, events) and the delivery of each event
to each, through the task queue and the SSRF guard (services/webfetch).

A payload is `{id, event, timestamp, data}`; the request carries `X-Cozeplus-Signature:
t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>" with the secret>`. A subscription's
deliveries go out one at a time in the order of their events: a failure is retried with
exponential backoff and the ones behind it wait, so a receiver that was down gets everything
later, in order. After MAX_ATTEMPTS failures in a row the subscription is disabled with the
reason; its pending deliveries stay, and go out when it is enabled again."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
import time

from core import authz, crypto, errors
from core.ids import new_id
from core.metrics import WEBHOOK_DELIVERIES
from core.settings import get_settings
from models import paging
from models.db import write_transaction
from models.identity import User
from models.webhook import DELIVERED, FAILED, PENDING, WebhookDelivery, WebhookSubscription
from services import recovery, refs, webfetch
from services.tasks import queue

log = logging.getLogger("cozeplus.webhooks")

EVENTS = (
    "agent.published",
    "conversation.created",
    "message.received",
    "chat.completed",
    "workflow.completed",
    "workflow.interrupted",
    "document.indexed",
)
PING = "webhook.ping"
MAX_ATTEMPTS = 8
LEASE_SECONDS = 60
MAX_RESPONSE = 64 * 1024
EXCERPT = 1000
SIGNATURE_HEADER = "X-Cozeplus-Signature"


def _invalid(message: str) -> errors.ApiError:
    return errors.CHANNEL_INVALID_PARAM(message)


def _now_ms() -> int:
    return int(time.time() * 1000)


def _url(url: str) -> str:
    try:
        webfetch.check(url, False)
    except webfetch.FetchError as exc:
        raise _invalid(f"url: {exc}")
    return url


def _events(raw) -> list[str]:
    events = list(dict.fromkeys(raw or []))
    unknown = [e for e in events if e not in EVENTS]
    if unknown or not events:
        raise _invalid(
            f"events: one or more of {', '.join(EVENTS)}" + (f" (not {unknown[0]!r})" if unknown else "")
        )
    return events


def _secret(raw: str | None) -> str:
    secret = raw or secrets.token_urlsafe(32)
    if len(secret) < 16:
        raise _invalid("secret: at least 16 characters (or none, to have one made)")
    return secret


def load(user: User, webhook_id, action: str = authz.READ) -> WebhookSubscription:
    return refs.one(user, refs.WEBHOOK, webhook_id, action, field="id")


def create(
    user: User, space_id, url: str, events, *, secret: str | None = None, description: str = "", enabled=True
):
    """(the subscription, its secret): a secret made here is shown this once."""
    space = refs.one(user, refs.SPACE, space_id, "webhook:create", field="space_id")
    plain = _secret(secret)
    row = WebhookSubscription.create(
        space=space.id,
        creator=user.id,
        url=_url(url),
        secret_encrypted=crypto.encrypt(plain),
        secret_hint=crypto.hint(plain),
        events=_events(events),
        description=description or "",
        enabled=enabled is not False,
    )
    return row, plain


def update(user: User, webhook_id, *, url=None, secret=None, events=None, description=None, enabled=None):
    row = load(user, webhook_id, authz.UPDATE)
    changes: dict = {}
    if url is not None:
        changes["url"] = _url(url)
    if secret is not None:
        plain = _secret(secret)
        changes.update(secret_encrypted=crypto.encrypt(plain), secret_hint=crypto.hint(plain))
    if events is not None:
        changes["events"] = _events(events)
    if description is not None:
        changes["description"] = description
    if enabled is not None:
        changes.update(enabled=bool(enabled), disabled_reason="" if enabled else row.disabled_reason)
    row = row.touch(**changes) if changes else row
    if row.enabled:
        kick(row.id)  # what waited while it was disabled goes out now
    return row


def delete(user: User, webhook_id) -> None:
    row = load(user, webhook_id, authz.DELETE)
    with write_transaction():
        row.delete_instance()


def space_hooks(user: User, space_id, page: int = 1, size: int = 20):
    space = refs.one(user, refs.SPACE, space_id, "webhook:read", field="space_id")
    query = WebhookSubscription.select().where(WebhookSubscription.space == space.id)
    listed = paging.page(query.order_by(WebhookSubscription.id.desc()), page, size, total=True)
    return listed.rows, listed.total


def deliveries(user: User, webhook_id, page: int = 1, size: int = 20, status: str = ""):
    row = load(user, webhook_id)
    query = WebhookDelivery.select().where(WebhookDelivery.subscription == row.id)
    if status:
        query = query.where(WebhookDelivery.status == status)
    listed = paging.page(query.order_by(WebhookDelivery.id.desc()), page, size, total=True)
    return listed.rows, listed.total


# --- events -------------------------------------------------------------------------------------


def _payload(event: str, data: dict, event_id: str) -> str:
    body = {"id": event_id, "event": event, "timestamp": int(time.time()), "data": data}
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"), default=str)


def emit(space_id: int, event: str, data: dict) -> int:
    """Queue the event for the space's enabled subscriptions to it; how many were queued."""
    enabled = WebhookSubscription.enabled == True  # noqa: E712  (a SQL comparison)
    query = WebhookSubscription.select().where(WebhookSubscription.space == space_id, enabled)
    subscribed = [s for s in query if event in (s.events or [])]
    if not subscribed:
        return 0
    event_id = f"evt_{new_id()}"
    payload = _payload(event, data, event_id)
    for subscription in subscribed:
        WebhookDelivery.create(subscription=subscription.id, event_id=event_id, event=event, payload=payload)
    for subscription in subscribed:
        kick(subscription.id)
    return len(subscribed)


def emit_safely(space_id: int, event: str, data: dict) -> None:
    """emit, from code whose own work must not fail because a webhook could not be queued."""
    try:
        emit(space_id, event, data)
    except Exception:
        log.exception("webhook event not queued", extra={"event": event, "space_id": space_id})


# --- delivering ---------------------------------------------------------------------------------


def signature(secret: str, timestamp: int, payload: str) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.{payload}".encode(), hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def send(subscription: WebhookSubscription, delivery: WebhookDelivery) -> bool:
    """One attempt, recorded on the delivery; True when the receiver answered 2xx."""
    secret = crypto.decrypt(subscription.secret_encrypted) or ""
    stamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: signature(secret, stamp, delivery.payload),
        "X-Cozeplus-Event": delivery.event,
        "X-Cozeplus-Delivery": delivery.event_id,
    }
    started = time.monotonic()
    changes = {"attempts": delivery.attempts + 1}
    try:
        sent = webfetch.send(
            "POST",
            subscription.url,
            headers=headers,
            body=delivery.payload.encode(),
            max_bytes=MAX_RESPONSE,
            timeout=get_settings().plugin_timeout_seconds,
            user_agent="cozeplus-webhook/1.0",
        )
    except webfetch.FetchError as exc:
        changes.update(response_status=0, last_error=str(exc)[:EXCERPT], response_excerpt="")
        ok = False
    else:
        ok = 200 <= sent.status < 300
        changes.update(
            response_status=sent.status,
            response_excerpt=sent.response_body[:EXCERPT].decode("utf-8", "replace"),
            last_error="" if ok else f"the receiver answered HTTP {sent.status}",
        )
    changes["response_ms"] = int((time.monotonic() - started) * 1000)
    if ok:
        changes["status"] = DELIVERED
    delivery.touch(**changes)
    WEBHOOK_DELIVERIES.labels("delivered" if ok else "failed").inc()
    return ok


def backoff_seconds(attempts: int) -> float:
    return min(get_settings().webhook_retry_base_seconds * (2 ** (attempts - 1)), 3600.0)


def kick(subscription_id: int) -> None:
    deliver_task(subscription_id)


@queue.task(retries=0)
def deliver_task(subscription_id: int) -> None:
    deliver_due(subscription_id)


def _claim(subscription_id: int) -> bool:
    now = int(time.time())
    return bool(
        WebhookSubscription.update(lease_until=now + LEASE_SECONDS, lease_worker_id=recovery.current_id())
        .where(WebhookSubscription.id == subscription_id, WebhookSubscription.lease_until < now)
        .execute()
    )


def _release(subscription_id: int) -> None:
    WebhookSubscription.update(lease_until=0, lease_worker_id=None).where(
        WebhookSubscription.id == subscription_id
    ).execute()


def _head(subscription_id: int) -> WebhookDelivery | None:
    return (
        WebhookDelivery.select()
        .where(WebhookDelivery.subscription == subscription_id, WebhookDelivery.status == PENDING)
        .order_by(WebhookDelivery.id)
        .first()
    )


def deliver_due(subscription_id: int) -> None:
    """Send the subscription's pending deliveries in order, while they succeed; schedule the next
    try of one that fails. One worker at a time holds a subscription (a lease)."""
    while _claim(subscription_id):
        wait = None
        try:
            wait = _drain(subscription_id)
        finally:
            _release(subscription_id)
        head = _head(subscription_id)
        subscription = WebhookSubscription.get_or_none(WebhookSubscription.id == subscription_id)
        if head is None or subscription is None or not subscription.enabled:
            return
        if wait is not None or head.next_attempt_at > _now_ms():  # its retry is scheduled
            delay = max(0.0, (head.next_attempt_at - _now_ms()) / 1000)
            deliver_task.schedule(args=(subscription_id,), delay=delay)
            return
        # else one arrived while the lease was held: go round again


def _drain(subscription_id: int) -> float | None:
    """Deliver until none is due; the seconds until the head's next try (None when none waits)."""
    while True:
        subscription = WebhookSubscription.get_or_none(WebhookSubscription.id == subscription_id)
        head = _head(subscription_id)
        if subscription is None or not subscription.enabled or head is None:
            return None
        if head.next_attempt_at > _now_ms():
            return (head.next_attempt_at - _now_ms()) / 1000
        if send(subscription, head):
            continue
        if head.attempts >= MAX_ATTEMPTS:
            reason = (
                f"disabled after {head.attempts} failed attempts to deliver {head.event_id} "
                f"({head.last_error or 'no answer'}); enable it to deliver what waits"
            )
            head.touch(status=FAILED)
            subscription.touch(enabled=False, disabled_reason=reason)
            return None
        delay = backoff_seconds(head.attempts)
        head.touch(next_attempt_at=_now_ms() + int(delay * 1000))
        return delay


def test_ping(user: User, webhook_id) -> WebhookDelivery:
    """A ping sent at once (outside the queue's order), recorded like any delivery."""
    row = load(user, webhook_id, authz.EXECUTE)
    event_id = f"evt_{new_id()}"
    data = {"webhook_id": str(row.id), "message": "a test from cozeplus"}
    delivery = WebhookDelivery.create(
        subscription=row.id,
        event_id=event_id,
        event=PING,
        payload=_payload(PING, data, event_id),
        status=FAILED,
    )
    send(row, delivery)
    return delivery


def redeliver(user: User, delivery_id) -> WebhookDelivery:
    """The delivery's event again, queued behind the subscription's others."""
    found = refs.one(user, refs.WEBHOOK_DELIVERY, delivery_id, authz.EXECUTE, field="delivery_id")
    again = WebhookDelivery.create(
        subscription=found.subscription_id, event_id=found.event_id, event=found.event, payload=found.payload
    )
    kick(found.subscription_id)
    return again
