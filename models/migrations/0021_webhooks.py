"""Outgoing webhooks: subscriptions and deliveries."""

from peewee import BigIntegerField, BooleanField, CharField, ForeignKeyField, IntegerField, Model, TextField


def _tables(db):
    class Base(Model):
        id = BigIntegerField(primary_key=True)
        created_at = BigIntegerField(default=0)
        updated_at = BigIntegerField(default=0)

        class Meta:
            database = db

    class Space(Base):
        class Meta:
            table_name = "space"

    class User(Base):
        class Meta:
            table_name = "user"

    class WebhookSubscription(Base):
        space = ForeignKeyField(Space, on_delete="CASCADE")
        creator = ForeignKeyField(User, on_delete="CASCADE")
        url = CharField(max_length=2048)
        secret_encrypted = TextField()
        secret_hint = CharField(max_length=20, default="")
        events = TextField(default="[]")
        description = CharField(max_length=200, default="")
        enabled = BooleanField(default=True)
        disabled_reason = TextField(default="")
        lease_until = BigIntegerField(default=0)

        class Meta:
            table_name = "webhook_subscription"

    class WebhookDelivery(Base):
        subscription = ForeignKeyField(WebhookSubscription, on_delete="CASCADE")
        event_id = CharField(max_length=40)
        event = CharField(max_length=64)
        payload = TextField()
        status = CharField(max_length=16, default="pending")
        attempts = IntegerField(default=0)
        next_attempt_at = BigIntegerField(default=0)
        response_status = IntegerField(default=0)
        response_ms = IntegerField(default=0)
        response_excerpt = TextField(default="")
        last_error = TextField(default="")

        class Meta:
            table_name = "webhook_delivery"
            indexes = ((("subscription", "status"), False),)

    return [WebhookSubscription, WebhookDelivery]


def up(migrator, db):
    db.create_tables(_tables(db))


def down(migrator, db):
    db.drop_tables(list(reversed(_tables(db))))
