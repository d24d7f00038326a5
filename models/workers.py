"""The processes that run work (servers and `cozeplus worker`s), each with a heartbeat, so that
work whose process died can be told from work still running."""

from __future__ import annotations

from peewee import BigIntegerField, CharField, IntegerField

from models.base import BaseModel


class WorkerInstance(BaseModel):
    host = CharField(max_length=255)
    pid = IntegerField()
    kind = CharField(max_length=20)  # "server" or "worker"
    started_at = BigIntegerField()
    heartbeat_at = BigIntegerField(index=True)

    class Meta:
        table_name = "worker_instance"
