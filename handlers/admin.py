"""Health and (later) server administration."""
from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from core import errors
from core.envelope import ok
from models.db import db

try:
    VERSION = version("cozeplus")
except PackageNotFoundError:  # running from a checkout that was not installed
    VERSION = "0.0.0+checkout"


def healthz():
    try:
        db.execute_sql("SELECT 1")
    except Exception:
        raise errors.UNAVAILABLE("the database does not answer")
    engine = "sqlite" if "sqlite" in type(db.obj).__name__.lower() else "postgresql"
    return ok({"status": "ok", "database": engine, "version": VERSION})
