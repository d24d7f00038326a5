"""Shared by the benchmarks: a free loopback port and a uvicorn server started and awaited."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_uvicorn(
    factory: str, env: dict, probe_path: str = "/", cwd=None, app_dir=None
) -> tuple[subprocess.Popen, str]:
    """One uvicorn worker serving `factory` on a free port; returns once `probe_path` answers."""
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
        "1",
        "--log-level",
        "warning",
        "--no-access-log",
    ]
    if app_dir:
        command += ["--app-dir", str(app_dir)]
    proc = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            httpx.get(base + probe_path, timeout=1)
            return proc, base
        except httpx.TransportError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit(f"{factory} did not start: {proc.stderr.read1().decode()}")
