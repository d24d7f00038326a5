"""The rows of user-defined databases.

Each database has two tables of its own, a draft copy (the playground) and an online copy (the
published agent), with one typed column per field: `memory_rows_<database id>_<copy>`, columns
`f<field id>`, every name made from integers here, so no name, value, filter or sort key a user
sends ever becomes SQL text (values are bound parameters; names are looked up in the schema). Each
field column is indexed (hash on PostgreSQL for text, whose values may be longer than a b-tree
entry), and the end user's columns together, so filters and per-user isolation use indexes.

Values travel as strings (Coze's map<string, string>) and are parsed by their field's type, with
the row and field named when one does not fit."""

from __future__ import annotations

import dataclasses
import datetime
import json
import math
import re
import time
from collections.abc import Iterable

from peewee import (
    SQL,
    BigIntegerField,
    BooleanField,
    CharField,
    DoubleField,
    Model,
    NodeList,
    SqliteDatabase,
    TextField,
    fn,
)
from playhouse.migrate import SchemaMigrator

from core import errors
from core.ids import new_id, parse_id
from core.settings import get_settings
from models.db import db
from models.memory import (
    COPIES,
    FIELD_BOOLEAN,
    FIELD_FLOAT,
    FIELD_INTEGER,
    FIELD_TEXT,
    FIELD_TIME,
    MemoryDatabase,
    MemoryRowCount,
)

MAX_TEXT = 10_000
MAX_IN_VALUES = 100
MAX_CONDITIONS = 20
MAX_NESTING = 3  # the top group and two nested ones (the spec has three levels)
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
_TIME_INPUTS = (TIME_FORMAT, "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d")
_INTEGER = re.compile(r"[+-]?[0-9]{1,19}")
TYPE_NAMES = {
    FIELD_TEXT: "text",
    FIELD_INTEGER: "an integer",
    FIELD_TIME: "a time (YYYY-MM-DD HH:MM:SS)",
    FIELD_FLOAT: "a number",
    FIELD_BOOLEAN: "true or false",
}

# Coze's Operation
EQUAL, NOT_EQUAL, GREATER, LESS, GREATER_EQUAL, LESS_EQUAL = 1, 2, 3, 4, 5, 6
IN, NOT_IN, IS_NULL, IS_NOT_NULL, LIKE, NOT_LIKE = 7, 8, 9, 10, 11, 12
OPERATIONS = {
    "=": EQUAL,
    "!=": NOT_EQUAL,
    ">": GREATER,
    "<": LESS,
    ">=": GREATER_EQUAL,
    "<=": LESS_EQUAL,
    "in": IN,
    "not in": NOT_IN,
    "is null": IS_NULL,
    "is not null": IS_NOT_NULL,
    "like": LIKE,
    "not like": NOT_LIKE,
}

# System columns, shown with Coze's names: (column attribute, type)
SYSTEM_FIELDS = {
    "bstudio_id": ("id", FIELD_INTEGER),
    "bstudio_create_time": ("created_at", FIELD_TIME),
    "bstudio_connector_uid": ("connector_uid", FIELD_TEXT),
    "bstudio_connector_id": ("connector_id", FIELD_INTEGER),
}


@dataclasses.dataclass(frozen=True)
class Scope:
    """Whose rows: an end user on a connector, or (None) everyone's."""

    connector_uid: str | None = None
    connector_id: int | None = None


@dataclasses.dataclass(frozen=True)
class Page:
    rows: list[dict]
    total: int
    has_more: bool


def max_rows() -> int:
    """Rows one copy of a table may hold (COZEPLUS_MEMORY_MAX_ROWS)."""
    return get_settings().memory_max_rows


# --- the tables ------------------------------------------------------------------------------

_MODELS: dict[tuple, type[Model]] = {}


def _column(kind: int):
    if kind == FIELD_INTEGER:
        return BigIntegerField(null=True)
    if kind == FIELD_FLOAT:
        return DoubleField(null=True)
    if kind == FIELD_BOOLEAN:
        return BooleanField(null=True)
    if kind == FIELD_TIME:
        return CharField(max_length=19, null=True)  # TIME_FORMAT sorts as time does
    return TextField(null=True)


