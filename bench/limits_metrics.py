"""What rate limiting and metrics add to a request, against the same request with both off.

Three servers on one SQLite database, one uvicorn worker each: both on (limits set high enough
that nothing is refused, so every request is counted and passes), rate limiting off with metrics
on, and both off (COZEPLUS_RATE_LIMITS=off, COZEPLUS_ADDRESS_RATE_LIMITS=off, COZEPLUS_METRICS=off).
One client sends the same requests to each in turn, a rotated order each round: a read of the
caller's agent and the space list.

    python -m bench.limits_metrics [--requests 300] [--rounds 5]

Reports medians over rounds of each round's p50 (milliseconds) and the ratios to both off."""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

import httpx

from bench.harness import ROOT, in_turn, migrate, server_env, start_uvicorn

HIGH = "login=100000/minute,run=100000/minute,write=100000/minute,read=100000/minute"
VARIANTS = {
    "both on": {"COZEPLUS_RATE_LIMITS": HIGH, "COZEPLUS_ADDRESS_RATE_LIMITS": HIGH, "COZEPLUS_METRICS": "on"},
    "metrics only": {
        "COZEPLUS_RATE_LIMITS": "off",
        "COZEPLUS_ADDRESS_RATE_LIMITS": "off",
        "COZEPLUS_METRICS": "on",
    },
    "both off": {
        "COZEPLUS_RATE_LIMITS": "off",
        "COZEPLUS_ADDRESS_RATE_LIMITS": "off",
        "COZEPLUS_METRICS": "off",
    },
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    data_dir = Path(tempfile.mkdtemp(prefix="cozeplus-bench-limits-"))
    env = server_env(data_dir)
    migrate(env)
    servers, bases = [], {}
    try:
        for name, extra in VARIANTS.items():
            process, base = start_uvicorn("core.asgi:create", {**env, **extra}, cwd=ROOT)
            servers.append(process)
            bases[name] = base
        first = bases["both off"]
        account = {"email": "limits@example.com", "password": "bench-password-1"}
        data = httpx.post(first + "/api/passport/web/email/register/v2/", json=account).json()["data"]
        headers = {"Authorization": f"Bearer {data['token']}"}
        with httpx.Client(base_url=first, headers=headers, timeout=60) as client:
            space_id = client.post("/api/playground_api/space/list").json()["data"]["bot_space_list"][0]["id"]
            bot = client.post("/api/draftbot/create", json={"space_id": space_id, "name": "Desk"}).json()
        calls = {
            "get agent": (
                "/api/playground_api/draftbot/get_draft_bot_info",
                {"bot_id": bot["data"]["bot_id"]},
            ),
            "list spaces": ("/api/playground_api/space/list", {}),
        }
        medians = in_turn(bases, headers, calls, args.rounds, args.requests)
    finally:
        for server in servers:
            server.terminate()
            server.wait(10)
        shutil.rmtree(data_dir, ignore_errors=True)
    print(f"{args.rounds} rounds of {args.requests} requests each; medians of each round's p50")
    for call in calls:
        p50 = {name: medians[name][call] for name in medians}
        off = p50["both off"]
        print(
            f"{call:12s} both on {p50['both on']:.2f} ms ({p50['both on'] / off:.3f}), metrics only"
            f" {p50['metrics only']:.2f} ms ({p50['metrics only'] / off:.3f}), both off {off:.2f} ms"
        )


if __name__ == "__main__":
    main()
