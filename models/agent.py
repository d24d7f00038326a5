"""Agents (Coze's draft bots), their published versions and where each is published."""

from __future__ import annotations

from peewee import BigIntegerField, CharField, ForeignKeyField, IntegerField, TextField, fn

from models.base import BaseModel, JsonField
from models.identity import Space, User

CONNECTOR_API = 1024
CONNECTOR_CHAT_SDK = 999
CONNECTORS = {  # id: (name, description, bind_type): the connectors an agent can be published to
    CONNECTOR_API: ("API", "Call the agent through the Open API (/v3/chat) and the SDKs", 5),
    CONNECTOR_CHAT_SDK: ("Chat SDK", "Embed the agent in a web page with the Chat SDK", 6),
}

HISTORY_PUBLISH = 2


class Bot(BaseModel):
    space = ForeignKeyField(Space, backref="bots", on_delete="CASCADE")
    creator = ForeignKeyField(User, backref="bots", on_delete="CASCADE")
    name = CharField(max_length=100)
    description = TextField(default="")
    icon_uri = CharField(max_length=500, default="")
    bot_mode = IntegerField(default=0)
    visibility = IntegerField(default=0)
    config = JsonField(default=dict)  # the BotInfo parts: prompt, model, tools, knowledge ...
    display_info = JsonField(default=dict)  # UI tab states (get/update_display_info)
    draft_version = IntegerField(default=1)  # +1 on every change of the draft
    published_draft_version = IntegerField(default=0)  # draft_version at the last publish

    @classmethod
    def in_space(cls, space_id: int):
        return cls.select().where(cls.space == space_id)

    @property
    def has_unpublished_change(self) -> bool:
        return self.draft_version != self.published_draft_version


class BotVersion(BaseModel):
    """A published snapshot: later draft edits never change what a connector runs."""

    bot = ForeignKeyField(Bot, backref="versions", on_delete="CASCADE")
    creator = ForeignKeyField(User, on_delete="CASCADE")
    snapshot = JsonField()
    connector_ids = JsonField(default=list)
    draft_version = IntegerField()
    history_type = IntegerField(default=HISTORY_PUBLISH)
    info = TextField(default="")

    @property
    def version(self) -> str:
        return str(self.id)


class BotPublication(BaseModel):
    """Which version each connector runs."""

    bot = ForeignKeyField(Bot, backref="publications", on_delete="CASCADE")
    connector_id = BigIntegerField()
    version = ForeignKeyField(BotVersion, on_delete="CASCADE")

    class Meta:
        indexes = ((("bot", "connector_id"), True),)

    @classmethod
    def last_published_at(cls, bots) -> dict[int, int]:
        """{bot id: time of its latest publication} for the given bot ids or Bot query."""
        return dict(
            cls.select(cls.bot, fn.MAX(cls.updated_at)).where(cls.bot.in_(bots)).group_by(cls.bot).tuples()
        )
