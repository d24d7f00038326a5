"""Uploaded files: metadata here, bytes in the storage backend (a local directory by default)."""

from __future__ import annotations

from peewee import BigIntegerField, CharField, ForeignKeyField, IntegerField

from models.base import BaseModel
from models.identity import User


class StoredFile(BaseModel):
    owner = ForeignKeyField(User, backref="files", on_delete="CASCADE")
    file_name = CharField(max_length=255)
    content_type = CharField(max_length=100)
    size = BigIntegerField()
    sha256 = CharField(max_length=64)
    storage_key = CharField(max_length=255, unique=True)
    biz_type = IntegerField(default=0)

    class Meta:
        table_name = "stored_file"
