"""The model registry: the LLMs an agent's model_conf.model_id may name."""

from __future__ import annotations

from peewee import BooleanField, CharField, IntegerField, TextField

from models.base import BaseModel, JsonField
from models.db import db

KIND_CHAT, KIND_EMBEDDING, KIND_RERANK = "chat", "embedding", "rerank"
PROTOCOL_OPENAI = "openai"
PROTOCOL_BUILTIN = "builtin"
PROTOCOL_LOCAL = "local"  # runs inside the server (services/local_models)
BUILTIN_MODEL_ID = 1  # the offline model seeded by migration 0002


class LlmModel(BaseModel):
    name = CharField(max_length=100)
    model_name = CharField(max_length=200)
    protocol = CharField(max_length=20, default=PROTOCOL_OPENAI)
    base_url = CharField(max_length=500, default="")
    api_key_encrypted = TextField(default="")
    api_key_hint = CharField(max_length=20, default="")
    description = TextField(default="")
    context_length = IntegerField(default=8192)
    capabilities = JsonField(default=dict)  # tool_call, vision, reasoning, json_mode
    default_params = JsonField(default=dict)  # temperature, max_tokens, top_p, ...
    is_enabled = BooleanField(default=True)
    is_default = BooleanField(default=False)
    kind = CharField(max_length=20, default=KIND_CHAT)  # chat, embedding (knowledge vectors), rerank
    dimensions = IntegerField(null=True)  # embedding models: the vector length

    class Meta:
        table_name = "llm_model"

    @classmethod
    def listed(cls, include_disabled: bool, kind: str | None = None):
        query = cls.select().order_by(cls.is_default.desc(), cls.id)
        if kind is not None:
            query = query.where(cls.kind == kind)
        return query if include_disabled else query.where(cls.is_enabled == True)  # noqa: E712

    @classmethod
    def default_model(cls):
        return (
            cls.select()
            .where(cls.is_enabled == True, cls.kind == KIND_CHAT)  # noqa: E712
            .order_by(cls.is_default.desc(), cls.id)
            .first()
        )

    def make_default(self) -> None:
        with db.atomic():
            type(self).update(is_default=False).where(type(self).id != self.id).execute()
            self.touch(is_default=True)
