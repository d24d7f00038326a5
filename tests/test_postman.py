"""The Postman collection: committed file == fresh generation; newman runs it green against a
real server (uvicorn on a free local port)."""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time

import httpx
import pytest

from conftest import ADMIN_PASSWORD, session_app
from core.settings import REPO_ROOT

NPX = shutil.which("npx")
pytestmark = pytest.mark.skipif(NPX is None or not (REPO_ROOT / "node_modules").exists(),
                                reason="needs Node and `npm ci` (make test installs both)")


def test_committed_collection_matches_a_fresh_generation(tmp_path):
    fresh = tmp_path / "collection.json"
    subprocess.run(["node", "codegen/postman.js", "--out", str(fresh)], cwd=REPO_ROOT, check=True,
                   capture_output=True, timeout=120)
    committed = (REPO_ROOT / "postman" / "collection.json").read_text()
    assert fresh.read_text() == committed, "postman/collection.json is stale: run `make postman`"


def test_collection_covers_every_operation():
    import yaml
    spec = yaml.safe_load((REPO_ROOT / "openapi.yaml").read_text())
    operations = {op["operationId"] for item in spec["paths"].values() for op in item.values()
                  if isinstance(op, dict) and "operationId" in op}
    collection = json.loads((REPO_ROOT / "postman" / "collection.json").read_text())
    named = {item["name"].split(":")[0] for folder in collection["item"] for item in folder["item"]}
    assert operations <= named, operations - named


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def live_server(tmp_path):
    session_app()  # the PostgreSQL run shares the session's migrated database
    env = {**os.environ, "COZEPLUS_DATA_DIR": str(tmp_path), "COZEPLUS_ADMIN_PASSWORD": ADMIN_PASSWORD,
           "COZEPLUS_LOG_LEVEL": "WARNING"}
    if not env.get("DATABASE_URL"):
        subprocess.run([sys.executable, "-m", "core.cli", "migrate"], cwd=REPO_ROOT, env=env,
                       check=True, capture_output=True, timeout=60)
    port = _free_port()
    server = subprocess.Popen([sys.executable, "-m", "core.cli", "serve", "--port", str(port)],
                              cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            pytest.fail("the server did not start: " + server.stdout.read1().decode())
        yield base
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_newman_runs_the_collection_green(live_server, tmp_path):
    report = tmp_path / "newman.json"
    result = subprocess.run(
        [NPX, "--no-install", "newman", "run", "postman/collection.json",
         "--env-var", f"baseUrl={live_server}", "--env-var", f"adminPassword={ADMIN_PASSWORD}",
         "--reporters", "cli,json", "--reporter-json-export", str(report)],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    stats = json.loads(report.read_text())["run"]["stats"]
    collection = json.loads((REPO_ROOT / "postman" / "collection.json").read_text())
    requests = sum(len(folder["item"]) for folder in collection["item"])
    assert stats["requests"]["total"] == requests and stats["requests"]["failed"] == 0
    assert stats["assertions"]["failed"] == 0 and stats["assertions"]["total"] >= 2 * requests
