"""Start-up time and idle memory of `cozeplus serve` (issue 20: serving in under 2 s, idling under
150 MB of RSS), beside bench/bare_app.py under uvicorn in the same run as the floor.

Each round starts a server on a migrated data directory and times spawn -> first /healthz 200;
then it waits idle and reads the process's RSS (and its children's: `serve` runs one process per
worker), once more after a few hundred authenticated reads, and after a knowledge search has
loaded the search parts. Run: python -m bench.startup [--rounds 5]"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bench.harness import PASSWORD, ROOT, free_port, migrate, process_tree, server_env

IDLE_SECONDS = 5.0


def rss_mb(pid: int) -> float:
    """Resident memory of a process and its descendants, in MB."""
    total = 0
    for current in process_tree(pid):
        try:
            status = Path(f"/proc/{current}/status").read_text()
        except FileNotFoundError:
            continue
        total += next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:"))
    return total / 1024


def start(command: list[str], env: dict, base: str) -> tuple[subprocess.Popen, float]:
    began = time.perf_counter()
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    while True:
        try:
            if httpx.get(base + "/healthz", timeout=1).status_code in (200, 404):
                return process, time.perf_counter() - began
        except httpx.TransportError:
            pass
        if process.poll() is not None or time.perf_counter() - began > 60:
            raise SystemExit(f"{command} did not start: {process.stderr.read().decode()[-2000:]}")
        time.sleep(0.01)


def one_round(data_dir: Path) -> dict[str, float]:
    env = server_env(data_dir)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "core.cli", "serve", "--port", str(port)]
    process, took = start(command, env, base)
    try:
        time.sleep(IDLE_SECONDS)
        idle = rss_mb(process.pid)
        login = {"email": "admin@example.com", "password": PASSWORD}
        token = httpx.post(f"{base}/api/passport/web/email/login/", json=login).json()["data"]["token"]
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}) as client:
            for _ in range(300):
                client.post("/api/passport/account/info/v2/", json={})
            served = rss_mb(process.pid)
            space = client.post("/api/playground_api/space/list", json={}).json()["data"]["bot_space_list"][0]
            made = client.post(
                "/api/knowledge/create", json={"name": f"kb {time.time_ns()}", "space_id": space["id"]}
            ).json()
            assert made["code"] == 0, made
            client.post(
                "/api/knowledge/retrieve",
                json={"dataset_ids": [made["data"]["dataset_id"]], "query": "hello"},
            )
            searched = rss_mb(process.pid)
    finally:
        process.terminate()
        process.wait(10)
    return {"start_s": took, "idle_mb": idle, "after_reads_mb": served, "after_search_mb": searched}


def bare_round(data_dir: Path) -> dict[str, float]:
    env = server_env(data_dir)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "uvicorn", "--factory", "bench.bare_app:create", "--port", str(port)]
    command += ["--log-level", "warning", "--no-access-log"]
    process, took = start(command, env, base)
    try:
        time.sleep(IDLE_SECONDS)
        return {"start_s": took, "idle_mb": rss_mb(process.pid)}
    finally:
        process.terminate()
        process.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    rounds = parser.parse_args().rounds
    with tempfile.TemporaryDirectory() as scratch:
        data_dir = Path(scratch) / "data"
        migrate(server_env(data_dir))
        ours, bare = [], []
        for _ in range(rounds):  # in turn, so a busy moment of the machine falls on both
            ours.append(one_round(data_dir))
            bare.append(bare_round(data_dir))
    median = {key: statistics.median(r[key] for r in ours) for key in ours[0]}
    floor = {key: statistics.median(r[key] for r in bare) for key in bare[0]}
    print(f"rounds: {rounds}; medians")
    print("| | cozeplus serve | bare Starlette app | ratio |")
    print("|---|---|---|---|")
    print(
        f"| start to first answer | {median['start_s']:.2f} s | {floor['start_s']:.2f} s | "
        f"{median['start_s'] / floor['start_s']:.2f} |"
    )
    print(
        f"| RSS idle | {median['idle_mb']:.0f} MB | {floor['idle_mb']:.0f} MB | "
        f"{median['idle_mb'] / floor['idle_mb']:.2f} |"
    )
    print(f"| RSS after 300 reads | {median['after_reads_mb']:.0f} MB | | |")
    print(f"| RSS after a knowledge search | {median['after_search_mb']:.0f} MB | | |")
    print("max start:", f"{max(r['start_s'] for r in ours):.2f} s")


if __name__ == "__main__":
    main()