def row_model(database: MemoryDatabase, copy: int) -> type[Model]:
    """The Peewee model of one copy's table, as the database's schema now is."""
    signature = tuple((f["id"], f["type"]) for f in database.fields)
    key = (database.id, copy, signature, id(db.obj))
    model = _MODELS.get(key)
    if model is None:
        attrs = {
            "id": BigIntegerField(primary_key=True),
            "created_at": CharField(max_length=19),
            "connector_uid": CharField(max_length=255, default=""),
            "connector_id": BigIntegerField(default=0),
            "Meta": type("Meta", (), {"database": db, "table_name": database.table_name(copy)}),
        }
        attrs.update({f"f{f['id']}": _column(f["type"]) for f in database.fields})
        model = _MODELS[key] = type(f"MemoryRows{database.id}{COPIES[copy].title()}", (Model,), attrs)
    return model


def _index_name(database: MemoryDatabase, copy: int, column: str) -> str:
    return f"{database.table_name(copy)}_{column}"


def _add_field_index(migrator: SchemaMigrator, database: MemoryDatabase, copy: int, field: dict) -> None:
    table, column = database.table_name(copy), f"f{field['id']}"
    if field["type"] == FIELD_TEXT and not isinstance(db.obj, SqliteDatabase):
        # identifiers made from integers only (see the module's docstring)
        db.execute_sql(
            f'CREATE INDEX "{_index_name(database, copy, column)}" ON "{table}" USING hash ("{column}")'
        )
    else:
        migrator.add_index(table, (column,)).run()


def create_tables(database: MemoryDatabase) -> None:
    migrator = SchemaMigrator.from_database(db.obj)
    for copy in COPIES:
        model = row_model(database, copy)
        model.create_table(safe=False)
        migrator.add_index(database.table_name(copy), ("connector_uid", "connector_id")).run()
        for field in database.fields:
            _add_field_index(migrator, database, copy, field)
        MemoryRowCount.insert(database=database.id, copy=copy, rows=0).execute()


def alter_tables(database: MemoryDatabase, added: list[dict], dropped: list[dict]) -> None:
    """Add and drop columns (the database's `fields` already hold the new schema)."""
    migrator = SchemaMigrator.from_database(db.obj)
    for copy in COPIES:
        table = database.table_name(copy)
        for field in dropped:
            column = f"f{field['id']}"
            migrator.drop_index(table, _index_name(database, copy, column)).run()
            migrator.drop_column(table, column).run()
        for field in added:
            migrator.add_column(table, f"f{field['id']}", _column(field["type"])).run()
            _add_field_index(migrator, database, copy, field)


def drop_tables(database: MemoryDatabase) -> None:
    MemoryRowCount.delete().where(MemoryRowCount.database == database.id).execute()
    for copy in COPIES:
        db.execute_sql(f'DROP TABLE IF EXISTS "{database.table_name(copy)}"')


# --- values ----------------------------------------------------------------------------------


def parse_value(kind: int, raw, where: str):
    """A wire value (a string) as its field's type stores it; None for empty."""
    if raw is None or raw == "":
        return None
    if not isinstance(raw, str):
        raw = json.dumps(raw) if isinstance(raw, dict | list) else str(raw)
    text = raw.strip()
    try:
        if kind == FIELD_TEXT:
            if len(raw) > MAX_TEXT:
                raise ValueError(f"is longer than {MAX_TEXT} characters")
            return raw
        if kind == FIELD_INTEGER:
            if not _INTEGER.fullmatch(text) or not -(2**63) <= int(text) < 2**63:
                raise ValueError(f"must be {TYPE_NAMES[kind]}")
            return int(text)
        if kind == FIELD_FLOAT:
            number = float(text)
            if not math.isfinite(number):
                raise ValueError(f"must be {TYPE_NAMES[kind]}")
            return number
        if kind == FIELD_BOOLEAN:
            flag = {"true": True, "1": True, "false": False, "0": False}.get(text.lower())
            if flag is None:
                raise ValueError(f"must be {TYPE_NAMES[kind]}")
            return flag
        if kind == FIELD_TIME:
            return _time(text).strftime(TIME_FORMAT)
    except ValueError as exc:
        reason = str(exc) if str(exc).startswith(("must", "is")) else f"must be {TYPE_NAMES[kind]}"
        raise errors.DATABASE_VALUE_INVALID(f"{where}: {reason}")
    raise errors.DATABASE_VALUE_INVALID(f"{where}: unknown field type {kind}")


def _time(text: str) -> datetime.datetime:
    for pattern in _TIME_INPUTS:
        try:
            return datetime.datetime.strptime(text, pattern)
        except ValueError:
            continue
    raise ValueError(f"must be {TYPE_NAMES[FIELD_TIME]}")


