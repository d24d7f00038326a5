"""FlaskApp or AsyncApp? Serves one small spec (bench/app_class/) with each of Connexion's app
classes, one uvicorn worker each, and measures what DESIGN.md §6 asks of the server:
  1. plain reads/s (wrk, SQLite row read);
  2. N concurrent SSE streams (20 events, 100 ms apart): time to first event, and the latency of
     plain requests made while the streams run;
  3. client disconnects: do the stream generators stop producing once their clients left?
Usage: .venv/bin/python bench/app_class.py [--streams 50,200,1000] [--budget 30]
Every load is bounded in count and time; all traffic stays on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.harness import start_uvicorn  # noqa: E402

HERE = Path(__file__).resolve().parent / "app_class"


@contextlib.contextmanager
def serving(kind: str, db: Path):
    env = {**os.environ, "PROBE_DB": str(db), "PROBE_KIND": kind}
    proc, base = start_uvicorn(f"apps:{kind}_app", env, probe_path="/read", app_dir=HERE)
    try:
        yield base
    finally:
        proc.kill()  # FlaskApp would wait for its abandoned streams to run out
        proc.wait()


def reads_per_second(base: str) -> float:
    if not shutil.which("wrk"):
        return float("nan")
    rates = []
    for _ in range(3):
        out = subprocess.run(
            ["wrk", "-t1", "-c16", "-d5s", base + "/read"], capture_output=True, text=True, timeout=60
        ).stdout
        rates.append(float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)))
    return statistics.median(rates)


async def streams_under_load(base: str, n: int, budget: float) -> dict:
    limits = httpx.Limits(max_connections=n + 10, max_keepalive_connections=0)
    async with httpx.AsyncClient(limits=limits, timeout=budget) as client:
        started = time.perf_counter()
        first_event: list[float] = []

        async def one_stream():
            async with client.stream("GET", base + "/stream", params={"events": 20, "gap_ms": 100}) as r:
                seen = False
                async for line in r.aiter_lines():
                    if line.startswith("data:") and not seen:
                        seen = True
                        first_event.append(time.perf_counter() - started)

        async def plain_reads():
            await asyncio.sleep(0.5)
            latencies = []
            for _ in range(10):
                t = time.perf_counter()
                await client.get(base + "/read")
                latencies.append(time.perf_counter() - t)
                await asyncio.sleep(0.05)
            return latencies

        tasks = [asyncio.create_task(one_stream()) for _ in range(n)]
        reads = asyncio.create_task(plain_reads())
        done, pending = await asyncio.wait([*tasks, reads], timeout=budget)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        latencies = reads.result() if reads in done and not reads.exception() else []
    return {
        "streams": n,
        "first_events": len(first_event),
        "ttfb_p50": statistics.median(first_event) if first_event else None,
        "ttfb_max": max(first_event) if first_event else None,
        "plain_read_p50": statistics.median(latencies) if latencies else None,
        "plain_reads_done": len(latencies),
    }


async def disconnects(base: str) -> dict:
    """10 clients read one event of a 20-s stream and leave; is the server still producing?"""
    async with httpx.AsyncClient(timeout=10) as client:

        async def produced():
            try:
                return (await client.get(base + "/produced")).json()["events"]
            except httpx.TimeoutException:
                return None  # the server could not even answer: its threads are still streaming

        before = await produced()

        async def open_and_leave():
            async with client.stream("GET", base + "/stream", params={"events": 200, "gap_ms": 100}) as r:
                async for line in r.aiter_lines():
                    if line.startswith("data:"):
                        return  # leaving the block closes the connection

        await asyncio.gather(*(open_and_leave() for _ in range(10)))
        await asyncio.sleep(1.5)
        at_1_5s = await produced()
        await asyncio.sleep(2.0)
        started = time.perf_counter()
        at_3_5s = await produced()
        answer_time = time.perf_counter() - started
    stopped = None if None in (before, at_1_5s, at_3_5s) else at_3_5s == at_1_5s
    return {
        "events_after_leaving": None if None in (before, at_3_5s) else at_3_5s - before,
        "stopped": stopped,
        "answer_time": answer_time,
    }


def fmt(x, unit="s"):
    return "-" if x is None else f"{x:.3f} {unit}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--streams", default="50,200,1000")
    parser.add_argument("--budget", type=float, default=20.0, help="seconds allowed per stream test")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="cozeplus-appclass-"))
    db = tmp / "probe.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT)")
        conn.execute("INSERT INTO item VALUES (1, 'one')")
    for kind in ("flask", "async"):
        print(f"== {kind}: {'FlaskApp' if kind == 'flask' else 'AsyncApp'}", flush=True)
        # A fresh server for each measurement: abandoned streams must not weigh on the next one.
        with serving(kind, db) as base:
            print(f"  plain reads/s (wrk -c16, median of 3 x 5 s): {reads_per_second(base):.0f}", flush=True)
        for n in (int(x) for x in args.streams.split(",")):
            with serving(kind, db) as base:
                r = asyncio.run(streams_under_load(base, n, args.budget))
            print(
                f"  {n} streams: first event on {r['first_events']}/{n} within {args.budget:.0f} s, "
                f"TTFB p50 {fmt(r['ttfb_p50'])}, max {fmt(r['ttfb_max'])}; plain read during them "
                f"p50 {fmt(r['plain_read_p50'])} ({r['plain_reads_done']}/10 done)",
                flush=True,
            )
        with serving(kind, db) as base:
            d = asyncio.run(disconnects(base))
        print(
            f"  10 clients left after 1 event of 200: generators stopped within 1.5 s: "
            f"{d['stopped']} ({d['events_after_leaving']} events produced in 3.5 s; "
            f"a plain request then took {fmt(d['answer_time'])})",
            flush=True,
        )
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
