"""Memory: user-defined databases and variables.

A database's schema is a row here; its rows live in two tables of their own (a draft copy for the
playground and an online copy for the published agent), made and changed by services/memory_rows,
with generated names (`memory_rows_<id>_draft`, columns `f<n>`) so no user input is ever SQL text.
Variables are defined in an agent's settings (`variable_list`); the values each end user holds are
rows here."""

from __future__ import annotations

from peewee import (
    BigIntegerField,
    BooleanField,
    CharField,
    CompositeKey,
    ForeignKeyField,
    IntegerField,
    Model,
    TextField,
)

from models.agent import Bot
from models.base import BaseModel, JsonField
from models.db import db
from models.files import StoredFile
from models.identity import Space, User
from models.project import Project

# Coze's FieldItemType
FIELD_TEXT, FIELD_INTEGER, FIELD_TIME, FIELD_FLOAT, FIELD_BOOLEAN = 1, 2, 3, 4, 5
# Coze's BotTableRWMode: 1 every end user has their own rows; 2 end users only read; 3 shared rows
RW_PER_USER, RW_READ_ONLY, RW_SHARED = 1, 2, 3
# Coze's TableType
DRAFT, ONLINE = 1, 2
COPIES = {DRAFT: "draft", ONLINE: "online"}

IMPORT_QUEUED, IMPORT_RUNNING, IMPORT_DONE, IMPORT_FAILED = 0, 1, 2, 9


class MemoryDatabase(BaseModel):
    space = ForeignKeyField(Space, backref="memory_databases", on_delete="CASCADE")
    creator = ForeignKeyField(User, on_delete="CASCADE")
    name = CharField(max_length=64)
    description = TextField(default="")
    icon_uri = CharField(max_length=255, default="")
    rw_mode = IntegerField(default=RW_PER_USER)
    prompt_disabled = BooleanField(default=False)
    fields = JsonField(default=list)  # [{id, name, desc, type, must_required}]; id: the column f<id>
    next_field_id = IntegerField(default=1)
    extra_info = JsonField(default=dict)
    project_id = BigIntegerField(null=True, index=True)  # made in a project (app)

    class Meta:
        table_name = "memory_database"
        indexes = ((("space", "name"), True),)

    def table_name(self, copy: int) -> str:
        return f"memory_rows_{self.id}_{COPIES[copy]}"


class MemoryRowCount(Model):
    """How many rows one copy of a database holds, kept with every insert and delete in the same
    transaction, so the row limit is checked without counting a large table."""

    database = ForeignKeyField(MemoryDatabase, backref="row_counts", on_delete="CASCADE")
    copy = IntegerField()
    rows = BigIntegerField(default=0)

    class Meta:
        database = db
        table_name = "memory_row_count"
        primary_key = CompositeKey("database", "copy")


class MemoryImport(BaseModel):
    """A csv or xlsx file being read into a database's rows (the task queue runs it)."""

    database = ForeignKeyField(MemoryDatabase, backref="imports", on_delete="CASCADE")
    creator = ForeignKeyField(User, on_delete="CASCADE")
    file = ForeignKeyField(StoredFile, null=True, on_delete="SET NULL")
    file_name = CharField(max_length=255, default="")
    table_type = IntegerField(default=DRAFT)
    connector_id = BigIntegerField(default=0)
    sheet = JsonField(default=dict)  # sheet_id, header_line_idx, start_line_idx
    status = IntegerField(default=IMPORT_QUEUED)
    status_reason = TextField(default="")
    progress = IntegerField(default=0)
    total_rows = IntegerField(default=0)
    inserted_rows = IntegerField(default=0)
    rejected = JsonField(default=list)  # the first rejected rows: [{row, field, reason}]
    rejected_count = IntegerField(default=0)
    worker_id = BigIntegerField(null=True)
    attempts = IntegerField(default=0)

    class Meta:
        table_name = "memory_import"
        indexes = ((("database", "table_type"), False), (("status", "worker_id"), False))


class VariableValue(BaseModel):
    """An end user's value of one of an agent's (or a project's) variables, on one connector."""

    bot = ForeignKeyField(Bot, null=True, backref="variable_values", on_delete="CASCADE")
    project = ForeignKeyField(Project, null=True, backref="variable_values", on_delete="CASCADE")
    keyword = CharField(max_length=64)
    value = TextField(default="")
    connector_id = BigIntegerField()
    connector_uid = CharField(max_length=255)

    class Meta:
        table_name = "memory_variable"
        indexes = (
            (("bot", "connector_id", "connector_uid", "keyword"), True),
            (("project", "connector_id", "connector_uid", "keyword"), True),
        )
