"""The server's log: JSON lines written by a writer thread (core/logs.py), each access line with
the request id of its request, and every line out by the time the process has exited."""

from __future__ import annotations

import json

import httpx
from conftest import run_cli, start_server
from test_crash import crash_env


def test_access_lines_carry_their_request_ids_and_none_is_lost_at_exit(tmp_path):
    env = crash_env(tmp_path, COZEPLUS_LOG_LEVEL="INFO", COZEPLUS_LOG_REQUESTS="1")
    run_cli(env, "migrate", check=True)
    server, base = start_server(env)
    try:
        sent = [f"trace-{n}" for n in range(50)]
        for request_id in sent:
            assert httpx.get(f"{base}/healthz", headers={"X-Request-Id": request_id}).status_code == 200
        missing = httpx.get(f"{base}/nowhere", headers={"X-Request-Id": "trace-404"})
        assert missing.status_code == 404
    finally:
        server.terminate()
        output = server.communicate(timeout=20)[0].decode()
    lines = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    access = {line["request_id"]: line for line in lines if line["logger"] == "cozeplus.access"}
    assert set(sent) <= set(access), sorted(set(sent) - set(access))[:5]
    assert access["trace-7"]["path"] == "/healthz" and access["trace-7"]["status"] == 200
    assert access["trace-404"]["status"] == 404
    assert all({"ts", "level", "logger", "msg"} <= set(line) for line in lines)
