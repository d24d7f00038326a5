"""Authenticated reads per second, one uvicorn worker: cozeplus's POST /api/passport/account/info/v2/
against a bare Starlette endpoint doing the same JWT check and database read (bench/bare_app.py),
measured in the same run, alternating, with wrk on loopback. Prints medians and the ratio.

Usage: .venv/bin/python bench/auth_reads.py [--rounds 3] [--seconds 10] [--connections 16]
Needs wrk (apt-get install wrk). Uses its own SQLite data directory (or DATABASE_URL).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.harness import AS_SHIPPED_LOGS, migrate, run_wrk, server_env, start_uvicorn  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
LUA = 'wrk.method = "POST"\nwrk.headers["Authorization"] = "Bearer {token}"\n'


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--no-log", action="store_true", help="turn cozeplus's access log off")
    parser.add_argument(
        "--long-running", type=int, default=0, help="then this many seconds of load, and the rounds again"
    )
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed: apt-get install wrk")

    data_dir = Path(tempfile.mkdtemp(prefix="cozeplus-bench-"))
    # as `make run` serves (access log, metrics, rate limits counting), limits set past the load
    env = server_env(
        data_dir,
        **({"COZEPLUS_LOG_REQUESTS": "0"} if args.no_log else AS_SHIPPED_LOGS),
        COZEPLUS_RATE_LIMITS="read=100000000/minute",
        COZEPLUS_ADDRESS_RATE_LIMITS="read=100000000/minute",
    )
    migrate(env)
    ours, ours_url = start_uvicorn("core.asgi:create", env, cwd=ROOT)
    bare, bare_url = start_uvicorn("bench.bare_app:create", env, cwd=ROOT)
    try:
        token = httpx.post(
            ours_url + "/api/passport/web/email/login/",
            json={"email": "admin@example.com", "password": "bench-password-1"},
        ).json()["data"]["token"]
        script = data_dir / "post.lua"
        script.write_text(LUA.format(token=token))
        path = "/api/passport/account/info/v2/"
        for url in (ours_url, bare_url):  # both must answer 200 before we count anything
            assert httpx.post(url + path, headers={"Authorization": f"Bearer {token}"}).status_code == 200
            run_wrk(url + path, script, 2, args.connections)  # warm-up
        results = {"cozeplus": [], "bare": []}
        for _ in range(args.rounds):
            results["cozeplus"].append(run_wrk(ours_url + path, script, args.seconds, args.connections))
            results["bare"].append(run_wrk(bare_url + path, script, args.seconds, args.connections))
        if args.long_running:
            for url in (ours_url, bare_url):
                run_wrk(url + path, script, args.long_running // 2, args.connections)
            later = {"cozeplus": [], "bare": []}
            for _ in range(args.rounds):
                later["cozeplus"].append(run_wrk(ours_url + path, script, args.seconds, args.connections))
                later["bare"].append(run_wrk(bare_url + path, script, args.seconds, args.connections))
    finally:
        ours.terminate()
        bare.terminate()
        shutil.rmtree(data_dir, ignore_errors=True)
    ours_median = statistics.median(results["cozeplus"])
    bare_median = statistics.median(results["bare"])
    engine = "postgresql" if env.get("DATABASE_URL", "").startswith("postgres") else "sqlite"
    print(
        f"authenticated reads/s, 1 worker, {engine}, wrk -t1 -c{args.connections}, "
        f"{args.rounds} x {args.seconds}s each"
    )
    print(f"  cozeplus (Connexion AsyncApp): median {ours_median:.0f}  rounds {results['cozeplus']}")
    print(f"  bare Starlette baseline:       median {bare_median:.0f}  rounds {results['bare']}")
    print(f"  ratio cozeplus / bare: {ours_median / bare_median:.2f}")
    if args.long_running:
        ours_later, bare_later = statistics.median(later["cozeplus"]), statistics.median(later["bare"])
        print(f"after {args.long_running} s more of load (a long-running server):")
        print(f"  cozeplus median {ours_later:.0f}  rounds {later['cozeplus']}")
        print(f"  bare median {bare_later:.0f}  rounds {later['bare']}")
        print(f"  ratio cozeplus / bare: {ours_later / bare_later:.2f}")


if __name__ == "__main__":
    main()
