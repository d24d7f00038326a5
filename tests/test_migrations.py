"""Migrations: the command applies them; the server refuses an unmigrated database."""

from __future__ import annotations

import os

import pytest
from conftest import run_cli, run_python

pytestmark = pytest.mark.skipif(
    bool(os.environ.get("DATABASE_URL")),
    reason="uses its own SQLite files; the PostgreSQL run migrates in conftest",
)


def _run(args, data_dir, **env):
    environment = {
        **os.environ,
        "COZEPLUS_DATA_DIR": str(data_dir),
        "COZEPLUS_ADMIN_PASSWORD": "first-admin-pass",
    }
    environment.pop("DATABASE_URL", None)
    return run_cli({**environment, **env}, *args)


def test_serve_refuses_an_unmigrated_database(tmp_path):
    result = _run(["serve", "--port", "1"], tmp_path)
    assert result.returncode == 2
    assert "not migrated" in result.stderr and "cozeplus migrate" in result.stderr
    assert "0001_identity" in result.stderr


def test_migrate_applies_then_reports_up_to_date(tmp_path):
    first = _run(["migrate"], tmp_path)
    assert first.returncode == 0 and "applied 0001_identity" in first.stdout
    again = _run(["migrate"], tmp_path)
    assert again.returncode == 0 and "up to date" in again.stdout
    import sqlite3

    with sqlite3.connect(tmp_path / "cozeplus.db") as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert {
            "user",
            "space",
            "space_member",
            "login_session",
            "personal_access_token",
            "schema_migration",
        } <= tables
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_first_start_prints_a_generated_admin_password_once(tmp_path):
    _run(["migrate"], tmp_path)
    code = "from core.app import create_app; create_app()"
    environment = {**os.environ, "COZEPLUS_DATA_DIR": str(tmp_path), "COZEPLUS_LOG_LEVEL": "WARNING"}
    environment.pop("DATABASE_URL", None)
    environment.pop("COZEPLUS_ADMIN_PASSWORD", None)
    first = run_python(environment, "-c", code)
    assert "created admin admin@example.com with password" in first.stdout, first.stderr
    second = run_python(environment, "-c", code)
    assert "created admin" not in second.stdout
