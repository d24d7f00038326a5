"""Migrations: the command applies them; the server refuses an unmigrated database."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from core.settings import REPO_ROOT

pytestmark = pytest.mark.skipif(
    bool(os.environ.get("DATABASE_URL")),
    reason="uses its own SQLite files; the PostgreSQL run migrates in conftest",
)


def _run(args, data_dir, **env):
    environment = {
        **os.environ,
        "COZEPLUS_DATA_DIR": str(data_dir),
        "COZEPLUS_ADMIN_PASSWORD": "first-admin-pass",
        **env,
    }
    environment.pop("DATABASE_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "core.cli", *args],
        cwd=REPO_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


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
    first = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "created admin admin@example.com with password" in first.stdout, first.stderr
    second = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "created admin" not in second.stdout
