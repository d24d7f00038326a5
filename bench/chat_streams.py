"""Streaming chat under load, against a fake model that streams a token every 50 ms.

Three targets in the same run: the fake model itself (no server in front), a bare Starlette SSE
endpoint that relays it (bench/bare_relay.py), and cozeplus's POST /v3/chat (one worker, PAT auth,
a published agent, every message recorded). Reported:

1. time to first token, one stream at a time (answers of 3 tokens): median and p99 for each
   target, and what each server adds to the model's own;
2. for rising numbers of streams, started at a steady rate and long enough that all are open at
   once: errors, the most streams open at the same time, gaps between tokens (p50, p99), time to
   first token, and the latency of a plain authenticated request made meanwhile. The largest level
   with no errors, every stream open at once and p99 gaps under 250 ms is what a process holds.

Run: .venv/bin/python -m bench.chat_streams [--levels 250,500,...,3000] [--rate 100] [--workers 1,2]
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
import uvloop

from bench.harness import PASSWORD, ROOT, free_port, migrate, process_tree, server_env, start_uvicorn

DELTA = b"event:conversation.message.delta"
MODEL_DELTA = b'"content": "tok "'
DONE_MARKERS = (b"event:done", b"data: [DONE]")


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class Target:
    def __init__(
        self,
        name: str,
        base: str,
        path: str,
        body: dict,
        headers: dict,
        marker: bytes,
        plain_path: str,
        plain_headers: dict,
        pid: int = 0,
    ):
        self.name, self.path, self.marker = name, path, marker
        self.host, self.port = base.split("//")[1].split(":")
        self.base = base
        payload = json.dumps(body).encode()
        head = [
            f"POST {path} HTTP/1.1",
            f"Host: {self.host}:{self.port}",
            "Content-Type: application/json",
            f"Content-Length: {len(payload)}",
            "Connection: close",
            *[f"{k}: {v}" for k, v in headers.items()],
        ]
        self.request = ("\r\n".join(head) + "\r\n\r\n").encode() + payload
        self.plain_path, self.plain_headers, self.pid = plain_path, plain_headers, pid


class StreamClient(asyncio.Protocol):
    """One chat over a bare protocol (the load generator must cost less than what it measures):
    records first-token time and gaps between tokens, and counts open streams in `out`."""

    def __init__(self, target: Target, out: dict, first_token_only: bool, finished: asyncio.Future):
        self.target, self.out, self.first_token_only, self.finished = target, out, first_token_only, finished
        self.keep = max(len(target.marker), *(len(m) for m in DONE_MARKERS)) - 1
        self.started = time.perf_counter()
        self.gaps, self.first, self.last, self.count = [], None, None, 0
        self.tail, self.status_checked, self.transport = b"", False, None

    def connection_made(self, transport) -> None:
        self.transport = transport
        transport.write(self.target.request)

    def data_received(self, data: bytes) -> None:
        now = time.perf_counter()
        if not self.status_checked:
            self.status_checked = True
            status_line = data.split(b"\r\n", 1)[0]
            if b" 200 " not in status_line:
                return self._end(RuntimeError(status_line.decode()))
        window = self.tail + data
        found = window.count(self.target.marker)
        if found:
            if self.first is None:
                self.first = now - self.started
                self.out["open"] += 1
                self.out["most_open"] = max(self.out["most_open"], self.out["open"])
            else:
                self.gaps.append(now - self.last)
            self.gaps.extend([0.0] * (found - 1))
            self.last, self.count = now, self.count + found
            self.out["live_tokens"] += found
            if self.first_token_only:
                return self._end()  # leaving early: the server must stop the run
        if any(m in window for m in DONE_MARKERS):
            return self._end()
        self.tail = window[-self.keep :]

    def connection_lost(self, exc) -> None:
        self._end(exc)

    def _end(self, error: BaseException | None = None) -> None:
        if self.finished.done():
            return
        self.transport.close()
        if self.first is not None:
            self.out["open"] -= 1
        wanted = 1 if self.first_token_only else self.out["tokens"]
        if error is None and self.count < wanted:
            error = RuntimeError(f"{self.count} of {self.out['tokens']} tokens")
        if error is not None:  # counted, not raised: a level fails on any error
            self.out["errors"].append(str(error)[:120])
        else:
            self.out["ttft"].append(self.first)
            self.out["gaps"].extend(self.gaps)
            self.out["received"] += self.count
        self.finished.set_result(None)


async def one_stream(target: Target, out: dict, first_token_only: bool = False) -> None:
    loop = asyncio.get_running_loop()
    finished = loop.create_future()
    try:
        await loop.create_connection(
            lambda: StreamClient(target, out, first_token_only, finished), target.host, int(target.port)
        )
    except OSError as exc:
        out["errors"].append(str(exc)[:120])
        return
    await finished


async def plain_requests(target: Target, stop: asyncio.Event, latencies: list[float]) -> None:
    async with httpx.AsyncClient(base_url=target.base, timeout=30) as client:
        while not stop.is_set():
            started = time.perf_counter()
            response = await client.get(target.plain_path, headers=target.plain_headers)
            if response.status_code == 200:
                latencies.append(time.perf_counter() - started)
            await asyncio.sleep(0.1)


def _collector(tokens: int) -> dict:
    return {
        "tokens": tokens,
        "ttft": [],
        "gaps": [],
        "errors": [],
        "open": 0,
        "most_open": 0,
        "received": 0,
        "live_tokens": 0,
    }


async def steady_window(target: Target, out: dict, seconds: float = 2.0) -> dict:
    """The server's CPU use, and its CPU time per token relayed, over a window in which the
    level's streams are (or should all be) open: what the load costs once it has arrived."""
    cpu, clock, tokens = cpu_seconds(target.pid), time.perf_counter(), out["live_tokens"]
    await asyncio.sleep(seconds)
    used = cpu_seconds(target.pid) - cpu
    return {
        "steady_cpu": used / (time.perf_counter() - clock),
        "steady_us_per_token": used / max(1, out["live_tokens"] - tokens) * 1e6,
    }


