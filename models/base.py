"""BaseModel: a 64-bit time-ordered primary key and Unix-second timestamps."""
from __future__ import annotations

import time

from peewee import BigIntegerField, Model

from core.ids import new_id
from models.db import db


def now_s() -> int:
    return int(time.time())


class BaseModel(Model):
    id = BigIntegerField(primary_key=True, default=new_id)
    created_at = BigIntegerField(default=now_s)
    updated_at = BigIntegerField(default=now_s)

    class Meta:
        database = db
        legacy_table_names = False

    def touch(self, **changes) -> None:
        """Apply changes, stamp updated_at and save the changed fields only."""
        for name, value in changes.items():
            setattr(self, name, value)
        self.updated_at = now_s()
        self.save(only=[*(self._meta.fields[n] for n in changes), BaseModel.updated_at])
