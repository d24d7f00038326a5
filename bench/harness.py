"""Shared by the benchmarks: a free loopback port and a uvicorn server started and awaited."""

from __future__ import annotations

import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "bench-password-1"
# make run's logs: level INFO and a JSON access line per request (the access lines are INFO, so
# COZEPLUS_LOG_REQUESTS alone, under server_env's WARNING, writes none)
AS_SHIPPED_LOGS = {"COZEPLUS_LOG_LEVEL": "INFO", "COZEPLUS_LOG_REQUESTS": "1"}


def server_env(data_dir: Path, **extra: str) -> dict:
    """The environment of a benchmark's cozeplus: its own data directory, the admin's password,
    quiet logs (warnings only, no access log); `extra` adds to it (**AS_SHIPPED_LOGS for the logs
    `make run` writes)."""
    return {
        **os.environ,
        "COZEPLUS_DATA_DIR": str(data_dir),
        "COZEPLUS_ADMIN_PASSWORD": PASSWORD,
        "COZEPLUS_LOG_LEVEL": "WARNING",
        "COZEPLUS_LOG_REQUESTS": "0",
        "PYTHONPATH": str(ROOT),
        **extra,
    }


def migrate(env: dict) -> None:
    subprocess.run(
        [sys.executable, "-m", "core.cli", "migrate"], cwd=ROOT, env=env, check=True, capture_output=True
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_uvicorn(
    factory: str, env: dict, probe_path: str = "/", cwd=None, app_dir=None, workers: int = 1
) -> tuple[subprocess.Popen, str]:
    """uvicorn serving `factory` on a free port (one worker, or `workers`); returns once
    `probe_path` answers and, for several, every worker process has had time to build its app."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        factory,
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--log-level",
        "warning",
        "--no-access-log",
    ]
    if app_dir:
        command += ["--app-dir", str(app_dir)]
    # its log goes to a file, as a deployment's goes to the journal: a pipe nobody reads would
    # fill and stall a server whose access log is on
    log = tempfile.NamedTemporaryFile(prefix="bench-server-", suffix=".log", delete=False)
    proc = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=log)
    base = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            httpx.get(base + probe_path, timeout=1)
        except httpx.TransportError:
            time.sleep(0.05)
            continue
        if workers > 1:
            while len(process_tree(proc.pid)) < workers + 1:
                time.sleep(0.1)
            time.sleep(3)  # each builds its app (a second and a half); the ready ones answer meanwhile
        return proc, base
    proc.kill()
    raise SystemExit(f"{factory} did not start: {Path(log.name).read_text()[-3000:]}")


def process_tree(pid: int) -> list[int]:
    """A process and its descendants (uvicorn's workers, a server's children)."""
    found, pending = [], [pid]
    while pending:
        current = pending.pop()
        try:
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except FileNotFoundError:
            continue
        found.append(current)
        pending += [int(child) for child in children]
    return found


def run_wrk(url: str, script: Path, seconds: int, connections: int) -> float:
    """Requests per second wrk measured (one thread); any non-2xx answer stops the benchmark."""
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "-s", str(script), url],
        capture_output=True,
        text=True,
        timeout=seconds + 60,
    ).stdout
    if "Non-2xx" in out:
        raise SystemExit("wrk saw errors:\n" + out)
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))


def p50s(client: httpx.Client, requests: int, calls) -> dict[str, float]:
    found = {}
    for name, (path, body) in calls.items():
        took = []
        for _ in range(requests):
            began = time.perf_counter()
            answer = client.post(path, json=body)
            took.append((time.perf_counter() - began) * 1000)
            if answer.json()["code"] != 0:
                raise SystemExit(f"{path}: {answer.text}")
        found[name] = statistics.median(took)
    return found


def in_turn(bases: dict[str, str], headers: dict, calls: dict, rounds: int, requests: int) -> dict[str, dict]:
    """Each server's median over `rounds` of its p50 per call, the servers measured one after
    another in a rotated order each round (whichever goes first is not always the same)."""
    clients = {name: httpx.Client(base_url=url, headers=headers, timeout=60) for name, url in bases.items()}
    measured: dict[str, list[dict[str, float]]] = {name: [] for name in bases}
    try:
        for client in clients.values():
            p50s(client, 20, calls)  # warm: caches filled, routes compiled
        order = list(bases)
        for number in range(rounds):
            shift = number % len(order)
            for name in order[shift:] + order[:shift]:
                measured[name].append(p50s(clients[name], requests, calls))
    finally:
        for client in clients.values():
            client.close()
    return {
        name: {call: statistics.median(r[call] for r in runs) for call in calls}
        for name, runs in measured.items()
    }
