"""What a start costs (bench/startup.py measures it; docs/benchmarks.md): the spec is parsed once
per version and validated once, the heavy parts load on first use, and one worker builds its app
once."""

from __future__ import annotations

import json

from conftest import run_cli, run_python
from test_crash import crash_env

from core import spec


def test_the_spec_is_parsed_once_per_version(tmp_path, monkeypatch):
    monkeypatch.setenv("COZEPLUS_CACHE_DIR", str(tmp_path / "cache"))
    document = tmp_path / "openapi.yaml"
    document.write_text("openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths: {}\n")
    parses = []
    real = spec.yaml.load
    monkeypatch.setattr(spec.yaml, "load", lambda *a, **k: parses.append(1) or real(*a, **k))
    first = spec.load(document)
    first["info"]["title"] = "changed by a caller"
    assert spec.load(document)["info"]["title"] == "t"  # each caller gets its own copy
    spec._parsed.clear()  # as a new process would: the cache on disk serves it
    assert spec.load(document)["info"]["title"] == "t" and len(parses) == 1
    document.write_text("openapi: 3.0.3\ninfo: {title: new, version: '2'}\npaths: {}\n")
    assert spec.load(document)["info"]["title"] == "new" and len(parses) == 2
    cached = list((tmp_path / "cache").glob("openapi-*.json"))
    assert len(cached) == 2 and json.loads(cached[0].read_text())["openapi"] == "3.0.3"


def test_a_spec_is_validated_once_and_a_broken_one_still_refused(tmp_path, monkeypatch):
    import connexion.spec
    import pytest

    import core.app  # noqa: F401  (it installs the wrapper)

    assert getattr(connexion.spec.Specification._validate_spec.__func__, "once", False), "not installed"
    monkeypatch.setenv("COZEPLUS_CACHE_DIR", str(tmp_path / "cache"))
    calls = []
    real = connexion.spec.create_spec_validator
    monkeypatch.setattr(connexion.spec, "create_spec_validator", lambda *a: calls.append(1) or real(*a))

    def version() -> dict:  # a document no earlier test validated
        document = spec.load()
        document["info"]["x-version"] = str(tmp_path)
        return document

    connexion.spec.Specification.from_dict(version())
    assert len(calls) == 1 and len(list((tmp_path / "cache").glob("valid-*"))) == 1
    connexion.spec.Specification.from_dict(version())  # as GET /openapi.json does, each time
    assert len(calls) == 1
    broken = version()
    broken["paths"]["/x"] = {"get": {"responses": "not a map"}}
    for _ in range(2):  # refused every time: only what passed is remembered
        with pytest.raises(connexion.exceptions.InvalidSpecification):
            connexion.spec.Specification.from_dict(broken)
    assert len(calls) == 3 and len(list((tmp_path / "cache").glob("valid-*"))) == 1


def test_heavy_parts_wait_for_first_use(tmp_path):
    """A started app has not loaded jieba's dictionary, faiss, the MCP SDK or the OpenAPI
    validator for plugins; each is loaded by the first request that needs it."""
    script = (
        "import sys\n"
        "from core import asgi\n"
        "from starlette.testclient import TestClient\n"
        "with TestClient(asgi.create()) as client:\n"
        "    assert client.get('/healthz').status_code == 200\n"
        "heavy = ['jieba', 'faiss', 'mcp', 'openapi_spec_validator']\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    env = crash_env(tmp_path)
    run_cli(env, "migrate", check=True)
    done = run_python(env, "-c", script)
    assert done.stdout.strip().splitlines()[-1] == "[]", done.stdout + done.stderr


def test_the_served_spec_is_built_once_per_base_path(client, monkeypatch):
    """GET /openapi.json answered from the document built the first time (Connexion rebuilt it,
    about 90 ms of the event loop, on every request)."""
    from connexion.spec import Specification

    first = client.get("/openapi.json")
    assert first.status_code == 200 and first.headers["content-type"] == "application/json"
    rebuilt = []
    original = Specification.clone
    monkeypatch.setattr(Specification, "clone", lambda self: rebuilt.append(1) or original(self))
    again = client.get("/openapi.json")
    assert again.content == first.content and rebuilt == []
    document = again.json()
    assert document["openapi"].startswith("3.0") and "/v3/chat" in document["paths"]
    assert client.get("/openapi.yaml").status_code == 200 and rebuilt == []
