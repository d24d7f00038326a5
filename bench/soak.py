"""A soak: mixed traffic at about 70 % of the measured capacity for ten minutes, against
`cozeplus serve` as `make run` serves it (access log, metrics, rate limits counting, with limits
past the load), on its own SQLite data directory with the offline model.

First the capacity: the mix sent by 16 clients in a closed loop for --probe seconds (requests
answered per second). Then the same mix sent open-loop (requests started at a steady rate,
whether or not earlier ones are done) at --share of it for --minutes. Reported per minute:
requests, errors (any answer but 200 with code 0, or no answer), latency p50 and p99, and the
server's memory (RSS), with the growth of memory from the first minute to the last.

The mix: half authenticated reads (account info, the workspace list, an agent's published
information), a fifth writes (a conversation, a message in it), 15 % chats streamed from the
offline model to their end, 15 % knowledge searches (hybrid off: full text).

    python -m bench.soak [--minutes 10] [--share 0.7] [--probe 20]

The load generator is bare asyncio protocols (bench/rawhttp.py): with httpx, on two cores, the
client saturated first (92 % of a CPU against the server's 14 %), so what was measured was the
client. The report gives both processes' CPU so that a reader can check which one bound it."""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx
import uvloop

from bench.chat_streams import cpu_seconds
from bench.harness import AS_SHIPPED_LOGS, PASSWORD, ROOT, free_port, migrate, server_env
from bench.rawhttp import Pool
from bench.startup import rss_mb

MIX = (("read", 50), ("write", 20), ("chat", 15), ("search", 15))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def answered(status: int, body: bytes) -> tuple[bool, bytes]:
    """(whether it was answered 200 with code 0, the body, to report a refusal)."""
    return status == 200 and json.loads(body).get("code") == 0, body


class Traffic:
    def __init__(self, pool: Pool, bot_id: str, dataset_id: str):
        self.pool, self.bot_id, self.dataset_id = pool, bot_id, dataset_id
        self.conversations: list[str] = []
        self.rng = random.Random(7)
        self.failures: Counter = Counter()

    def pick(self) -> str:
        return self.rng.choices([k for k, _ in MIX], weights=[w for _, w in MIX])[0]

    async def one(self, kind: str) -> tuple[bool, bytes]:
        """Send one request of `kind`: whether it was answered as it should be, and the body."""
        request = self.pool.request
        if kind == "read":
            choice = self.rng.randrange(3)
            if choice == 0:
                return answered(*await request("POST", "/api/passport/account/info/v2/", {}))
            if choice == 1:
                return answered(*await request("GET", "/v1/workspaces"))
            return answered(*await request("GET", f"/v1/bot/get_online_info?bot_id={self.bot_id}"))
        if kind == "write":
            if not self.conversations or self.rng.random() < 0.3:
                ok, body = answered(
                    *await request("POST", "/v1/conversation/create", {"bot_id": self.bot_id})
                )
                if ok:
                    self.conversations.append(json.loads(body)["data"]["id"])
                return ok, body
            conversation = self.rng.choice(self.conversations[-50:])
            message = {"role": "user", "content": "a note", "content_type": "text"}
            path = f"/v1/conversation/message/create?conversation_id={conversation}"
            return answered(*await request("POST", path, message))
        if kind == "chat":
            body = {
                "bot_id": self.bot_id,
                "user_id": "soak",
                "stream": True,
                "additional_messages": [{"role": "user", "content": "Hello there", "content_type": "text"}],
            }
            status, text = await request("POST", "/v3/chat", body)
            return status == 200 and b"conversation.chat.completed" in text, text
        search = {"dataset_ids": [self.dataset_id], "query": "depot opening hours", "search_strategy": 20}
        return answered(*await request("POST", "/api/knowledge/retrieve", search))


async def timed(traffic: Traffic, kind: str, into: list) -> None:
    began = time.perf_counter()
    try:
        ok, body = await traffic.one(kind)
        if not ok:
            traffic.failures[f"{kind}: refused {body[:160]!r}"] += 1
    except (TimeoutError, OSError, ValueError) as exc:
        ok = False
        traffic.failures[f"{kind}: {type(exc).__name__} {str(exc)[:80]}"] += 1
    into.append((time.monotonic(), time.perf_counter() - began, ok))


async def capacity(traffic: Traffic, seconds: float, clients: int = 16) -> float:
    done: list = []
    stop = time.monotonic() + seconds

    async def client_loop():
        while time.monotonic() < stop:
            await timed(traffic, traffic.pick(), done)

    began = time.monotonic()
    await asyncio.gather(*(client_loop() for _ in range(clients)))
    return len([d for d in done if d[2]]) / (time.monotonic() - began)


async def soak(traffic: Traffic, rate: float, minutes: float, pid: int) -> tuple[list, list]:
    """Requests started at `rate` per second for `minutes`: (when, took, ok) each, and the
    server's (when, RSS MB, CPU seconds) every ten seconds."""
    done: list = []
    samples: list[tuple[float, float, float]] = []
    pending: set = set()
    began = time.monotonic()
    end = began + minutes * 60
    next_start, next_sample = began, began
    while time.monotonic() < end:
        now = time.monotonic()
        if now >= next_sample:
            samples.append((now - began, rss_mb(pid), cpu_seconds(pid)))
            next_sample += 10
        while next_start <= now:
            task = asyncio.create_task(timed(traffic, traffic.pick(), done))
            pending.add(task)
            task.add_done_callback(pending.discard)
            next_start += 1 / rate
        await asyncio.sleep(max(0.0, min(next_start, next_sample) - time.monotonic()))
    await asyncio.gather(*pending)
    samples.append((time.monotonic() - began, rss_mb(pid), cpu_seconds(pid)))
    return [(t - began, took, ok) for t, took, ok in done], samples


