"""CPU per streamed token for HTTP clients reading the fake model: services/model_http.py (ours,
through services/llm_openai.py as the chat runtime calls it), httpx, and aiohttp when it is
installed (it is not a dependency: `pip install aiohttp` to compare). STREAMS streams at once,
TOKENS tokens each, one every 50 ms; the model runs in its own process on another CPU.
Run: .venv/bin/python -m bench.model_client [--streams 1000] [--tokens 200] [--rounds 3]"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx
import uvloop

from bench.harness import free_port
from models.llm import PROTOCOL_OPENAI, LlmModel
from services import llm, llm_openai

ROOT = Path(__file__).resolve().parent.parent
PAYLOAD = {"model": "fake", "stream": True, "messages": [{"role": "user", "content": "hi"}]}


def _count_data_lines(pending: bytes, block: bytes) -> tuple[int, bytes]:
    lines = (pending + block).split(b"\n")
    rest = lines.pop()
    return sum(
        1
        for line in lines
        if line.startswith(b"data:")
        and not line.endswith(b"[DONE]")
        and any((c.get("delta") or {}).get("content") for c in json.loads(line[5:])["choices"])
    ), rest


async def ours(url: str, streams: int) -> int:
    model = LlmModel(name="fake", model_name="fake", protocol=PROTOCOL_OPENAI, base_url=url)
    counted = [0]

    def on_delta(content: str, reasoning: str) -> None:
        counted[0] += 1

    async def one():
        async for _ in llm_openai.stream(model, llm.ChatRequest(messages=PAYLOAD["messages"]), on_delta):
            pass

    await asyncio.gather(*(one() for _ in range(streams)))
    llm_openai.close_connections()
    return counted[0]


async def with_httpx(url: str, streams: int) -> int:
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=None)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:

        async def one():
            count, pending = 0, b""
            async with client.stream("POST", f"{url}/chat/completions", json=PAYLOAD) as response:
                async for block in response.aiter_raw():
                    found, pending = _count_data_lines(pending, block)
                    count += found
            return count

        return sum(await asyncio.gather(*(one() for _ in range(streams))))


async def with_aiohttp(url: str, streams: int) -> int:
    import aiohttp

    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(
        connector=connector, timeout=aiohttp.ClientTimeout(sock_read=60)
    ) as session:

        async def one():
            count, pending = 0, b""
            async with session.post(f"{url}/chat/completions", json=PAYLOAD) as response:
                async for block in response.content.iter_any():
                    found, pending = _count_data_lines(pending, block)
                    count += found
            return count

        return sum(await asyncio.gather(*(one() for _ in range(streams))))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--streams", type=int, default=1000)
    parser.add_argument("--tokens", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    from core.settings import Settings, use_settings

    use_settings(Settings.from_env({}, outbound_allow=("127.0.0.1",)))  # the SSRF guard admits the fake model
    clients = {"model_http (ours)": ours, "httpx": with_httpx}
    if importlib.util.find_spec("aiohttp"):
        clients["aiohttp"] = with_aiohttp
    else:
        print("aiohttp is not installed: not compared")
    cpus = sorted(os.sched_getaffinity(0))
    port = free_port()
    model = subprocess.Popen(
        [sys.executable, "-m", "bench.fake_model", str(port), "50", str(args.tokens)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    if len(cpus) > 1:
        os.sched_setaffinity(model.pid, set(cpus[1:]))
        os.sched_setaffinity(0, {cpus[0]})
    url = f"http://127.0.0.1:{port}/v1"
    time.sleep(1)
    try:
        results: dict[str, list[float]] = {name: [] for name in clients}
        for _ in range(args.rounds):
            for name, client in clients.items():
                started = time.process_time()
                tokens = uvloop.run(client(url, args.streams))
                if tokens != args.streams * args.tokens:
                    raise SystemExit(f"{name}: {tokens} tokens of {args.streams * args.tokens}")
                results[name].append((time.process_time() - started) / tokens * 1e6)
        baseline = statistics.median(results["model_http (ours)"])
        print(
            f"{args.streams} streams of {args.tokens} tokens, one every 50 ms; CPU µs per token, "
            f"median of {args.rounds} rounds"
        )
        for name, values in results.items():
            median = statistics.median(values)
            print(f"   {name:20} {median:7.1f}   x{median / baseline:.2f}")
    finally:
        model.terminate()


if __name__ == "__main__":
    main()
