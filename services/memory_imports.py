"""Rows of a database from a csv, xlsx or json file (in the task queue), and out as csv.

The file's header row names its columns; a column whose name is a field's fills that field,
others are left out. Each row is checked like an inserted record: a row that does not fit (a
value of the wrong type, a required field empty) is rejected with its line and the reason, and
the others go in. Rows go in by batches, each batch and the import's counts in one transaction,
so an import whose process dies resumes after the last batch it finished (services/recovery)."""

from __future__ import annotations

import csv
import datetime
import io
import logging
import time

from core import authz, errors
from core.ids import parse_id
from models.conversation import CONNECTOR_WEB
from models.db import write_transaction
from models.files import StoredFile
from models.identity import User
from models.memory import (
    FIELD_BOOLEAN,
    FIELD_FLOAT,
    FIELD_INTEGER,
    FIELD_TEXT,
    FIELD_TIME,
    IMPORT_DONE,
    IMPORT_FAILED,
    IMPORT_QUEUED,
    IMPORT_RUNNING,
    MemoryDatabase,
    MemoryImport,
)
from services import files, memory, memory_rows, parsing, recovery, refs
from services.memory_rows import Scope
from services.tasks import queue

log = logging.getLogger("cozeplus.memory")
BATCH = 500
MAX_REPORTED = 100  # rejected rows listed in the progress (all are counted)
PREVIEW_ROWS = 20
TYPES = ("csv", "xlsx", "json")


def _source(user: User, file_uri: str, field: str) -> tuple[StoredFile, str]:
    uri = refs.file_uri(user, file_uri, field=field, invalid=errors.MEMORY_INVALID_PARAM)
    stored = files.owned(user, uri.removeprefix("file:"), field=field)
    file_type = stored.file_name.rpartition(".")[2].lower()
    if file_type not in TYPES:
        raise errors.MEMORY_INVALID_PARAM(f"{field}: import a csv, xlsx or json file, not .{file_type}")
    return stored, file_type


def _sheet(sheet: dict | None) -> tuple[int, int, int | None]:
    sheet = sheet or {}
    start = parse_id(sheet.get("start_line_idx"))
    return parse_id(sheet.get("sheet_id")) or 0, parse_id(sheet.get("header_line_idx")) or 0, start


def _parse(stored: StoredFile, file_type: str, sheet: dict | None, max_rows: int) -> parsing.Parsed:
    sheet_id, header, start = _sheet(sheet)
    try:
        return parsing.parse_table(
            file_type,
            files.read(stored),
            sheet=sheet_id,
            header_line=header,
            start_line=start,
            limits=parsing.Limits(max_rows=max_rows),
        )
    except parsing.ParseError as exc:
        raise errors.MEMORY_INVALID_PARAM(f"source_file: {exc}")


def _scan_limit() -> int:
    """Rows a file may have: the parser's usual limit, or a table's capacity if that is larger
    (rows beyond what the table can hold are rejected one by one, not the file)."""
    return max(parsing.Limits().max_rows, memory_rows.max_rows())


def _guess_type(values: list[str]) -> int:
    present = [v for v in values if v != ""]
    if not present:
        return FIELD_TEXT
    for kind in (FIELD_INTEGER, FIELD_FLOAT, FIELD_BOOLEAN, FIELD_TIME):
        try:
            for value in present:
                memory_rows.parse_value(kind, value, "")
            return kind
        except errors.ApiError:
            continue
    return FIELD_TEXT


def table_schema(user: User, file_uri: str, sheet: dict | None) -> dict:
    """The file's columns (with a guessed field type) and its first rows, as the console previews
    an import."""
    stored, file_type = _source(user, file_uri, "source_file.tos_uri")
    parsed = _parse(stored, file_type, sheet, _scan_limit())
    columns = [
        {
            "id": index,
            "column_name": name,
            "sequence": index,
            "column_type": _guess_type([row[index] for row in parsed.rows]),
            "contains_empty_value": any(row[index] == "" for row in parsed.rows),
        }
        for index, name in enumerate(parsed.columns)
    ]
    preview = [dict(zip(parsed.columns, row)) for row in parsed.rows[:PREVIEW_ROWS]]
    return {
        "file_name": stored.file_name,
        "columns": columns,
        "preview": preview,
        "total_rows": len(parsed.rows),
    }


def check_schema(user: User, database_id, file_uri: str, sheet: dict | None) -> dict[str, str]:
    """What stops the file's columns from filling the table: {column or field: why}; empty: none."""
    database = memory.load(user, database_id, field="database_id")
    stored, file_type = _source(user, file_uri, "source_file.tos_uri")
    parsed = _parse(stored, file_type, sheet, _scan_limit())
    fields = {f["name"].lower(): f for f in database.fields}
    problems = {
        name: f"not a field of table {database.name}; its values are left out"
        for name in parsed.columns
        if name.lower() not in fields and name.lower() not in memory_rows.SYSTEM_FIELDS
    }
    given = {name.lower() for name in parsed.columns}
    for field in database.fields:
        if field.get("must_required") and field["name"].lower() not in given:
            problems[field["name"]] = "required, and no column of the file fills it"
    return problems


