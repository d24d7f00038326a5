"""The one database proxy, bound at start to SQLite (default) or PostgreSQL (DATABASE_URL)."""

from __future__ import annotations

from pathlib import Path

from anyio import to_thread
from peewee import DatabaseProxy, SqliteDatabase
from playhouse.db_url import connect
from playhouse.migrations import Runner

from core.fs import private_file

db = DatabaseProxy()

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

SQLITE_PRAGMAS = {
    "journal_mode": "wal",
    "foreign_keys": 1,
    "busy_timeout": 5000,
    "synchronous": "normal",
    "cache_size": -16000,
}


def init_db(database_url: str):
    """Bind the proxy. SQLite files get their directory created and the pragmas set."""
    if database_url.startswith("sqlite:///"):
        path = database_url[len("sqlite:///") :]
        if path and path != ":memory:":
            private_file(Path(path))
        database = connect(database_url, pragmas=SQLITE_PRAGMAS)
    else:
        database = connect(database_url)
    db.initialize(database)
    return database


def write_transaction():
    """A transaction that reads and then writes. SQLite must take the write lock at BEGIN: a
    deferred transaction that read first cannot upgrade while another connection (a task
    worker) writes, and fails at once with "database is locked" instead of waiting."""
    if isinstance(db.obj, SqliteDatabase):
        return db.atomic("IMMEDIATE")
    return db.atomic()


def migration_runner(database=None) -> Runner:
    return Runner(database or db.obj, directory=str(MIGRATIONS_DIR))


def pending_migrations() -> list[str]:
    runner = migration_runner()
    applied = runner.applied()
    return [m.name for m in runner.migrations() if m.name not in applied]


def migrate() -> list[str]:
    """Apply every pending migration; return their names."""
    pending = pending_migrations()
    if pending:
        migration_runner().up()
    return pending


async def run_db(fn, *args):
    """Call blocking database code from async code. An indexed SQLite statement (tens of
    microseconds) is cheaper than a hop to the thread pool (docs/benchmarks-history.md), so SQLite runs
    inline; PostgreSQL waits on the network, so it goes to the thread pool."""
    if isinstance(db.obj, SqliteDatabase):
        return fn(*args)
    return await to_thread.run_sync(fn, *args)
