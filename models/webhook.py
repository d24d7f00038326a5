"""Outgoing webhooks: a space's subscriptions to its events, and each event's delivery to each."""

from __future__ import annotations

from peewee import BigIntegerField, BooleanField, CharField, ForeignKeyField, IntegerField, TextField

from models.base import BaseModel, JsonField
from models.identity import Space, User

PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"


class WebhookSubscription(BaseModel):
    space = ForeignKeyField(Space, backref="webhooks", on_delete="CASCADE")
    creator = ForeignKeyField(User, on_delete="CASCADE")
    url = CharField(max_length=2048)
    secret_encrypted = TextField()
    secret_hint = CharField(max_length=20, default="")
    events = JsonField(default=list)
    description = CharField(max_length=200, default="")
    enabled = BooleanField(default=True)
    disabled_reason = TextField(default="")
    lease_until = BigIntegerField(default=0)  # a worker delivers its events until then
    lease_worker_id = BigIntegerField(null=True)  # the process holding the lease (services/recovery)

    class Meta:
        table_name = "webhook_subscription"


class WebhookDelivery(BaseModel):
    """One event for one subscription; delivered in order of id, retried with backoff."""

    subscription = ForeignKeyField(WebhookSubscription, backref="deliveries", on_delete="CASCADE")
    event_id = CharField(max_length=40)
    event = CharField(max_length=64)
    payload = TextField()  # the body as sent (signed as it is)
    status = CharField(max_length=16, default=PENDING)
    attempts = IntegerField(default=0)
    next_attempt_at = BigIntegerField(default=0)  # unix ms
    response_status = IntegerField(default=0)
    response_ms = IntegerField(default=0)
    response_excerpt = TextField(default="")
    last_error = TextField(default="")

    class Meta:
        table_name = "webhook_delivery"
        indexes = ((("subscription", "status"), False),)
