"""The audit log: one row per write or permission change, never changed afterwards."""

from __future__ import annotations

from peewee import BigIntegerField, CharField, IntegerField

from models.base import BaseModel, JsonField


class AuditEntry(BaseModel):
    actor_id = BigIntegerField(null=True)  # no foreign key: the entry outlives the user
    operation = CharField(max_length=100)
    method = CharField(max_length=10)
    path = CharField(max_length=500)
    resource_type = CharField(max_length=40, default="")  # the operation's tag
    resource_ids = JsonField(default=list)  # the ids the request named (strings)
    space_id = BigIntegerField(null=True)
    status = IntegerField(default=0)
    code = IntegerField(default=0)
    client_ip = CharField(max_length=64, default="")
    user_agent = CharField(max_length=300, default="")
    request_id = CharField(max_length=64, default="")

    class Meta:
        table_name = "audit_entry"
        indexes = ((("actor_id", "id"), False), (("operation", "id"), False), (("space_id", "id"), False))
