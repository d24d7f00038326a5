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

Not yet a measurement of the server: on two cores its httpx client is what saturates (92 % of a
CPU against the server's 14 % in the first run, 2026-12-07), so the "capacity" is the client's
and requests queue in it. It needs a lighter load generator (bare protocols, as
bench/chat_streams.py has) before its figures go in docs/benchmarks.md."""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bench.harness import PASSWORD, ROOT, free_port, migrate, server_env
from bench.startup import rss_mb

MIX = (("read", 50), ("write", 20), ("chat", 15), ("search", 15))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


class Traffic:
    def __init__(self, client: httpx.AsyncClient, bot_id: str, dataset_id: str):
        self.client, self.bot_id, self.dataset_id = client, bot_id, dataset_id
        self.conversations: list[str] = []
        self.rng = random.Random(7)

    def pick(self) -> str:
        return self.rng.choices([k for k, _ in MIX], weights=[w for _, w in MIX])[0]

    async def one(self, kind: str) -> bool:
        """Send one request of `kind`; whether it was answered 200 with code 0."""
        client = self.client
        if kind == "read":
            choice = self.rng.randrange(3)
            if choice == 0:
                answer = await client.post("/api/passport/account/info/v2/", json={})
            elif choice == 1:
                answer = await client.get("/v1/workspaces")
            else:
                answer = await client.get(f"/v1/bot/get_online_info?bot_id={self.bot_id}")
            return answer.status_code == 200 and answer.json().get("code") == 0
        if kind == "write":
            if not self.conversations or self.rng.random() < 0.3:
                answer = await client.post("/v1/conversation/create", json={"bot_id": self.bot_id})
                ok = answer.status_code == 200 and answer.json().get("code") == 0
                if ok:
                    self.conversations.append(answer.json()["data"]["id"])
                return ok
            conversation = self.rng.choice(self.conversations[-50:])
            answer = await client.post(
                f"/v1/conversation/message/create?conversation_id={conversation}",
                json={"role": "user", "content": "a note", "content_type": "text"},
            )
            return answer.status_code == 200 and answer.json().get("code") == 0
        if kind == "chat":
            body = {
                "bot_id": self.bot_id,
                "user_id": "soak",
                "stream": True,
                "additional_messages": [{"role": "user", "content": "Hello there", "content_type": "text"}],
            }
            async with client.stream("POST", "/v3/chat", json=body) as answer:
                text = "".join([piece async for piece in answer.aiter_text()])
            return answer.status_code == 200 and "conversation.chat.completed" in text
        answer = await client.post(
            "/api/knowledge/retrieve",
            json={"dataset_ids": [self.dataset_id], "query": "depot opening hours", "search_strategy": 1},
        )
        return answer.status_code == 200 and answer.json().get("code") == 0


async def timed(traffic: Traffic, kind: str, into: list) -> None:
    began = time.perf_counter()
    try:
        ok = await traffic.one(kind)
    except httpx.HTTPError:
        ok = False
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
    done: list = []
    memory: list[tuple[float, float]] = []
    pending: set = set()
    began = time.monotonic()
    end = began + minutes * 60
    next_start, next_sample = began, began
    while time.monotonic() < end:
        now = time.monotonic()
        if now >= next_sample:
            memory.append((now - began, rss_mb(pid)))
            next_sample += 10
        while next_start <= now:
            task = asyncio.create_task(timed(traffic, traffic.pick(), done))
            pending.add(task)
            task.add_done_callback(pending.discard)
            next_start += 1 / rate
        await asyncio.sleep(max(0.0, min(next_start, next_sample) - time.monotonic()))
    await asyncio.gather(*pending)
    memory.append((time.monotonic() - began, rss_mb(pid)))
    return [(t - began, took, ok) for t, took, ok in done], memory


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
        COZEPLUS_LOG_REQUESTS="1",
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
            limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
            headers = {"Authorization": f"Bearer {token}"}
            async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30, limits=limits) as client:
                traffic = Traffic(client, bot_id, dataset_id)
                measured = await capacity(traffic, args.probe)
                rate = measured * args.share
                print(
                    f"capacity: {measured:.0f} requests/s of the mix; soaking at {rate:.0f}/s "
                    f"({args.share:.0%}) for {args.minutes:g} min"
                )
                return measured, rate, *(await soak(traffic, rate, args.minutes, server.pid))

        measured, rate, done, memory = asyncio.run(run())
    finally:
        server.terminate()
        server.wait(30)
    print("| minute | requests | errors | p50 ms | p99 ms | RSS MB (end of minute) |")
    print("| --- | --- | --- | --- | --- | --- |")
    minutes = int(max(t for t, _, _ in done) // 60) + 1
    for minute in range(minutes):
        these = [d for d in done if minute * 60 <= d[0] < (minute + 1) * 60]
        took = [d[1] * 1000 for d in these]
        rss = [m for t, m in memory if t <= (minute + 1) * 60][-1]
        print(
            f"| {minute + 1} | {len(these)} | {len([d for d in these if not d[2]])} | "
            f"{statistics.median(took):.1f} | {percentile(took, 0.99):.1f} | {rss:.0f} |"
        )
    errors = len([d for d in done if not d[2]])
    first = statistics.median([m for t, m in memory if t <= 60])
    last = statistics.median([m for t, m in memory if t >= memory[-1][0] - 60])
    print(
        f"total: {len(done)} requests, {errors} errors ({errors / len(done):.3%}); "
        f"memory {first:.0f} MB in the first minute, {last:.0f} MB in the last ({last / first - 1:+.1%})"
    )


if __name__ == "__main__":
    main()
