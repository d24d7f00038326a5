"""`cozeplus backup` of a serving SQLite deployment and `cozeplus restore` into a new one: the copy
has what was there at the backup (accounts, agents, uploads, the secret key), not what came after;
restores that would lose or leak data are refused."""

from __future__ import annotations

import io
import json
import os
import tarfile

import httpx
from conftest import ADMIN_EMAIL, ADMIN_PASSWORD, PASSWORD, new_email, run_cli, start_server


def sqlite_env(data_dir) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(
        COZEPLUS_DATA_DIR=str(data_dir), COZEPLUS_ADMIN_PASSWORD=ADMIN_PASSWORD, COZEPLUS_LOG_LEVEL="WARNING"
    )
    return env


def signed_in(base: str, token: str) -> httpx.Client:
    return httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30)


def agent_names(http: httpx.Client) -> set[str]:
    space = http.post("/api/playground_api/space/list", json={}).json()["data"]["bot_space_list"][0]["id"]
    listed = http.get("/v1/bots", params={"workspace_id": space}).json()["data"]
    return {bot["name"] for bot in listed["items"]}


def test_backup_of_a_serving_server_restores_into_a_new_deployment(tmp_path):
    original, restored = sqlite_env(tmp_path / "original"), sqlite_env(tmp_path / "restored")
    run_cli(original, "migrate", check=True)
    server, base = start_server(original)
    try:
        account = {"email": new_email("backup"), "password": PASSWORD}
        token = httpx.post(f"{base}/api/passport/web/email/register/v2/", json=account).json()["data"][
            "token"
        ]
        http = signed_in(base, token)
        http.post("/api/draftbot/create", json={"name": "Kept agent"})
        file_id = http.post("/v1/files/upload", files={"file": ("notes.txt", b"depot at six")}).json()[
            "data"
        ]["id"]
        archive = tmp_path / "backup.tar.gz"
        made = run_cli(original, "backup", "--output", str(archive))  # while the server serves
        assert made.returncode == 0, made.stderr
        assert "cozeplus.db" in made.stdout and "secret_key" in made.stdout
        http.post("/api/draftbot/create", json={"name": "Later agent"})  # after the backup
        assert agent_names(http) == {"Kept agent", "Later agent"}
    finally:
        server.terminate()
        server.wait(10)
    assert oct(archive.stat().st_mode & 0o777) == "0o600"
    with tarfile.open(archive) as unpacked:
        manifest = json.load(unpacked.extractfile("manifest.json"))
    assert manifest["database"] == "sqlite" and "0001_identity" in manifest["migrations"]

    answer = run_cli(restored, "restore", str(archive))
    assert answer.returncode == 0, answer.stderr
    assert oct((tmp_path / "restored" / "cozeplus.db").stat().st_mode & 0o777) == "0o600"
    server, base = start_server(restored)
    try:
        http = signed_in(base, token)  # the session and its signing key came along
        assert agent_names(http) == {"Kept agent"}
        assert http.get(f"/api/files/{file_id}/content").content == b"depot at six"
        login = httpx.post(
            f"{base}/api/passport/web/email/login/", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
        )
        assert login.json()["code"] == 0
        # a restore under a running server is refused, even forced, naming what runs
        refused = run_cli(restored, "restore", "--force", str(archive))
        assert refused.returncode == 1 and "server pid" in refused.stderr, refused.stderr
        assert agent_names(http) == {"Kept agent"}
    finally:
        server.terminate()
        server.wait(10)
    # over an existing database only with --force; the replaced database's vector files go
    stale = tmp_path / "restored" / "vectors" / "1-1-v3.f32.npy"
    stale.parent.mkdir(exist_ok=True)
    stale.write_bytes(b"made from the database being replaced")
    refused = run_cli(restored, "restore", str(archive))
    assert refused.returncode == 1 and "--force" in refused.stderr and stale.exists()
    assert run_cli(restored, "restore", "--force", str(archive)).returncode == 0
    assert not stale.parent.exists()


def test_restore_refuses_archives_that_are_not_backups_or_leave_the_directory(tmp_path):
    env = sqlite_env(tmp_path / "data")
    not_an_archive = tmp_path / "notes.tar.gz"
    not_an_archive.write_bytes(b"plain text")
    answer = run_cli(env, "restore", str(not_an_archive))
    assert answer.returncode == 1 and "cannot read" in answer.stderr

    hostile = tmp_path / "hostile.tar.gz"
    manifest = json.dumps({"format": 1, "members": ["cozeplus.db"], "database": "sqlite"}).encode()
    with tarfile.open(hostile, "w:gz") as archive:
        for name, body in (("manifest.json", manifest), ("cozeplus.db", b""), ("../escaped", b"x")):
            entry = tarfile.TarInfo(name)
            entry.size = len(body)
            archive.addfile(entry, io.BytesIO(body))
    answer = run_cli(env, "restore", str(hostile))
    assert answer.returncode == 1 and "safely" in answer.stderr, answer.stderr
    assert not (tmp_path / "escaped").exists() and not (tmp_path / "data" / "cozeplus.db").exists()


def test_on_postgresql_the_backup_holds_the_files_and_points_to_pg_dump(tmp_path):
    data_dir = tmp_path / "data"
    (data_dir / "files").mkdir(parents=True)
    (data_dir / "files" / "upload.bin").write_bytes(b"payload")
    env = {**sqlite_env(data_dir), "DATABASE_URL": "postgresql://nobody@127.0.0.1:1/unused"}
    archive = tmp_path / "pg.tar.gz"
    answer = run_cli(env, "backup", "--output", str(archive))
    assert answer.returncode == 0, answer.stderr
    assert "pg_dump" in answer.stdout
    with tarfile.open(archive) as unpacked:
        names = unpacked.getnames()
        manifest = json.load(unpacked.extractfile("manifest.json"))
    assert "cozeplus.db" not in names and "files/upload.bin" in names and "secret_key" in names
    assert manifest["database"].startswith("postgresql")
    # such an archive cannot stand in for a SQLite deployment's database
    answer = run_cli(sqlite_env(tmp_path / "other"), "restore", str(archive))
    assert answer.returncode == 1 and "pg_dump" in answer.stderr