def render_value(kind: int, value) -> str:
    if value is None:
        return ""
    if kind == FIELD_BOOLEAN:
        return "true" if value else "false"
    if kind == FIELD_FLOAT:
        return repr(float(value))
    return str(value)


def now_text() -> str:
    """Now, as a row's creation time is stored."""
    return _now()


def _now() -> str:
    return time.strftime(TIME_FORMAT, time.gmtime())


def _row_view(database: MemoryDatabase, row) -> dict:
    return _columns_view(database, row.__data__)


def _columns_view(database: MemoryDatabase, columns: dict) -> dict:
    """A row (its columns by name) as the wire shows it: every value a string."""
    view = {
        "bstudio_id": str(columns["id"]),
        "bstudio_create_time": columns["created_at"],
        "bstudio_connector_uid": columns["connector_uid"],
        "bstudio_connector_id": str(columns["connector_id"]),
    }
    for field in database.fields:
        view[field["name"]] = render_value(field["type"], columns.get(f"f{field['id']}"))
    return view


# --- filters and order -------------------------------------------------------------------------


def _named(database: MemoryDatabase, model, name, where: str):
    """(column, type) of a field or system field named by a request."""
    if not isinstance(name, str):
        raise errors.DATABASE_FIELD_UNKNOWN(f"{where}: must be a field name")
    for field in database.fields:
        if field["name"].lower() == name.lower():
            return getattr(model, f"f{field['id']}"), field["type"]
    if name.lower() in SYSTEM_FIELDS:
        attribute, kind = SYSTEM_FIELDS[name.lower()]
        return getattr(model, attribute), kind
    known = ", ".join([f["name"] for f in database.fields] + list(SYSTEM_FIELDS))
    raise errors.DATABASE_FIELD_UNKNOWN(f"{where}: no field {name[:64]!r} in table {database.name} ({known})")


def _like_pattern(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped.lower()}%"


def _condition(database: MemoryDatabase, model, condition: dict, where: str):
    column, kind = _named(database, model, condition.get("left"), f"{where}.left")
    operation = condition.get("operation")
    right = condition.get("right")
    if operation in (IS_NULL, IS_NOT_NULL):
        return column.is_null(operation == IS_NULL)
    if operation in (IN, NOT_IN):
        values = right if isinstance(right, list) else _json_list(right, f"{where}.right")
        if not values or len(values) > MAX_IN_VALUES:
            raise errors.DATABASE_FILTER_INVALID(
                f"{where}.right: IN takes 1 to {MAX_IN_VALUES} values (a JSON array of strings)"
            )
        parsed = [parse_value(kind, v, f"{where}.right[{i}]") for i, v in enumerate(values)]
        return column.in_(parsed) if operation == IN else column.not_in(parsed)
    if operation in (LIKE, NOT_LIKE):
        if kind != FIELD_TEXT:
            raise errors.DATABASE_FILTER_INVALID(f"{where}.operation: LIKE applies to text fields only")
        pattern = _like_pattern(str(right or ""))  # a bound parameter, like every value
        match = NodeList((fn.LOWER(column), SQL("LIKE"), pattern, SQL("ESCAPE '\\'")))
        return match if operation == LIKE else ~match
    value = parse_value(kind, right, f"{where}.right")
    if value is None:
        raise errors.DATABASE_FILTER_INVALID(f"{where}.right: compare with a value, or use IS_NULL (9)")
    comparisons = {
        EQUAL: column == value,
        NOT_EQUAL: column != value,
        GREATER: column > value,
        LESS: column < value,
        GREATER_EQUAL: column >= value,
        LESS_EQUAL: column <= value,
    }
    if operation not in comparisons:
        raise errors.DATABASE_FILTER_INVALID(
            f"{where}.operation: {operation!r} is not an operation (1 to 12)"
        )
    return comparisons[operation]


def _json_list(raw, where: str) -> list:
    try:
        values = json.loads(raw) if isinstance(raw, str) else None
    except ValueError:
        values = None
    if not isinstance(values, list):
        raise errors.DATABASE_FILTER_INVALID(f'{where}: IN takes a JSON array of strings, e.g. ["a", "b"]')
    return values


