"""Backups of a deployment: `cozeplus backup` and `cozeplus restore` (docs/deploy.md).

An archive holds what a deployment cannot be rebuilt without: the SQLite database (copied with
SQLite's online backup, so a serving server is not stopped and the copy is consistent), the task
queue's jobs, uploaded files, avatars and the secret key (without it the stored secrets, sessions
and signed links of the copy are unreadable). On PostgreSQL the database is pg_dump's job; the
archive then holds the rest and says so in its manifest."""

from __future__ import annotations

import io
import json
import shutil
import sqlite3
import tarfile
import tempfile
import time
from contextlib import closing
from pathlib import Path

from peewee import SqliteDatabase

from core.fs import private_dir, private_file
from core.settings import Settings
from models.db import migration_runner
from models.workers import WorkerInstance
from services import recovery

FORMAT = 1
DATABASE_MEMBER = "cozeplus.db"
QUEUE_MEMBER = "tasks.db"
DIRECTORIES = ("files", "avatars")
SECRET_KEY = "secret_key"
DERIVED = ("vectors",)  # rebuilt from the database when first needed: not backed up


class BackupError(Exception):
    """Why a backup or a restore cannot be done, in words for the operator."""


def sqlite_path(settings: Settings) -> Path | None:
    if not settings.is_sqlite:
        return None
    return Path(settings.database_url[len("sqlite:///") :])


def _copy_sqlite(source: Path, target: Path) -> None:
    """A consistent copy of a live SQLite database (WAL included), taken page by page."""
    private_file(target)  # it holds password hashes: owner-only, as the original
    with closing(sqlite3.connect(source)) as origin, closing(sqlite3.connect(target)) as copy:
        origin.backup(copy, pages=1024)


def _applied_migrations(database: Path) -> list[str]:
    with closing(SqliteDatabase(database)) as connection:
        return sorted(migration_runner(connection).applied())


def _running_processes(database: Path) -> list[str]:
    """The servers and workers alive on this database (a restore under them would be lost)."""
    now = int(time.time())
    with closing(SqliteDatabase(database)) as connection, WorkerInstance.bind_ctx(connection):
        if not WorkerInstance.table_exists():
            return []  # not a cozeplus database yet
        alive = [w for w in WorkerInstance.select() if not recovery.is_gone(w, now)]
        return [f"{w.kind} pid {w.pid} on {w.host}" for w in alive]


def create(settings: Settings, output: Path) -> dict:
    """Write the archive (a .tar.gz) to `output`; return its manifest."""
    data_dir = settings.data_dir
    database = sqlite_path(settings)
    if database is not None and not database.exists():
        raise BackupError(f"there is no database at {database}: nothing to back up")
    if output.exists():
        raise BackupError(f"{output} exists; choose another name")
    manifest: dict = {
        "format": FORMAT,
        "created_at": int(time.time()),
        "database": "sqlite" if database else "postgresql (back it up with pg_dump)",
        "members": [],
    }
    with tempfile.TemporaryDirectory() as scratch:
        staged: list[tuple[Path, str]] = []
        if database is not None:
            copy = Path(scratch) / DATABASE_MEMBER
            _copy_sqlite(database, copy)
            manifest["migrations"] = _applied_migrations(copy)
            staged.append((copy, DATABASE_MEMBER))
        queue = data_dir / QUEUE_MEMBER
        if queue.exists():
            copy = Path(scratch) / QUEUE_MEMBER
            _copy_sqlite(queue, copy)
            staged.append((copy, QUEUE_MEMBER))
        for name in (*DIRECTORIES, SECRET_KEY):
            if (data_dir / name).exists():
                staged.append((data_dir / name, name))
        manifest["members"] = [name for _, name in staged]
        partial = output.with_name(output.name + ".partial")
        with tarfile.open(partial, "w:gz") as archive:
            body = json.dumps(manifest, indent=2).encode()
            entry = tarfile.TarInfo("manifest.json")
            entry.size, entry.mtime, entry.mode = len(body), manifest["created_at"], 0o600
            archive.addfile(entry, io.BytesIO(body))
            for path, name in staged:
                archive.add(path, arcname=name)
        partial.chmod(0o600)  # it holds the secret key and every password hash
        partial.rename(output)  # a crash mid-way leaves no archive that looks whole
    return manifest


def _read_manifest(archive: tarfile.TarFile) -> dict:
    try:
        member = archive.extractfile("manifest.json")
        manifest = json.load(member)
    except (KeyError, AttributeError, ValueError) as exc:
        raise BackupError("this is not a cozeplus backup (it has no readable manifest.json)") from exc
    if manifest.get("format") != FORMAT:
        raise BackupError(f"backup format {manifest.get('format')} is not one this version reads ({FORMAT})")
    return manifest


def restore(settings: Settings, source: Path, *, force: bool = False) -> dict:
    """Unpack an archive into the data directory (the server stopped); return its manifest. An
    existing database is replaced only with `force`; paths leaving the directory are refused."""
    database = sqlite_path(settings)
    try:
        archive = tarfile.open(source, "r:gz")
    except (OSError, tarfile.TarError) as exc:
        raise BackupError(f"cannot read {source}: {exc}") from exc
    with archive:
        manifest = _read_manifest(archive)
        has_database = DATABASE_MEMBER in manifest["members"]
        if has_database and database is None:
            raise BackupError("this backup holds a SQLite database, but DATABASE_URL names PostgreSQL")
        if not has_database and database is not None:
            raise BackupError("this backup has no database (it was taken on PostgreSQL: restore pg_dump's)")
        if database is not None and database.exists() and database.stat().st_size:
            running = _running_processes(database)
            if running:
                raise BackupError(f"stop what runs on {database} first: {', '.join(running)}")
            if not force:
                raise BackupError(f"{database} exists; pass --force to replace it with the backup's")
        data_dir = private_dir(settings.data_dir)
        with tempfile.TemporaryDirectory(dir=data_dir) as scratch:
            try:
                archive.extractall(scratch, filter="data")  # refuses absolute paths, .., links out
            except (tarfile.TarError, OSError) as exc:
                raise BackupError(f"the backup cannot be unpacked safely: {exc}") from exc
            unpacked = Path(scratch)
            for name in manifest["members"]:
                if not (unpacked / name).exists():
                    raise BackupError(f"the backup lacks {name}, which its manifest lists")
            for name in manifest["members"]:
                target = database if name == DATABASE_MEMBER else data_dir / name
                _replace(unpacked / name, target)
        for name in DERIVED:  # made from the replaced database: its versions could pass for the backup's
            shutil.rmtree(data_dir / name, ignore_errors=True)
    return manifest


def _replace(source: Path, target: Path) -> None:
    if target.is_dir():
        shutil.rmtree(target)
    elif target.exists():
        target.unlink()
    for journal in (target.with_name(target.name + "-wal"), target.with_name(target.name + "-shm")):
        journal.unlink(missing_ok=True)  # an old WAL would be replayed onto the restored file
    private_dir(target.parent)
    shutil.move(str(source), str(target))
