"""BaseModel: a 64-bit time-ordered primary key and Unix-second timestamps."""

from __future__ import annotations

import json
import threading
import time
from typing import Self

from peewee import BigIntegerField, Model, TextField

from core.ids import new_id, parse_id
from models.db import db


def now_s() -> int:
    return int(time.time())


class JsonField(TextField):
    """JSON in a text column: the same on SQLite and PostgreSQL."""

    def db_value(self, value):
        return None if value is None else json.dumps(value, ensure_ascii=False, separators=(",", ":"))

    def python_value(self, value):
        return None if value is None else json.loads(value)


_INSERTS: dict = {}
_UPDATES: dict = {}
_BY_ID: dict = {}


class BaseModel(Model):
    id = BigIntegerField(primary_key=True, default=new_id)
    created_at = BigIntegerField(default=now_s)
    updated_at = BigIntegerField(default=now_s)

    class Meta:
        database = db
        legacy_table_names = False

    @classmethod
    def by_id(cls, row_id: int):
        """The row with this id, or None; SQL compiled once per model (the lookups every request
        makes: resources, their spaces, models)."""
        query = _BY_ID.get(cls)
        if query is None:
            query = _BY_ID[cls] = CompiledQuery(
                (cls,), lambda row_id: cls.select().where(cls.id == row_id).limit(1), row_id=-7301231
            )
        found = query.first(row_id=row_id)
        return found[0] if found else None

    @classmethod
    def requested(cls, raw_id, *conditions):
        """The row a request names by `raw_id` (a string or number, maybe malformed) and that
        meets `conditions` (typically: belongs to the parent in the path), or None."""
        number = parse_id(raw_id)
        if number is None:
            return None
        return cls.get_or_none(cls.id == number, *conditions)

    def insert_new(self):
        """Insert this new row (id and defaults already set) with SQL built once per model and
        database: Peewee spends about half a millisecond building a wide INSERT, which the chat
        runtime pays several times before its first token."""
        key = (type(self), id(db.obj))
        compiled = _INSERTS.get(key)
        if compiled is None:
            fields = self._meta.sorted_fields
            database = db.obj
            left, right = database.quote  # the identifier quotes, e.g. '""'
            sql = (
                f"INSERT INTO {left}{self._meta.table_name}{right} "
                f"({', '.join(left + f.column_name + right for f in fields)}) "
                f"VALUES ({', '.join([database.param] * len(fields))})"
            )
            compiled = _INSERTS[key] = (sql, fields)
        sql, fields = compiled
        db.execute_sql(sql, [field.db_value(self.__data__.get(field.name)) for field in fields])
        self._dirty.clear()
        return self

    @classmethod
    def update_where(cls, row_id: int, where: dict, **changes) -> int:
        """UPDATE the row `row_id` with `changes` if its fields equal `where`; the rows changed (0
        or 1). The SQL is built once per model, database and set of field names: Peewee's query
        building costs more than the statement on hot paths (a workflow run's end)."""
        key = (cls, id(db.obj), tuple(changes), tuple(where))
        sql = _UPDATES.get(key)
        if sql is None:
            database = db.obj
            left, right = database.quote
            columns = lambda names, joiner: joiner.join(  # noqa: E731
                f"{left}{cls._meta.fields[n].column_name}{right} = {database.param}" for n in names
            )
            sql = _UPDATES[key] = (
                f"UPDATE {left}{cls._meta.table_name}{right} SET {columns(changes, ', ')} "
                f"WHERE {left}id{right} = {database.param}"
                + "".join(f" AND {columns([n], '')}" for n in where)
            )
        fields = cls._meta.fields
        params = [fields[n].db_value(v) for n, v in changes.items()]
        params += [row_id] + [fields[n].db_value(v) for n, v in where.items()]
        return db.execute_sql(sql, params).rowcount

    def touch(self, **changes) -> Self:
        """Apply changes, stamp updated_at and save the changed fields only; the row, changed."""
        for name, value in changes.items():
            setattr(self, name, value)
        self.updated_at = now_s()
        self.save(only=[*(self._meta.fields[n] for n in changes), BaseModel.updated_at])
        return self


class CompiledQuery:
    """A hot query whose SQL is built once per database and then only executed.

    Peewee spends most of a simple indexed lookup (~0.8 ms of ~0.8 ms) generating SQL; the
    per-request credential checks run this instead. `build(**params)` returns the peewee query;
    `sentinels` are unique values that locate each parameter in the generated SQL.
    """

    def __init__(self, models: tuple, build, **sentinels):
        self.models = models
        self.build = build
        self.sentinels = sentinels
        self._compiled: dict[int, tuple[str, list]] = {}
        self._lock = threading.Lock()

    def _sql(self):
        key = id(db.obj)
        if key not in self._compiled:
            with self._lock:
                sql, params = self.build(**self.sentinels).sql()
                names = {v: n for n, v in self.sentinels.items()}
                # each parameter is either one of ours (by name) or a constant such as LIMIT 1
                order = [(names[p], None) if p in names else (None, p) for p in params]
                self._compiled[key] = (sql, order)
        return self._compiled[key]

    def first(self, **values):
        """The first row as a tuple of model instances (one per model), or None."""
        sql, order = self._sql()
        params = [values[name] if name else constant for name, constant in order]
        row = db.execute_sql(sql, params).fetchone()
        if row is None:
            return None
        instances, start = [], 0
        for model in self.models:
            fields = model._meta.sorted_fields
            data = {f.name: f.python_value(v) for f, v in zip(fields, row[start : start + len(fields)])}
            instance = model(__no_default__=1)
            instance.__data__ = data
            instance._dirty.clear()
            instances.append(instance)
            start += len(fields)
        return tuple(instances)
