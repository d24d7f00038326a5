"""The command line: start-up refuses a busy port before doing anything; operators can reset a
lost password; `GET /` says where the docs are."""

from __future__ import annotations

import os
import socket
import sqlite3

from argon2 import PasswordHasher
from conftest import run_cli, run_python


def cozeplus(data_dir, *args, **env):
    environment = {
        k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "COZEPLUS_ADMIN_PASSWORD")
    }
    environment.update(COZEPLUS_DATA_DIR=str(data_dir), COZEPLUS_ARGON2_MEMORY_KIB="1024", **env)
    return run_cli(environment, *args)


def password_hash(data_dir, email) -> str:
    with sqlite3.connect(data_dir / "cozeplus.db") as conn:
        return conn.execute("SELECT password_hash FROM user WHERE email = ?", (email,)).fetchone()[0]


def test_a_busy_port_is_reported_before_anything_else(tmp_path):
    assert cozeplus(tmp_path, "migrate").returncode == 0
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = cozeplus(tmp_path, "serve", "--port", str(port))
    assert result.returncode == 2
    assert f"127.0.0.1:{port} is already in use" in result.stderr and "COZEPLUS_PORT" in result.stderr
    assert "password" not in result.stdout + result.stderr  # the admin was not created, nothing printed
    with sqlite3.connect(tmp_path / "cozeplus.db") as conn:
        assert conn.execute("SELECT count(*) FROM user").fetchone()[0] == 0


def test_reset_password_sets_a_chosen_or_a_printed_password(tmp_path):
    assert cozeplus(tmp_path, "migrate").returncode == 0
    run_python(
        {
            **{k: v for k, v in os.environ.items() if k != "DATABASE_URL"},
            "COZEPLUS_DATA_DIR": str(tmp_path),
            "COZEPLUS_ADMIN_PASSWORD": "forgotten-123",
        },
        "-c",
        "from core.settings import get_settings; from models.db import init_db;"
        "from services.accounts import ensure_admin; s = get_settings(); init_db(s.database_url);"
        "ensure_admin(s)",
        check=True,
    )
    chosen = cozeplus(tmp_path, "reset-password", "Admin@Example.com", "--password", "remembered-456")
    assert chosen.returncode == 0, chosen.stderr
    assert "set the password of admin@example.com" in chosen.stdout and "remembered-456" not in chosen.stdout
    assert PasswordHasher().verify(password_hash(tmp_path, "admin@example.com"), "remembered-456")
    printed = cozeplus(tmp_path, "reset-password", "admin@example.com")
    assert printed.returncode == 0
    password = printed.stdout.split(" to ", 1)[1].split(" (shown once)")[0]
    assert PasswordHasher().verify(password_hash(tmp_path, "admin@example.com"), password)
    unknown = cozeplus(tmp_path, "reset-password", "nobody@example.com")
    assert unknown.returncode == 1 and "no user has the e-mail nobody@example.com" in unknown.stderr


def test_the_root_says_where_the_docs_are(client):
    body = client.get("/").json()
    assert body["code"] == 0
    assert body["data"]["docs"] == "/ui/" and body["data"]["spec"] == "/openapi.json"
    assert body["data"]["health"] == "/healthz"
    assert client.get(body["data"]["spec"]).status_code == 200
    assert client.get(body["data"]["health"]).json()["data"]["status"] == "ok"