def filter_expression(database: MemoryDatabase, model, criterion: dict | None, where: str, depth: int = 0):
    """Coze's ComplexCondition ({conditions, nestedConditions, logic}) as one expression, or None."""
    if not criterion:
        return None
    if depth >= MAX_NESTING:
        raise errors.DATABASE_FILTER_INVALID(f"{where}: conditions nest at most {MAX_NESTING} deep")
    logic = str(criterion.get("logic") or "AND").upper()
    if logic not in ("AND", "OR"):
        raise errors.DATABASE_FILTER_INVALID(f"{where}.logic: must be AND or OR")
    conditions = criterion.get("conditions") or []
    if len(conditions) > MAX_CONDITIONS:
        raise errors.DATABASE_FILTER_INVALID(f"{where}.conditions: at most {MAX_CONDITIONS} conditions")
    parts = [_condition(database, model, c, f"{where}.conditions[{i}]") for i, c in enumerate(conditions)]
    nested = filter_expression(
        database, model, criterion.get("nestedConditions"), f"{where}.nestedConditions", depth + 1
    )
    if nested is not None:
        parts.append(nested)
    if not parts:
        return None
    combined = parts[0]
    for part in parts[1:]:
        combined = (combined & part) if logic == "AND" else (combined | part)
    return combined


def _order(database: MemoryDatabase, model, order_by: list[dict] | None, where: str) -> list:
    ordering = []
    for index, item in enumerate(order_by or []):
        column, _ = _named(database, model, item.get("field"), f"{where}[{index}].field")
        ordering.append(column.desc() if item.get("direction") == 2 else column.asc())
    return [*ordering, model.id.desc()]  # newest first; a stable order for paging


def _scoped(query, model, scope: Scope):
    if scope.connector_uid is not None:
        query = query.where(model.connector_uid == scope.connector_uid)
    if scope.connector_id is not None:
        query = query.where(model.connector_id == scope.connector_id)
    return query


# --- records ---------------------------------------------------------------------------------


def _values(database: MemoryDatabase, record: dict, where: str, *, partial: bool) -> dict:
    """A record's field values as columns; unknown names and missing required fields refused."""
    by_name = {f["name"].lower(): f for f in database.fields}
    columns = {}
    for name, raw in record.items():
        key = str(name).lower()
        if key in SYSTEM_FIELDS:
            continue
        field = by_name.get(key)
        if field is None:
            raise errors.DATABASE_FIELD_UNKNOWN(
                f"{where}: no field {str(name)[:64]!r} in table {database.name}"
            )
        columns[f"f{field['id']}"] = parse_value(field["type"], raw, f"{where}.{field['name']}")
    for field in database.fields:
        column = f"f{field['id']}"
        if not field.get("must_required") or (partial and column not in columns):
            continue
        if columns.get(column) is None:
            raise errors.DATABASE_VALUE_INVALID(f"{where}.{field['name']}: is required")
    return columns


# --- reading and writing -----------------------------------------------------------------------


