"""The model registry, with the built-in offline model (id 1) as the default (frozen copy)."""

import json
import time

from peewee import BigIntegerField, BooleanField, CharField, IntegerField, Model, TextField


def _table(db):
    class LlmModel(Model):
        id = BigIntegerField(primary_key=True)
        created_at = BigIntegerField()
        updated_at = BigIntegerField()
        name = CharField(max_length=100)
        model_name = CharField(max_length=200)
        protocol = CharField(max_length=20, default="openai")
        base_url = CharField(max_length=500, default="")
        api_key_encrypted = TextField(default="")
        api_key_hint = CharField(max_length=20, default="")
        description = TextField(default="")
        context_length = IntegerField(default=8192)
        capabilities = TextField(default="{}")
        default_params = TextField(default="{}")
        is_enabled = BooleanField(default=True)
        is_default = BooleanField(default=False)

        class Meta:
            database = db
            table_name = "llm_model"

    return LlmModel


def up(migrator, db):
    table = _table(db)
    db.create_tables([table])
    now = int(time.time())
    table.create(
        id=1,
        created_at=now,
        updated_at=now,
        name="Built-in offline model (development)",
        model_name="cozeplus-offline",
        protocol="builtin",
        description="Answers deterministically without any network: for development and tests, "
        "not a real LLM. Add a real model in the registry for production.",
        context_length=32768,
        capabilities=json.dumps({"tool_call": True, "vision": False, "reasoning": False, "json_mode": True}),
        default_params=json.dumps({"temperature": 0.7, "max_tokens": 1024, "top_p": 1.0}),
        is_enabled=True,
        is_default=True,
    )


def down(migrator, db):
    db.drop_tables([_table(db)])