def setup(base: str) -> tuple[str, str, str]:
    """(token, a published agent on the offline model, a knowledge base holding one document)."""
    with httpx.Client(base_url=base, timeout=60) as client:
        login = {"email": "admin@example.com", "password": PASSWORD}
        token = client.post("/api/passport/web/email/login/", json=login).json()["data"]["token"]
        client.headers["Authorization"] = f"Bearer {token}"
        bot_id = client.post("/api/draftbot/create", json={"name": "soak"}).json()["data"]["bot_id"]
        client.post("/v1/bot/publish", json={"bot_id": bot_id, "connector_ids": ["1024"]}).raise_for_status()
        space = client.post("/api/playground_api/space/list", json={}).json()["data"]["bot_space_list"][0][
            "id"
        ]
        dataset = client.post("/api/knowledge/create", json={"name": "soak", "space_id": space}).json()
        dataset_id = dataset["data"]["dataset_id"]
        text = "\n\n".join(
            f"The depot in town {n} opens at {n % 12 + 1} and closes late." for n in range(200)
        )
        client.post(
            "/api/knowledge/document/create",
            json={
                "dataset_id": dataset_id,
                "document_bases": [{"name": "depots", "source_info": {"custom_content": text}}],
            },
        ).raise_for_status()
        time.sleep(3)  # processed by the server's own queue
    return token, bot_id, dataset_id


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--share", type=float, default=0.7, help="of the measured capacity")
    parser.add_argument("--probe", type=float, default=20, help="seconds of the capacity measurement")
    args = parser.parse_args()
    data_dir = Path(tempfile.mkdtemp(prefix="cozeplus-soak-"))
    env = server_env(
        data_dir,
        **AS_SHIPPED_LOGS,
        COZEPLUS_OFFLINE_MODEL_DELAY_MS="0",
        COZEPLUS_RATE_LIMITS="run=100000000/minute,write=100000000/minute,read=100000000/minute",
        COZEPLUS_ADDRESS_RATE_LIMITS="run=100000000/minute,write=100000000/minute,read=100000000/minute",
        COZEPLUS_MAX_RUNS_PER_USER="0",
        COZEPLUS_MAX_RUNS_PER_AGENT="0",
    )
    migrate(env)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with open(data_dir / "server.log", "wb") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "core.cli", "serve", "--port", str(port)], cwd=ROOT, env=env, stderr=log
        )
    try:
        for _ in range(600):
            try:
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.05)
        token, bot_id, dataset_id = setup(base)

        async def run():
            pool = Pool(base, {"Authorization": f"Bearer {token}"})
            traffic = Traffic(pool, bot_id, dataset_id)
            measured = await capacity(traffic, args.probe)
            rate = measured * args.share
            print(
                f"capacity: {measured:.0f} requests/s of the mix; soaking at {rate:.0f}/s "
                f"({args.share:.0%}) for {args.minutes:g} min"
            )
            client_cpu = time.process_time()
            done, samples = await soak(traffic, rate, args.minutes, server.pid)
            pool.close()
            print("failures:", dict(traffic.failures.most_common(8)) or "none")
            return measured, rate, done, samples, time.process_time() - client_cpu

        measured, rate, done, samples, client_cpu = uvloop.run(run())
    finally:
        server.terminate()
        server.wait(30)
    print("| minute | requests | errors | p50 ms | p99 ms | server RSS MB (end of minute) |")
    print("| --- | --- | --- | --- | --- | --- |")
    minutes = max(1, round(args.minutes))
    for minute in range(minutes):  # the last minute keeps the answers that came after the end
        these = [
            d
            for d in done
            if minute * 60 <= d[0] < (minute + 1) * 60 or (minute == minutes - 1 and d[0] >= minutes * 60)
        ]
        took = [d[1] * 1000 for d in these]
        rss = [m for t, m, _ in samples if t <= (minute + 1) * 60][-1]
        print(
            f"| {minute + 1} | {len(these)} | {len([d for d in these if not d[2]])} | "
            f"{statistics.median(took):.1f} | {percentile(took, 0.99):.1f} | {rss:.0f} |"
        )
    errors = len([d for d in done if not d[2]])
    first = statistics.median([m for t, m, _ in samples if t <= 60])
    last = statistics.median([m for t, m, _ in samples if t >= samples[-1][0] - 60])
    elapsed = samples[-1][0] - samples[0][0]
    server_cpu = samples[-1][2] - samples[0][2]
    print(
        f"total: {len(done)} requests, {errors} errors ({errors / len(done):.3%}); "
        f"server memory {first:.0f} MB in the first minute, {last:.0f} MB in the last "
        f"({last / first - 1:+.1%}); CPU over the soak: server {server_cpu / elapsed:.0%} of a core, "
        f"this load generator {client_cpu / elapsed:.0%}"
    )


if __name__ == "__main__":
    main()
