"""Publishing channels: an agent bound to a messaging platform (WeChat, WeCom, Feishu, a generic
signed webhook), the platform users it talks with, and the messages it received."""

from __future__ import annotations

from peewee import BigIntegerField, BooleanField, CharField, ForeignKeyField, IntegerField, TextField

from models.agent import Bot
from models.base import BaseModel, JsonField
from models.identity import Space, User

ANSWERING, REPLIED, FAILED, IGNORED = "answering", "replied", "failed", "ignored"
MESSAGE_STATUSES = (ANSWERING, REPLIED, FAILED, IGNORED)


class Channel(BaseModel):
    space = ForeignKeyField(Space, backref="channels", on_delete="CASCADE")
    bot = ForeignKeyField(Bot, backref="channels", on_delete="CASCADE")
    creator = ForeignKeyField(User, on_delete="CASCADE")  # the agent answers as this user's
    type = CharField(max_length=32)
    name = CharField(max_length=100, default="")
    config = JsonField(default=dict)  # the settings that are not secret
    secrets_encrypted = TextField(default="")  # the secret ones: a JSON object, encrypted
    secret_hints = JsonField(default=dict)
    enabled = BooleanField(default=True)
    access_token_encrypted = TextField(default="")  # the platform's, shared by every worker
    access_token_expires_at = BigIntegerField(default=0)
    last_event_at = BigIntegerField(default=0)
    last_error = TextField(default="")
    last_error_at = BigIntegerField(default=0)

    class Meta:
        table_name = "channel"


class ChannelUser(BaseModel):
    """A platform user (openid, open_id, userid ...) and their conversation with the agent."""

    channel = ForeignKeyField(Channel, backref="users", on_delete="CASCADE")
    external_id = CharField(max_length=128)
    conversation_id = BigIntegerField()
    subscribed = BooleanField(default=True)

    class Meta:
        table_name = "channel_user"
        indexes = ((("channel", "external_id"), True),)


class ChannelMessage(BaseModel):
    """A message or event received; unique by the platform's id, so a retried one is known."""

    channel = ForeignKeyField(Channel, backref="messages", on_delete="CASCADE")
    external_id = CharField(max_length=191)
    external_user = CharField(max_length=128, default="")
    kind = CharField(max_length=64, default="text")
    content = TextField(default="")
    reply_to = CharField(max_length=191, default="")  # what the platform's reply API names
    status = CharField(max_length=16, default=ANSWERING)
    reply_via = CharField(max_length=16, default="")
    reply = TextField(default="")
    conversation_id = BigIntegerField(default=0)
    chat_id = BigIntegerField(default=0)
    attempts = IntegerField(default=0)
    last_error = TextField(default="")

    class Meta:
        table_name = "channel_message"
        indexes = ((("channel", "external_id"), True), (("channel", "status"), False))
