"""Idempotency keys: the first answer to a creating request, kept so that a retry with the same
key gets it again instead of doing the work twice (core/idempotency.py)."""

from __future__ import annotations

from peewee import BigIntegerField, BlobField, CharField, IntegerField

from models.base import BaseModel, now_s

RUNNING, DONE = "running", "done"
KEEP_SECONDS = 24 * 3600  # how long a key answers for its first request


class IdempotencyKey(BaseModel):
    owner = CharField(max_length=40)  # "user:<id>": a user's sessions and tokens share keys
    key = CharField(max_length=255)
    operation = CharField(max_length=100)
    fingerprint = CharField(max_length=64)  # sha256 of method, path, query and body
    status = CharField(max_length=10, default=RUNNING)
    worker_id = BigIntegerField(null=True)  # the process running the first request
    response_status = IntegerField(default=0)
    response_type = CharField(max_length=200, default="")
    response_body = BlobField(null=True)  # None: too large to keep, so not replayable
    created_at = BigIntegerField(default=now_s, index=True)  # keys expire after a day

    class Meta:
        table_name = "idempotency_key"
        indexes = ((("owner", "key"), True),)
