"""The prompt library and agents' shortcut commands."""

from __future__ import annotations

from peewee import CharField, ForeignKeyField, TextField

from models.agent import Bot
from models.base import BaseModel, JsonField
from models.identity import Space, User


class PromptResource(BaseModel):
    space = ForeignKeyField(Space, backref="prompts", on_delete="CASCADE")
    creator = ForeignKeyField(User, on_delete="CASCADE")
    name = CharField(max_length=100)
    description = TextField(default="")
    prompt_text = TextField(default="")

    class Meta:
        table_name = "prompt_resource"


class ShortcutCommand(BaseModel):
    bot = ForeignKeyField(Bot, backref="shortcuts", on_delete="CASCADE")
    command_name = CharField(max_length=100)
    shortcut_command = CharField(max_length=100)  # what the user types: "/name"
    config = JsonField(default=dict)  # description, send_type, tool, template, components ...

    class Meta:
        table_name = "shortcut_command"
        indexes = ((("bot", "shortcut_command"), True), (("bot", "command_name"), True))

    @classmethod
    def of_bot(cls, bot_id: int):
        return cls.select().where(cls.bot == bot_id).order_by(cls.id)
