"""Webhook deliveries per second and the delay from event to delivery, one uvicorn worker with its
in-process task queue, SQLite: `--events` empty workflow runs (each emits workflow.completed)
sent as fast as one client can, to a subscription whose receiver (a bare Starlette app on
another port) records when each delivery arrives. Measured in the same run, as the baseline: the
same receiver taking POSTs of the same bodies straight from one client, in sequence.

    python -m bench.webhooks [--events 500] [--rounds 3]

Reports medians over rounds: deliveries per second (first event sent to last delivery in), the
median and 95th-percentile delay from a run's answer to its delivery, and the baseline's POSTs
per second."""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import threading
import time
from pathlib import Path

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bench.harness import PASSWORD, ROOT, free_port, migrate, server_env, start_uvicorn


class Receiver:
    def __init__(self):
        self.arrived: dict[str, float] = {}  # execute id -> when its delivery came
        self.count = 0

        async def hook(request: Request):
            event = json.loads(await request.body())
            self.count += 1
            self.arrived[event["data"].get("execute_id", str(self.count))] = time.perf_counter()
            return JSONResponse({"ok": True})

        self.app = Starlette(routes=[Route("/hook", hook, methods=["POST"])])
        self.port = free_port()
        self.server = uvicorn.Server(
            uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning")
        )
        threading.Thread(target=self.server.run, daemon=True).start()
        while not self.server.started:
            time.sleep(0.02)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    receiver = Receiver()
    data_dir = Path(tempfile.mkdtemp(prefix="cozeplus-bench-hooks-"))
    env = server_env(data_dir, COZEPLUS_OUTBOUND_ALLOW=f"127.0.0.1:{receiver.port}")
    migrate(env)
    server, base = start_uvicorn("core.asgi:create", env, cwd=ROOT)
    hook_url = f"http://127.0.0.1:{receiver.port}/hook"
    rates, delays, baselines = [], [], []
    try:
        login = {"email": "admin@example.com", "password": PASSWORD}
        token = httpx.post(base + "/api/passport/web/email/login/", json=login).json()["data"]["token"]
        client = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=60)
        space = client.get("/v1/workspaces").json()["data"]["workspaces"][0]["id"]
        workflow_id = client.post(
            "/api/workflow_api/create", json={"space_id": space, "name": "hooked", "desc": "bench"}
        ).json()["data"]["workflow_id"]
        client.post("/api/workflow_api/publish", json={"workflow_id": workflow_id, "force": True})
        made = client.post(
            "/api/webhook/create", json={"space_id": space, "url": hook_url, "events": ["workflow.completed"]}
        )
        assert made.json()["code"] == 0, made.text
        body = {"workflow_id": workflow_id, "parameters": {}}
        for _ in range(args.rounds):
            receiver.arrived.clear()
            answered: dict[str, float] = {}
            started = time.perf_counter()
            for _ in range(args.events):
                answer = client.post("/v1/workflow/run", json=body).json()
                answered[answer["execute_id"]] = time.perf_counter()
            deadline = time.perf_counter() + 120
            while (
                len([e for e in answered if e in receiver.arrived]) < args.events
                and time.perf_counter() < deadline
            ):
                time.sleep(0.01)
            missing = [e for e in answered if e not in receiver.arrived]
            if missing:
                raise SystemExit(f"{len(missing)} deliveries did not arrive")
            last = max(receiver.arrived[e] for e in answered)
            rates.append(args.events / (last - started))
            delays.append(sorted(receiver.arrived[e] - answered[e] for e in answered))
            payload = json.dumps({"id": "evt", "event": "workflow.completed", "timestamp": 0, "data": {}})
            with httpx.Client(timeout=30) as direct:
                began = time.perf_counter()
                for _ in range(args.events):
                    direct.post(hook_url, content=payload, headers={"Content-Type": "application/json"})
                baselines.append(args.events / (time.perf_counter() - began))
    finally:
        server.terminate()
        server.wait(timeout=30)
        receiver.server.should_exit = True
        shutil.rmtree(data_dir, ignore_errors=True)
    rate, baseline = statistics.median(rates), statistics.median(baselines)
    p50 = statistics.median(statistics.median(d) for d in delays) * 1000
    p95 = statistics.median(d[int(len(d) * 0.95) - 1] for d in delays) * 1000
    shown = [round(r) for r in rates]
    print(f"webhook deliveries, 1 worker, sqlite, {args.rounds} rounds x {args.events} events each")
    print(f"  deliveries/s (first event to last delivery): median {rate:.0f}  rounds {shown}")
    print(f"  delay from a run's answer to its delivery: p50 {p50:.1f} ms, p95 {p95:.1f} ms")
    print(f"  baseline, the receiver POSTed directly from one client: {baseline:.0f}/s")
    print(f"  ratio deliveries / direct POSTs: {rate / baseline:.2f}")


if __name__ == "__main__":
    main()
