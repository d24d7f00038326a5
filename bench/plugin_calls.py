"""What a plugin tool call adds over calling the same local endpoint directly with httpx, in the
same run, alternating rounds:

- direct, one client: an httpx.Client kept open (connections reused), GET with the same path,
  query and header;
- direct, a client per call: the same with a new httpx.Client each time (a new connection);
- tool call: services.plugin_calls.call, what a chat's tool call runs: the arguments checked
  against the tool's schema, the request built from the operation (path, query, header, the
  service token), the outbound guard (DNS resolution and address check), the send, the output
  made for the model;
- debug_api: the same through the HTTP API (POST /api/plugin_api/debug_api on one uvicorn
  worker), which also loads and checks the plugin and records the debug status.

    python -m bench.plugin_calls [--calls 500] [--rounds 5]

The endpoint is a separate uvicorn process (bench/tool_service.py) on 127.0.0.1, admitted by the
outbound allow-list. Medians of per-call latency; ratios to the one-client baseline."""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from bench.harness import PASSWORD, ROOT, migrate, server_env, start_uvicorn

TOKEN = "bench-service-token"
MANIFEST = {
    "schema_version": "v1",
    "name_for_human": "Weather",
    "name_for_model": "weather",
    "description_for_human": "Forecasts",
    "description_for_model": "Forecasts",
    "auth": {
        "type": "service_http",
        "payload": json.dumps({"location": "header", "key": "X-Api-Key", "service_token": TOKEN}),
    },
}


def document(url: str) -> str:
    return f"""openapi: 3.0.1
info: {{title: Weather, version: v1}}
servers: [{{url: "{url}"}}]
paths:
  /forecast/{{city}}:
    get:
      operationId: get_forecast
      parameters:
        - {{name: city, in: path, required: true, schema: {{type: string}}}}
        - {{name: days, in: query, schema: {{type: integer, default: 3}}}}
        - {{name: X-Units, in: header, schema: {{type: string}}}}
      responses: {{"200": {{description: ok}}}}
"""


def timed(call, count: int) -> list[float]:
    out = []
    for _ in range(count):
        started = time.perf_counter()
        call()
        out.append(time.perf_counter() - started)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=500, help="calls a side and round")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    data_dir = Path(tempfile.mkdtemp(prefix="cozeplus-bench-plugins-"))
    env = server_env(data_dir, COZEPLUS_OUTBOUND_ALLOW="127.0.0.1")
    env.pop("DATABASE_URL", None)
    os.environ.update(
        {k: env[k] for k in ("COZEPLUS_DATA_DIR", "COZEPLUS_OUTBOUND_ALLOW", "COZEPLUS_LOG_LEVEL")}
    )
    migrate(env)
    cpus = sorted(os.sched_getaffinity(0))
    server_cpus, client_cpus = ({cpus[0]}, set(cpus[1:])) if len(cpus) > 1 else (set(cpus), set(cpus))
    os.sched_setaffinity(0, client_cpus)
    service, service_base = start_uvicorn("bench.tool_service:create", env, probe_path="/", cwd=ROOT)
    api, api_base = start_uvicorn("core.asgi:create", env, probe_path="/healthz", cwd=ROOT)
    for process in (service, api):
        os.sched_setaffinity(process.pid, server_cpus)
    try:
        run(args, service_base + "/api", api_base)
    finally:
        for process in (service, api):
            process.kill()
            process.wait()


def run(args, service_url: str, api_base: str) -> None:
    client = httpx.Client(base_url=api_base, timeout=30)
    token = client.post(
        "/api/passport/web/email/login/", json={"email": "admin@example.com", "password": PASSWORD}
    ).json()["data"]["token"]
    client.headers["Authorization"] = f"Bearer {token}"
    space = client.post("/api/playground_api/space/list", json={}).json()["data"]["bot_space_list"][0]["id"]
    registered = client.post(
        "/api/plugin_api/register",
        json={"space_id": space, "ai_plugin": json.dumps(MANIFEST), "openapi": document(service_url)},
    ).json()
    plugin_id = registered["data"]["plugin_id"]
    api_id = client.post("/api/plugin_api/get_plugin_apis", json={"plugin_id": plugin_id}).json()["api_info"][
        0
    ]["api_id"]

    from core.settings import get_settings
    from models.db import init_db
    from models.plugin import Plugin, PluginTool
    from services import plugin_calls

    init_db(get_settings().database_url)
    plugin, tool = Plugin.get_by_id(int(plugin_id)), PluginTool.get_by_id(int(api_id))
    arguments = {"city": "Paris", "X-Units": "metric"}
    url, headers = f"{service_url}/forecast/Paris?days=3", {"X-Units": "metric", "X-Api-Key": TOKEN}
    kept = httpx.Client(timeout=30, trust_env=False)
    expected = kept.get(url, headers=headers).json()

    def direct_kept():
        assert kept.get(url, headers=headers).json() == expected

    def direct_new():
        with httpx.Client(timeout=30, trust_env=False) as fresh:
            assert fresh.get(url, headers=headers).json() == expected

    def tool_call():
        outcome = plugin_calls.call(plugin, tool.method, tool.path, tool.operation, arguments)
        assert outcome.success and json.loads(outcome.output) == expected, outcome.reason

    debug_body = {
        "plugin_id": plugin_id,
        "api_id": api_id,
        "parameters": json.dumps(arguments),
        "operation": 1,
    }

    def debug_api():
        answer = client.post("/api/plugin_api/debug_api", json=debug_body).json()
        assert answer["success"] and json.loads(answer["raw_resp"]) == expected, answer

    sides = {
        "direct httpx, one client": direct_kept,
        "direct httpx, a client per call": direct_new,
        "tool call (plugin_calls.call)": tool_call,
        "debug_api over HTTP": debug_api,
    }
    for call in sides.values():  # warm up
        timed(call, 20)
    medians = {name: [] for name in sides}
    for _ in range(args.rounds):
        for name, call in sides.items():
            medians[name].append(statistics.median(timed(call, args.calls)) * 1e6)
    baseline = statistics.median(medians["direct httpx, one client"])
    print(f"{args.rounds} rounds x {args.calls} calls a side; median of the rounds' medians")
    print("| side | p50 us | over direct (one client) | ratio | rounds |")
    print("| --- | --- | --- | --- | --- |")
    for name, values in medians.items():
        value = statistics.median(values)
        rounds = ", ".join(f"{v:.0f}" for v in values)
        print(f"| {name} | {value:.0f} | {value - baseline:+.0f} | {value / baseline:.2f} | {rounds} |")


if __name__ == "__main__":
    main()
