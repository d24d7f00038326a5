"""Conversations, their chat runs (one user turn each) and messages."""

from __future__ import annotations

from peewee import BigIntegerField, BooleanField, CharField, ForeignKeyField, IntegerField, TextField

from models.agent import Bot
from models.base import BaseModel, JsonField
from models.identity import User

SCENE_DEFAULT = 0
SCENE_PLAYGROUND = 4
SCENE_OPENAPI = 9
CONNECTOR_WEB = 10000010  # the console (web chat)

# run statuses, spelled as the official SDKs parse them
CREATED, IN_PROGRESS, COMPLETED, FAILED = "created", "in_progress", "completed", "failed"
REQUIRES_ACTION, CANCELED = "requires_action", "canceled"
LIVE_STATUSES = (CREATED, IN_PROGRESS)

# message statuses
AVAILABLE, BROKEN = "available", "broken"


class Conversation(BaseModel):
    creator = ForeignKeyField(User, backref="conversations", on_delete="CASCADE")
    bot = ForeignKeyField(Bot, backref="conversations", on_delete="CASCADE")
    scene = IntegerField(default=SCENE_OPENAPI)
    connector_id = BigIntegerField()
    name = CharField(max_length=200, default="")
    meta_data = JsonField(default=dict)
    last_section_id = BigIntegerField()

    class Meta:
        indexes = ((("creator", "bot", "scene", "connector_id"), False),)

    @classmethod
    def current(cls, user_id: int, bot_id: int, scene: int, connector_id: int):
        """The conversation the console resumes for this user, agent and scene: the newest."""
        return (
            cls.select()
            .where(
                (cls.creator == user_id)
                & (cls.bot == bot_id)
                & (cls.scene == scene)
                & (cls.connector_id == connector_id)
            )
            .order_by(cls.id.desc())
            .first()
        )


class ChatRun(BaseModel):
    """One turn: the question and everything the agent did to answer it (Coze's chat)."""

    conversation = ForeignKeyField(Conversation, backref="runs", on_delete="CASCADE")
    bot = ForeignKeyField(Bot, on_delete="CASCADE")
    creator = ForeignKeyField(User, on_delete="CASCADE")
    section_id = BigIntegerField()
    bot_version = BigIntegerField(null=True)  # the published snapshot run; null for the draft
    connector_id = BigIntegerField()
    end_user = CharField(max_length=200, default="")  # the Open API's user_id
    status = CharField(max_length=20, default=CREATED)
    completed_at = BigIntegerField(null=True)
    failed_at = BigIntegerField(null=True)
    last_error = JsonField(default=dict)
    usage = JsonField(default=dict)
    meta_data = JsonField(default=dict)
    required_action = JsonField(null=True)
    state = JsonField(null=True)  # what a requires_action run needs to resume
    save_history = BooleanField(default=True)
    worker_id = BigIntegerField(null=True)  # the WorkerInstance running it


class ChatRunWait(BaseModel):
    """A requires_action run waiting for an end user to authorize a plugin: the authorization's
    callback finds the runs to resume here."""

    run = ForeignKeyField(ChatRun, on_delete="CASCADE")
    plugin_id = BigIntegerField()
    holder = CharField(max_length=300)

    class Meta:
        table_name = "chat_run_wait"
        indexes = ((("plugin_id", "holder"), False),)


class Message(BaseModel):
    conversation = ForeignKeyField(Conversation, backref="messages", on_delete="CASCADE")
    run = ForeignKeyField(ChatRun, backref="messages", null=True, on_delete="CASCADE")
    turn_id = BigIntegerField(index=True)  # the run's id, or the message's own when added alone
    section_id = BigIntegerField()
    bot = ForeignKeyField(Bot, on_delete="CASCADE")
    creator = ForeignKeyField(User, on_delete="CASCADE")
    role = CharField(max_length=20)
    type = CharField(max_length=30)
    content = TextField(default="")
    content_type = CharField(max_length=30, default="text")
    reasoning_content = TextField(default="")
    meta_data = JsonField(default=dict)
    extra_info = JsonField(default=dict)
    reply_id = BigIntegerField(null=True)  # the question this message answers
    status = CharField(max_length=20, default=AVAILABLE)
    broken_pos = IntegerField(null=True)

    class Meta:
        indexes = ((("conversation", "id"), False),)
