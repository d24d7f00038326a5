"""Streaming chat under load, against a fake model that streams a token every 50 ms.

Three targets in the same run: the fake model itself (no server in front), a bare Starlette SSE
endpoint that relays it (bench/bare_relay.py), and cozeplus's POST /v3/chat (one worker, PAT auth,
a published agent, every message recorded). Reported:

1. time to first token, one stream at a time: median and p99 for each target, and what each
   server adds to the model's own;
2. for rising numbers of concurrent streams: errors, p99 gap between tokens, p99 time to first
   token, and the latency of a plain authenticated request made meanwhile. The largest level with
   no errors and p99 gaps under 250 ms is what a process holds.

Run: .venv/bin/python -m bench.chat_streams [--levels 250,500,1000,1500] [--tokens 60]
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bench.harness import free_port, start_uvicorn

ROOT = Path(__file__).resolve().parent.parent
DELTA = b"event:conversation.message.delta"
MODEL_DELTA = b'"content": "tok "'
DONE_MARKERS = (b"event:done", b"data: [DONE]")
PASSWORD = "bench-password-1"


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class Target:
    def __init__(self, name: str, base: str, path: str, body: dict, headers: dict, marker: bytes,
                 plain_path: str, plain_headers: dict):
        self.name, self.path, self.marker = name, path, marker
        self.host, self.port = base.split("//")[1].split(":")
        self.base = base
        payload = json.dumps(body).encode()
        head = [f"POST {path} HTTP/1.1", f"Host: {self.host}:{self.port}", "Content-Type: application/json",
                f"Content-Length: {len(payload)}", "Connection: close",
                *[f"{k}: {v}" for k, v in headers.items()]]
        self.request = ("\r\n".join(head) + "\r\n\r\n").encode() + payload
        self.plain_path, self.plain_headers = plain_path, plain_headers


async def one_stream(target: Target, out: dict) -> None:
    started = time.perf_counter()
    gaps, first, last, count = [], None, None, 0
    keep = max(len(target.marker), *(len(m) for m in DONE_MARKERS)) - 1
    tail = b""
    try:
        reader, writer = await asyncio.open_connection(target.host, int(target.port))
        writer.write(target.request)
        status_line = None
        while True:
            data = await reader.read(65536)
            if not data:
                break
            now = time.perf_counter()
            if status_line is None:
                status_line = data.split(b"\r\n", 1)[0]
                if b" 200 " not in status_line:
                    raise RuntimeError(status_line.decode())
            window = tail + data
            found = window.count(target.marker)
            if found:
                if first is None:
                    first = now - started
                else:
                    gaps.append(now - last)
                gaps.extend([0.0] * (found - 1))
                last, count = now, count + found
            if any(m in window for m in DONE_MARKERS):
                break
            tail = window[-keep:]
        writer.close()
        if count < out["tokens"]:
            raise RuntimeError(f"{count} of {out['tokens']} tokens")
        out["ttft"].append(first)
        out["gaps"].extend(gaps)
    except Exception as exc:  # counted, not raised: a level fails on any error
        out["errors"].append(str(exc)[:120])


async def plain_requests(target: Target, stop: asyncio.Event, latencies: list[float]) -> None:
    async with httpx.AsyncClient(base_url=target.base, timeout=30) as client:
        while not stop.is_set():
            started = time.perf_counter()
            response = await client.get(target.plain_path, headers=target.plain_headers)
            if response.status_code == 200:
                latencies.append(time.perf_counter() - started)
            await asyncio.sleep(0.1)


async def run_level(target: Target, streams: int, tokens: int, ramp_seconds: float) -> dict:
    out = {"tokens": tokens, "ttft": [], "gaps": [], "errors": []}
    stop, plain = asyncio.Event(), []
    plain_task = asyncio.create_task(plain_requests(target, stop, plain)) if target.plain_path else None
    tasks = []
    for index in range(streams):
        tasks.append(asyncio.create_task(one_stream(target, out)))
        if ramp_seconds:
            await asyncio.sleep(ramp_seconds / streams)
    await asyncio.gather(*tasks)
    stop.set()
    if plain_task:
        await plain_task
    return {"streams": streams, "errors": len(out["errors"]), "first_error": (out["errors"] or [""])[0],
            "gap_p50": percentile(out["gaps"], 0.5), "gap_p99": percentile(out["gaps"], 0.99),
            "ttft_p50": percentile(out["ttft"], 0.5), "ttft_p99": percentile(out["ttft"], 0.99),
            "plain_p50": percentile(plain, 0.5), "plain_p99": percentile(plain, 0.99)}


async def ttft_sample(target: Target, count: int, concurrency: int, tokens: int) -> list[float]:
    out = {"tokens": tokens, "ttft": [], "gaps": [], "errors": []}
    semaphore = asyncio.Semaphore(concurrency)

    async def one():
        async with semaphore:
            await one_stream(target, out)
    await asyncio.gather(*(one() for _ in range(count)))
    if out["errors"]:
        raise SystemExit(f"{target.name}: {out['errors'][0]}")
    return out["ttft"]


def setup_cozeplus(base: str, model_url: str) -> tuple[str, str]:
    """A published agent on the fake model, and a PAT: what an SDK user has."""
    with httpx.Client(base_url=base, timeout=30) as client:
        token = client.post("/api/passport/web/email/login/",
                            json={"email": "admin@example.com", "password": PASSWORD}).json()["data"]["token"]
        auth = {"Authorization": f"Bearer {token}"}
        model = client.post("/api/admin/config/model/create", headers=auth, json={
            "name": "bench fake", "model_name": "fake", "base_url": model_url}).json()["data"]["model"]
        bot_id = client.post("/api/draftbot/create", headers=auth, json={"name": "bench"}).json()["data"]["bot_id"]
        client.post("/api/playground_api/draftbot/update_draft_bot_info", headers=auth, json={"bot_info": {
            "bot_id": bot_id, "model_info": {"model_id": model["id"]},
            "suggest_reply_info": {"suggest_reply_mode": 2}}}).raise_for_status()
        client.post("/v1/bot/publish", headers=auth, json={"bot_id": bot_id, "connector_ids": ["1024"]}).raise_for_status()
        pat = client.post("/api/permission_api/pat/create_personal_access_token_and_permission", headers=auth,
                          json={"name": "bench", "duration_day": "1"}).json()["data"]["token"]
    return bot_id, pat


def fmt(seconds: float) -> str:
    return f"{seconds * 1000:7.1f}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--levels", default="250,500,1000,1500")
    parser.add_argument("--tokens", type=int, default=60, help="tokens per answer (50 ms apart)")
    parser.add_argument("--delay-ms", type=float, default=50)
    parser.add_argument("--ttft-samples", type=int, default=200)
    parser.add_argument("--ramp", type=float, default=1.0, help="seconds over which a level's streams start")
    args = parser.parse_args()
    levels = [int(n) for n in args.levels.split(",")]

    data_dir = Path(tempfile.mkdtemp(prefix="cozeplus-bench-"))
    model_port = free_port()
    model_url = f"http://127.0.0.1:{model_port}/v1"
    env = {**os.environ, "COZEPLUS_DATA_DIR": str(data_dir), "COZEPLUS_ADMIN_PASSWORD": PASSWORD,
           "COZEPLUS_LOG_LEVEL": "WARNING", "COZEPLUS_LOG_REQUESTS": "0", "PYTHONPATH": str(ROOT),
           "BENCH_MODEL_URL": model_url}
    subprocess.run([sys.executable, "-m", "core.cli", "migrate"], cwd=ROOT, env=env, check=True, capture_output=True)
    model = subprocess.Popen([sys.executable, "-m", "bench.fake_model", str(model_port), str(args.delay_ms),
                              str(args.tokens)], cwd=ROOT, env=env)
    ours, ours_url = start_uvicorn("core.asgi:create", env, probe_path="/healthz", cwd=ROOT)
    bare, bare_url = start_uvicorn("bench.bare_relay:create", env, probe_path="/v1/users/me", cwd=ROOT)
    try:
        bot_id, pat = setup_cozeplus(ours_url, model_url)
        question = {"bot_id": bot_id, "user_id": "bench", "stream": True,
                    "additional_messages": [{"role": "user", "content": "Hello", "content_type": "text"}]}
        auth = {"Authorization": f"Bearer {pat}"}
        targets = [
            Target("fake model alone", f"http://127.0.0.1:{model_port}", "/v1/chat/completions",
                   {"model": "fake", "stream": True, "messages": [{"role": "user", "content": "Hello"}]}, {},
                   MODEL_DELTA, "", {}),
            Target("bare Starlette relay", bare_url, "/v3/chat", question, {}, DELTA, "/v1/users/me", {}),
            Target("cozeplus /v3/chat", ours_url, "/v3/chat", question, auth, DELTA, "/v1/users/me", auth),
        ]
        for target in targets:  # warm-up, and a check that every target streams
            asyncio.run(ttft_sample(target, 5, 5, args.tokens))

        engine = "postgresql" if env.get("DATABASE_URL", "").startswith("postgres") else "sqlite"
        print(f"streaming chat, one worker, {engine}; fake model: {args.tokens} tokens, one every "
              f"{args.delay_ms:.0f} ms")
        print(f"\n1. time to first token, {args.ttft_samples} streams one after another (ms)")
        medians = {}
        for target in targets:
            sample = asyncio.run(ttft_sample(target, args.ttft_samples, 1, args.tokens))
            medians[target.name] = (statistics.median(sample), percentile(sample, 0.99))
            print(f"   {target.name:22} median {fmt(medians[target.name][0])}   p99 {fmt(medians[target.name][1])}")
        model_p50, model_p99 = medians["fake model alone"]
        for name in ("bare Starlette relay", "cozeplus /v3/chat"):
            print(f"   added by {name:22} median {fmt(medians[name][0] - model_p50)}   "
                  f"p99 {fmt(medians[name][1] - model_p99)}")

        print("\n2. concurrent streams (ms; a level passes with no errors and p99 gap < 250 ms)")
        print("   target                 streams errors  gap p50  gap p99 ttft p50 ttft p99 plain p50 plain p99")
        held = {}
        for target in targets[1:]:
            for streams in levels:
                result = asyncio.run(run_level(target, streams, args.tokens, args.ramp))
                passed = result["errors"] == 0 and result["gap_p99"] < 0.25
                print(f"   {target.name:22} {streams:7d} {result['errors']:6d} {fmt(result['gap_p50'])}  "
                      f"{fmt(result['gap_p99'])} {fmt(result['ttft_p50'])} {fmt(result['ttft_p99'])}   "
                      f"{fmt(result['plain_p50'])}   {fmt(result['plain_p99'])}  {'pass' if passed else 'FAIL'}"
                      + (f"  ({result['first_error']})" if result["errors"] else ""))
                if not passed:
                    break
                held[target.name] = streams
        print("\n   largest level held: " + ", ".join(f"{name} {held.get(name, 0)}" for name in
                                                      ("bare Starlette relay", "cozeplus /v3/chat")))
    finally:
        for proc in (ours, bare, model):
            proc.terminate()


if __name__ == "__main__":
    main()
