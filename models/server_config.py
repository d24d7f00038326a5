"""Server-wide settings that administrators change at run time (JSON per key)."""

from __future__ import annotations

import json

from peewee import BigIntegerField, CharField, Model, TextField

from models.base import CompiledQuery, now_s
from models.db import db


class ServerConfig(Model):
    key = CharField(max_length=100, primary_key=True)
    value = TextField(default="{}")
    updated_at = BigIntegerField(default=0)

    class Meta:
        database = db
        table_name = "server_config"

    @classmethod
    def read(cls, key: str) -> dict:
        found = _BY_KEY.first(key=key)  # read per request by core/authz: SQL built once
        return json.loads(found[0].value) if found else {}

    @classmethod
    def write(cls, key: str, value: dict) -> None:
        encoded = json.dumps(value, separators=(",", ":"))
        (
            cls.insert(key=key, value=encoded, updated_at=now_s())
            .on_conflict(conflict_target=[cls.key], update={cls.value: encoded, cls.updated_at: now_s()})
            .execute()
        )


_BY_KEY = CompiledQuery(
    (ServerConfig,), lambda key: ServerConfig.select().where(ServerConfig.key == key).limit(1), key="\x00key"
)
