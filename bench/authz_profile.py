"""Where the authorization check's cost per request goes, with the enforcer holding 10,000 rules.

bench/authz.py compares whole requests with and without the decision; this script explains the
difference. In one process, over the same 10,000-rule policy, it sends the same requests through
the ASGI app while timing, per request: how many decisions are made, the time spent in them, and
within that the once-per-request policy-revision read (the read that lets every worker see a
change at once). bench/authz_off.py removes all of it, revision read included.

    python -m bench.authz_profile [--requests 300]

Reports medians per request (microseconds)."""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from bench.authz import seed_policies
from bench.harness import migrate, server_env


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    data_dir = Path(tempfile.mkdtemp(prefix="cozeplus-bench-authz-profile-"))
    env = server_env(data_dir)
    migrate(env)
    os.environ.update(env)
    try:
        from starlette.testclient import TestClient

        from core import authz
        from core.asgi import create

        spent = {"decisions": 0, "decide_s": 0.0, "revision_s": 0.0}
        decide, revision = authz.allowed, authz._revision

        def timed_allowed(*a, **k):
            began = time.perf_counter()
            try:
                return decide(*a, **k)
            finally:
                spent["decisions"] += 1
                spent["decide_s"] += time.perf_counter() - began

        def timed_revision():
            began = time.perf_counter()
            try:
                return revision()
            finally:
                spent["revision_s"] += time.perf_counter() - began

        authz.allowed, authz._revision = timed_allowed, timed_revision
        with TestClient(create()) as client:
            account = {"email": "member@example.com", "password": "bench-password-1"}
            data = client.post("/api/passport/web/email/register/v2/", json=account).json()["data"]
            member_id, headers = int(data["user_id_str"]), {"Authorization": f"Bearer {data['token']}"}
            client.cookies.clear()
            space_id = client.post("/api/playground_api/space/list", headers=headers).json()["data"][
                "bot_space_list"
            ][0]["id"]
            bot = client.post(
                "/api/draftbot/create", json={"space_id": space_id, "name": "Desk"}, headers=headers
            )
            bot_id = bot.json()["data"]["bot_id"]
            rules = seed_policies(data_dir / "cozeplus.db", member_id)
            authz.policy_changed()
            calls = {
                "get agent": ("/api/playground_api/draftbot/get_draft_bot_info", {"bot_id": bot_id}),
                "list workflows": (
                    "/api/workflow_api/workflow_list",
                    {"space_id": space_id, "page": 1, "size": 10},
                ),
            }
            print(f"casbin rules: {rules}; {args.requests} requests each; medians per request")
            for name, (path, body) in calls.items():
                samples = []
                for index in range(args.requests + 20):
                    for key in spent:
                        spent[key] = 0
                    began = time.perf_counter()
                    answer = client.post(path, json=body, headers=headers)
                    whole = time.perf_counter() - began
                    if answer.json()["code"] != 0:
                        raise SystemExit(f"{path}: {answer.text}")
                    if index >= 20:  # warm: enforcer built, routes compiled
                        samples.append((whole, spent["decisions"], spent["decide_s"], spent["revision_s"]))
                whole, count, decide_s, revision_s = (
                    statistics.median(s[i] for s in samples) for i in range(4)
                )
                share = decide_s / whole * 100
                print(
                    f"{name:15s} request {whole * 1e3:.2f} ms; {count:.0f} decisions taking"
                    f" {decide_s * 1e6:.0f} µs ({share:.0f}% of the request), of which the revision"
                    f" read {revision_s * 1e6:.0f} µs"
                )
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