def submit(
    user: User, database_id, copy: int, file_uri: str, sheet: dict | None, connector_id=None
) -> MemoryImport:
    database = memory.load(user, database_id, authz.UPDATE, field="database_id")
    stored, _ = _source(user, file_uri, "file_uri")
    job = MemoryImport.create(
        database=database.id,
        creator=user.id,
        file=stored.id,
        file_name=stored.file_name,
        table_type=copy,
        connector_id=parse_id(connector_id) or CONNECTOR_WEB,
        sheet=dict(sheet or {}),
        status=IMPORT_QUEUED,
    )
    import_task(job.id)
    return job


def progress(user: User, database_id, copy: int) -> MemoryImport:
    """The latest import into a copy of the table."""
    database = memory.load(user, database_id, field="database_id")
    job = (
        MemoryImport.select()
        .where(MemoryImport.database == database.id, MemoryImport.table_type == copy)
        .order_by(MemoryImport.id.desc())
        .first()
    )
    if job is None:
        raise errors.DATABASE_IMPORT_NOT_FOUND(
            f"nothing was imported into table {database.id} (table_type {copy})"
        )
    return job


@queue.task(retries=0)
def import_task(import_id: int) -> None:
    run_import(import_id)


def run_import(import_id: int) -> None:
    """Read the file and insert its rows, from the first row no batch has taken yet."""
    claimed = (
        MemoryImport.update(
            status=IMPORT_RUNNING,
            worker_id=recovery.current_id(),
            attempts=MemoryImport.attempts + 1,
            updated_at=int(time.time()),
        )
        .where(MemoryImport.id == import_id, MemoryImport.status == IMPORT_QUEUED)
        .execute()
    )
    job = MemoryImport.get_or_none(MemoryImport.id == import_id)
    if not claimed or job is None:
        return  # deleted, or done already
    database = MemoryDatabase.get_or_none(MemoryDatabase.id == job.database_id)
    stored = StoredFile.get_or_none(StoredFile.id == job.file_id) if job.file_id else None
    try:
        if database is None or stored is None:
            raise errors.MEMORY_INVALID_PARAM("the table or the file is gone")
        file_type = stored.file_name.rpartition(".")[2].lower()
        parsed = _parse(stored, file_type, job.sheet, _scan_limit())
        _insert(job, database, parsed)
    except errors.ApiError as exc:
        _finish(job.id, IMPORT_FAILED, exc.msg)
    except Exception:
        log.exception("import failed", extra={"import_id": import_id})
        _finish(job.id, IMPORT_FAILED, "internal error while importing")


def _insert(job: MemoryImport, database: MemoryDatabase, parsed: parsing.Parsed) -> None:
    rows = memory_rows.Rows(database, job.table_type)
    owner = Scope(str(job.creator_id), job.connector_id)
    fields = {f["name"].lower(): f["name"] for f in database.fields}
    mapped = [(i, fields[name.lower()]) for i, name in enumerate(parsed.columns) if name.lower() in fields]
    _, header_line, start_line = _sheet(job.sheet)
    first_line = (header_line + 1 if start_line is None else start_line) + 1  # 1-based, as a sheet shows
    total = len(parsed.rows)
    done = job.inserted_rows + job.rejected_count  # rows earlier runs already took
    MemoryImport.update(total_rows=total).where(MemoryImport.id == job.id).execute()
    while done < total:
        batch = parsed.rows[done : done + BATCH]
        accepted, rejected = [], []
        room = rows.room()
        for offset, cells in enumerate(batch):
            line = first_line + done + offset
            record = {name: cells[index] for index, name in mapped}
            try:
                checked = rows.check(record, f"line {line}")
            except errors.ApiError as exc:
                rejected.append({"row": line, "reason": exc.msg})
                continue
            if len(accepted) >= room:
                rejected.append({"row": line, "reason": f"the table is full ({memory_rows.max_rows()} rows)"})
                continue
            accepted.append(checked)
        with write_transaction():
            rows.insert_checked(owner, accepted, "file")
            report = (job.rejected + rejected)[:MAX_REPORTED]
            job.rejected = report
            MemoryImport.update(
                inserted_rows=MemoryImport.inserted_rows + len(accepted),
                rejected_count=MemoryImport.rejected_count + len(rejected),
                rejected=report,
                progress=min(99, (done + len(batch)) * 100 // max(total, 1)),
                updated_at=int(time.time()),
            ).where(MemoryImport.id == job.id).execute()
        done += len(batch)
    _finish(job.id, IMPORT_DONE, "")


def _finish(import_id: int, status: int, reason: str) -> None:
    MemoryImport.update(
        status=status,
        status_reason=reason,
        progress=100 if status == IMPORT_DONE else MemoryImport.progress,
        worker_id=None,
        updated_at=int(time.time()),
    ).where(MemoryImport.id == import_id).execute()


# --- export ------------------------------------------------------------------------------------


def export_csv(user: User, database_id, copy: int) -> tuple[str, bytes]:
    """(file name, csv bytes) of every row of a copy: the fields, then the system fields."""
    database = memory.load(user, database_id, field="database_id")
    names = [f["name"] for f in database.fields] + list(memory_rows.SYSTEM_FIELDS)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(names)
    for record in memory_rows.Rows(database, copy).all_records():
        writer.writerow([record.get(name, "") for name in names])
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%d")
    copy_name = "draft" if copy == 1 else "online"
    return f"{database.name}_{copy_name}_{stamp}.csv", ("\ufeff" + out.getvalue()).encode()