async def run_level(target: Target, streams: int, tokens: int, rate: float) -> dict:
    out = _collector(tokens)
    stop, plain = asyncio.Event(), []
    plain_task = asyncio.create_task(plain_requests(target, stop, plain)) if target.plain_path else None
    tasks = []
    for _ in range(streams):
        tasks.append(asyncio.create_task(one_stream(target, out)))
        await asyncio.sleep(1 / rate)
    await asyncio.sleep(1)
    steady = await steady_window(target, out) if target.pid else {}
    await asyncio.gather(*tasks)
    stop.set()
    if plain_task:
        await plain_task
    return {
        "streams": streams,
        "most_open": out["most_open"],
        "errors": len(out["errors"]),
        "first_error": (out["errors"] or [""])[0],
        "gap_p50": percentile(out["gaps"], 0.5),
        "gap_p99": percentile(out["gaps"], 0.99),
        "ttft_p50": percentile(out["ttft"], 0.5),
        "ttft_p99": percentile(out["ttft"], 0.99),
        "plain_p50": percentile(plain, 0.5),
        "plain_p99": percentile(plain, 0.99),
        "received": out["received"],
        **steady,
    }


async def ttft_sample(target: Target, count: int, concurrency: int, tokens: int) -> list[float]:
    out = _collector(tokens)
    semaphore = asyncio.Semaphore(concurrency)

    async def one():
        async with semaphore:
            await one_stream(target, out, first_token_only=True)

    await asyncio.gather(*(one() for _ in range(count)))
    if out["errors"]:
        raise SystemExit(f"{target.name}: {out['errors'][0]}")
    return out["ttft"]


def setup_cozeplus(base: str, model_urls: list[str]) -> tuple[list[str], str]:
    """A published agent on each fake model, and a PAT: what an SDK user has."""
    bots = []
    with httpx.Client(base_url=base, timeout=30) as client:
        token = client.post(
            "/api/passport/web/email/login/", json={"email": "admin@example.com", "password": PASSWORD}
        ).json()["data"]["token"]
        auth = {"Authorization": f"Bearer {token}"}
        for model_url in model_urls:
            model = client.post(
                "/api/admin/config/model/create",
                headers=auth,
                json={"name": "bench fake", "model_name": "fake", "base_url": model_url},
            ).json()["data"]["model"]
            bot_id = client.post("/api/draftbot/create", headers=auth, json={"name": "bench"}).json()["data"][
                "bot_id"
            ]
            client.post(
                "/api/playground_api/draftbot/update_draft_bot_info",
                headers=auth,
                json={
                    "bot_info": {
                        "bot_id": bot_id,
                        "model_info": {"model_id": model["id"]},
                        "suggest_reply_info": {"suggest_reply_mode": 2},
                    }
                },
            ).raise_for_status()
            client.post(
                "/v1/bot/publish", headers=auth, json={"bot_id": bot_id, "connector_ids": ["1024"]}
            ).raise_for_status()
            bots.append(bot_id)
        pat = client.post(
            "/api/permission_api/pat/create_personal_access_token_and_permission",
            headers=auth,
            json={"name": "bench", "duration_day": "1"},
        ).json()["data"]["token"]
    return bots, pat


