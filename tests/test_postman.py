"""The Postman collection: committed file == fresh generation; newman runs it green against a
real server (uvicorn on a free local port)."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest
from conftest import ADMIN_PASSWORD

from core.settings import REPO_ROOT

NPX = shutil.which("npx")
pytestmark = pytest.mark.skipif(
    NPX is None or not (REPO_ROOT / "node_modules").exists(),
    reason="needs Node and `npm ci` (make test installs both)",
)


def test_committed_collection_matches_a_fresh_generation(tmp_path):
    fresh = tmp_path / "collection.json"
    subprocess.run(
        ["node", "codegen/postman.js", "--out", str(fresh)],
        cwd=REPO_ROOT,
        check=True,
        capture_output=True,
        timeout=120,
    )
    committed = (REPO_ROOT / "postman" / "collection.json").read_text()
    assert fresh.read_text() == committed, "postman/collection.json is stale: run `make postman`"


def test_collection_covers_every_operation():
    import yaml

    spec = yaml.safe_load((REPO_ROOT / "openapi.yaml").read_text())
    operations = {
        op["operationId"]
        for item in spec["paths"].values()
        for op in item.values()
        if isinstance(op, dict) and "operationId" in op
    }
    collection = json.loads((REPO_ROOT / "postman" / "collection.json").read_text())
    named = {item["name"].split(":")[0] for folder in collection["item"] for item in folder["item"]}
    assert operations <= named, operations - named


def test_newman_runs_the_collection_green(live_server, tmp_path):
    report = tmp_path / "newman.json"
    result = subprocess.run(
        [
            NPX,
            "--no-install",
            "newman",
            "run",
            "postman/collection.json",
            "--env-var",
            f"baseUrl={live_server}",
            "--env-var",
            f"adminPassword={ADMIN_PASSWORD}",
            "--reporters",
            "cli,json",
            "--reporter-json-export",
            str(report),
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    stats = json.loads(report.read_text())["run"]["stats"]
    collection = json.loads((REPO_ROOT / "postman" / "collection.json").read_text())
    items = [item for folder in collection["item"] for item in folder["item"]]
    side_requests = sum(
        "pm.sendRequest" in "".join(e["script"]["exec"])
        for item in items
        for e in item.get("event", [])
        if e["listen"] == "prerequest"
    )
    requests = len(items) + side_requests  # at least: pre-requests that poll may send several
    assert stats["requests"]["total"] >= requests and stats["requests"]["failed"] == 0
    assert stats["assertions"]["failed"] == 0 and stats["assertions"]["total"] >= 2 * requests