class Rows:
    """One copy (draft or online) of a database's rows."""

    def __init__(self, database: MemoryDatabase, copy: int):
        self.database, self.copy = database, copy
        self.model = row_model(database, copy)

    def _matching(self, scope: Scope, criterion: dict | None, where: str):
        query = _scoped(self.model.select(self.model.id), self.model, scope)
        condition = filter_expression(self.database, self.model, criterion, where)
        return query.where(condition) if condition is not None else query

    def list(
        self,
        scope: Scope,
        *,
        criterion: dict | None = None,
        order_by: list[dict] | None = None,
        limit: int = 50,
        offset: int = 0,
        where: str = "filter_criterion",
    ) -> Page:
        model = self.model
        query = _scoped(model.select(SQL("*")), model, scope)  # the table's own columns, by name
        condition = filter_expression(self.database, model, criterion, where)
        if condition is not None:
            query = query.where(condition)
        ordering = _order(self.database, model, order_by, "order_by_list")
        # raw rows: the views render every value as text, so the driver's types serve as they are
        cursor = db.execute(query.order_by(*ordering).limit(limit + 1).offset(offset))
        names = [column[0] for column in cursor.description]
        rows = [dict(zip(names, values)) for values in cursor.fetchall()]
        has_more = len(rows) > limit
        if has_more or (offset and not rows):
            total = query.select(fn.COUNT(SQL("*"))).scalar()
        else:
            total = offset + len(rows)  # this page holds the last row: nothing left to count
        view = [_columns_view(self.database, r) for r in rows[:limit]]
        return Page(view, total, has_more)

    def check(self, record: dict, where: str) -> dict:
        """A new record's values as columns (every field: rows insert alike), or the error naming
        the field that does not fit."""
        empty = {f"f{field['id']}": None for field in self.database.fields}
        return {**empty, **_values(self.database, record, where, partial=False)}

    def insert(self, owner: Scope, records: Iterable[dict], where: str) -> list[dict]:
        """New rows stamped with their end user; all or none (the caller holds the transaction)."""
        checked = [self.check(record, f"{where}[{index}]") for index, record in enumerate(records)]
        return self.insert_checked(owner, checked, where)

    def room(self) -> int:
        """How many more rows this copy may hold."""
        return max(0, max_rows() - self.count())

    def _counted(self, change: int, *, limit: int | None = None) -> bool:
        """Move the row count by `change`, unless that passes `limit`; one statement, so two
        writers cannot both take the last room."""
        query = MemoryRowCount.update(rows=MemoryRowCount.rows + change).where(
            (MemoryRowCount.database == self.database.id) & (MemoryRowCount.copy == self.copy)
        )
        if limit is not None:
            query = query.where(MemoryRowCount.rows + change <= limit)
        return query.execute() == 1

    def take_room(self, rows: int) -> bool:
        """Count `rows` more, if they fit (for rows inserted by SQL of the caller's)."""
        return self._counted(rows, limit=max_rows())

    def give_back(self, rows: int) -> None:
        """Count `rows` fewer (deleted by SQL of the caller's)."""
        if rows:
            self._counted(-rows)

    def insert_checked(self, owner: Scope, columns: list[dict], where: str) -> list[dict]:
        if not columns:
            return []
        limit = max_rows()
        if not self._counted(len(columns), limit=limit):
            raise errors.DATABASE_ROW_LIMIT(
                f"{where}: table {self.database.name} holds {self.count()} of at most {limit} rows;"
                f" {len(columns)} more do not fit"
            )
        stamp = {
            "created_at": _now(),
            "connector_uid": owner.connector_uid or "",
            "connector_id": owner.connector_id or 0,
        }
        prepared = [{"id": new_id(), **stamp, **values} for values in columns]
        for start in range(0, len(prepared), 200):  # within SQLite's bound-parameter limit
            self.model.insert_many(prepared[start : start + 200]).execute()
        return [_row_view(self.database, self.model(**row)) for row in prepared]

    def _existing(self, scope: Scope, records: list[dict], where: str) -> tuple[list[int], dict]:
        """The ids the records name (`bstudio_id`) and their rows, each of which must exist."""
        ids = []
        for index, record in enumerate(records):
            number = parse_id(record.get("bstudio_id")) if isinstance(record, dict) else None
            if number is None:
                raise errors.DATABASE_VALUE_INVALID(f"{where}[{index}].bstudio_id: the row's id is required")
            ids.append(number)
        model = self.model
        found = (
            {r.id: r for r in _scoped(model.select().where(model.id.in_(ids)), model, scope)} if ids else {}
        )
        for index, number in enumerate(ids):
            if number not in found:
                raise errors.DATABASE_ROW_NOT_FOUND(f"{where}[{index}].bstudio_id: row {number} not found")
        return ids, found

    def update(self, scope: Scope, records: list[dict], where: str) -> list[dict]:
        ids, found = self._existing(scope, records, where)
        for index, (number, record) in enumerate(zip(ids, records)):
            columns = _values(self.database, record, f"{where}[{index}]", partial=True)
            if columns:
                self.model.update(**columns).where(self.model.id == number).execute()
                for column, value in columns.items():
                    setattr(found[number], column, value)
        return [_row_view(self.database, found[n]) for n in dict.fromkeys(ids)]

    def delete(self, scope: Scope, records: list[dict], where: str) -> int:
        ids, _ = self._existing(scope, records, where)
        return self._deleted(self.model.delete().where(self.model.id.in_(ids))) if ids else 0

    def delete_where(self, scope: Scope, criterion: dict | None, where: str) -> int:
        """The rows matching a filter (all of the scope's with none)."""
        matching = self._matching(scope, criterion, where)
        return self._deleted(self.model.delete().where(self.model.id.in_(matching)))

    def _deleted(self, query) -> int:
        deleted = query.execute()
        if deleted:
            self._counted(-deleted)
        return deleted

    def update_where(self, scope: Scope, criterion: dict | None, values: dict, where: str) -> int:
        columns = _values(self.database, values, f"{where}.values", partial=True)
        if not columns:
            return 0
        matching = self._matching(scope, criterion, f"{where}.filter")
        return self.model.update(**columns).where(self.model.id.in_(matching)).execute()

    def count(self) -> int:
        found = MemoryRowCount.get_or_none(database=self.database.id, copy=self.copy)
        return found.rows if found else 0

    def all_records(self):
        """Every row, oldest first, read a batch at a time."""
        for row in self.model.select().order_by(self.model.id).iterator():
            yield _row_view(self.database, row)