def cpu_seconds(pid: int) -> float:
    """User and system CPU time a process and its workers have used so far."""
    total = 0
    for current in process_tree(pid):
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def fmt(seconds: float) -> str:
    return f"{seconds * 1000:7.1f}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--levels", default="250,500,750,1000,1250,1500,1750,2000,2500,3000")
    parser.add_argument("--rate", type=float, default=100, help="streams started per second")
    parser.add_argument(
        "--hold", type=float, default=5, help="seconds every stream of a level is open together"
    )
    parser.add_argument("--delay-ms", type=float, default=50)
    parser.add_argument("--ttft-samples", type=int, default=200)
    parser.add_argument(
        "--only", choices=["bare", "cozeplus"], help="measure concurrent streams of one target"
    )
    parser.add_argument(
        "--workers",
        default="1",
        help="cozeplus worker counts to measure concurrent streams with, e.g. 1,2 (one: pinned to "
        "the servers' CPU; several: free to use every CPU, as a deployment's workers are)",
    )
    args = parser.parse_args()
    worker_counts = [int(n) for n in args.workers.split(",")]
    levels = [int(n) for n in args.levels.split(",")]
    # long enough that the last stream of the largest level starts while the first still streams
    long_tokens = int((max(levels) / args.rate + args.hold) * 1000 / args.delay_ms)

    data_dir = Path(tempfile.mkdtemp(prefix="cozeplus-bench-"))
    short_port, long_port = free_port(), free_port()
    short_url, long_url = (f"http://127.0.0.1:{port}/v1" for port in (short_port, long_port))
    # the fake model admitted; no limits (this measures capacity: bench/limits_metrics.py, limits)
    env = server_env(
        data_dir,
        BENCH_MODEL_URL=short_url,
        COZEPLUS_OUTBOUND_ALLOW="127.0.0.1",
        COZEPLUS_RATE_LIMITS="off",
        COZEPLUS_ADDRESS_RATE_LIMITS="off",
        COZEPLUS_MAX_RUNS_PER_USER="0",
        COZEPLUS_MAX_RUNS_PER_AGENT="0",
    )
    migrate(env)
    # The servers measured get CPU 0 to themselves; this load generator and the fake models share
    # the others (with a single CPU, everything shares it and the figures say less).
    cpus = sorted(os.sched_getaffinity(0))
    server_cpus, load_cpus = ({cpus[0]}, set(cpus[1:])) if len(cpus) > 1 else (set(cpus), set(cpus))
    os.sched_setaffinity(0, load_cpus)
    models = [
        subprocess.Popen(
            [sys.executable, "-m", "bench.fake_model", str(port), str(args.delay_ms), str(tokens)],
            cwd=ROOT,
            env=env,
        )
        for port, tokens in ((short_port, 3), (long_port, long_tokens))
    ]
    ours, ours_url = start_uvicorn("core.asgi:create", env, probe_path="/healthz", cwd=ROOT)
    bare, bare_url = start_uvicorn("bench.bare_relay:create", env, probe_path="/v1/users/me", cwd=ROOT)
    for server in (ours, bare):
        os.sched_setaffinity(server.pid, server_cpus)
    try:
        (short_bot, long_bot), pat = setup_cozeplus(ours_url, [short_url, long_url])
        auth = {"Authorization": f"Bearer {pat}"}

        def targets(
            bot_id: str, model_port: int, model_url: str, ours_at=None, ours_pid=None, ours_name=None
        ) -> list[Target]:
            question = {
                "bot_id": bot_id,
                "user_id": "bench",
                "stream": True,
                "bench_model_url": model_url,
                "additional_messages": [{"role": "user", "content": "Hello", "content_type": "text"}],
            }
            return [
                Target(
                    "fake model alone",
                    f"http://127.0.0.1:{model_port}",
                    "/v1/chat/completions",
                    {"model": "fake", "stream": True, "messages": [{"role": "user", "content": "Hello"}]},
                    {},
                    MODEL_DELTA,
                    "",
                    {},
                ),
                Target(
                    "bare Starlette relay",
                    bare_url,
                    "/v3/chat",
                    question,
                    {},
                    DELTA,
                    "/v1/users/me",
                    {},
                    bare.pid,
                ),
                Target(
                    ours_name or "cozeplus /v3/chat",
                    ours_at or ours_url,
                    "/v3/chat",
                    question,
                    auth,
                    DELTA,
                    "/v1/users/me",
                    auth,
                    ours_pid or ours.pid,
                ),
            ]

        short, long = targets(short_bot, short_port, short_url), targets(long_bot, long_port, long_url)
        for target in short:  # warm-up, and a check that every target streams
            uvloop.run(ttft_sample(target, 5, 5, 3))

        engine = "postgresql" if env.get("DATABASE_URL", "").startswith("postgres") else "sqlite"
        print(
            f"streaming chat, one worker, {engine}; fake model: one token every {args.delay_ms:.0f} ms; "
            f"servers on CPU {sorted(server_cpus)}, load and models on {sorted(load_cpus)}"
        )
        print(f"\n1. time to first token, {args.ttft_samples} streams one after another (ms)")
        medians = {}
        for target in short:
            sample = uvloop.run(ttft_sample(target, args.ttft_samples, 1, 3))
            medians[target.name] = (statistics.median(sample), percentile(sample, 0.99))
            print(
                f"   {target.name:22} median {fmt(medians[target.name][0])}"
                f"   p99 {fmt(medians[target.name][1])}"
            )
        model_p50, model_p99 = medians["fake model alone"]
        for name in ("bare Starlette relay", "cozeplus /v3/chat"):
            print(
                f"   added by {name:22} median {fmt(medians[name][0] - model_p50)}   "
                f"p99 {fmt(medians[name][1] - model_p99)}"
            )

        print(
            f"\n2. concurrent streams, {args.rate:.0f} started per second, "
            f"answers of {long_tokens} tokens (ms;"
            f" a level passes with no errors, all open at once and p99 gap < 250 ms)"
        )
        print(
            "   target                 streams   open errors  gap p50  gap p99 ttft p50 ttft p99 "
            "plain p50 plain p99  server% µs/token load%"
        )
        held = {}
        extra_servers = []
        measured = list(long[1:])
        for count in worker_counts:
            if count == 1:
                continue
            server, url = start_uvicorn(
                "core.asgi:create", env, probe_path="/healthz", cwd=ROOT, workers=count
            )
            extra_servers.append(server)
            for pid in process_tree(server.pid):
                os.sched_setaffinity(pid, set(cpus))
            name = f"cozeplus, {count} workers"
            measured.append(targets(long_bot, long_port, long_url, url, server.pid, name)[2])
        if 1 not in worker_counts:
            measured = [t for t in measured if t.name != "cozeplus /v3/chat"]
        for target in measured:
            if args.only and args.only not in target.name.lower():
                continue
            for streams in levels:
                pids = {"load": os.getpid(), **{f"model{i}": m.pid for i, m in enumerate(models)}}
                before, clock = {name: cpu_seconds(pid) for name, pid in pids.items()}, time.perf_counter()
                result = uvloop.run(run_level(target, streams, long_tokens, args.rate))
                elapsed = time.perf_counter() - clock
                used = {name: (cpu_seconds(pid) - before[name]) / elapsed for name, pid in pids.items()}
                load_cpu = sum(used.values())
                passed = result["errors"] == 0 and result["gap_p99"] < 0.25 and result["most_open"] == streams
                print(
                    f"   {target.name:22} {streams:7d} {result['most_open']:6d} {result['errors']:6d} "
                    f"{fmt(result['gap_p50'])}  {fmt(result['gap_p99'])} {fmt(result['ttft_p50'])} "
                    f"{fmt(result['ttft_p99'])}   {fmt(result['plain_p50'])}   {fmt(result['plain_p99'])}  "
                    + f"  {result['steady_cpu']:6.0%} {result['steady_us_per_token']:6.1f} {load_cpu:6.0%}  "
                    + ("pass" if passed else "FAIL")
                    + (f"  ({result['first_error']})" if result["errors"] else "")
                )
                if not passed:
                    break
                held[target.name] = streams
        print("\n   largest level held: " + ", ".join(f"{t.name} {held.get(t.name, 0)}" for t in measured))
        one = held.get("cozeplus /v3/chat", 0)
        for target in measured:
            if target.name.startswith("cozeplus, ") and one:
                capped = held.get(target.name) == max(levels)  # it might have held more
                print(
                    f"   {target.name} / one worker: {held.get(target.name, 0) / one:.2f}"
                    + (" at least (it held the highest level tried)" if capped else "")
                )
    finally:
        for proc in (ours, bare, *models, *extra_servers):
            proc.terminate()


if __name__ == "__main__":
    main()
