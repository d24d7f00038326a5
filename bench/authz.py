"""The cost of the authorization check per request, with the enforcer holding 10,000 policies.

One data directory (SQLite) gets 1,000 custom space roles of 9 permissions each and 1,000 role
assignments (10,000 Casbin rules, besides the built-in roles'); a member of none of them but one
reads their agent (POST /api/draftbot/get_draft_bot_info: one space check) and lists their
workflows. The same requests go, in the same run, to a second server whose enforcer decision is
removed (bench/authz_off.py), and to a third that holds the enforcer and reads the policy revision
per request but skips the decision, which splits the cost between holding 10,000 rules and
deciding. The servers are measured in turn, in a different order each round. Also measured
in-process: `authz.allowed` alone (bench/authz_profile.py counts the decisions per request).

    python -m bench.authz [--requests 300] [--rounds 3]

Reports medians over rounds of each round's p50 (milliseconds) and the ratio to the baseline."""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import tempfile
import time
from pathlib import Path

import httpx

from bench.harness import ROOT, in_turn, migrate, server_env, start_uvicorn

ROLES, RULES_PER_ROLE = 1000, 9
CELLS = [
    ("agent", "read"),
    ("agent", "update"),
    ("workflow", "read"),
    ("workflow", "execute"),
    ("knowledge", "read"),
    ("plugin", "read"),
    ("database", "read"),
    ("prompt", "read"),
    ("channel", "read"),
]


def seed_policies(database: Path, member_id: int) -> int:
    now = int(time.time())
    with sqlite3.connect(database) as con:
        for n in range(ROLES):
            con.execute(
                "INSERT INTO role (id, created_at, updated_at, role_code, role_name, role_domain,"
                " super_admin, space_role_type, is_builtin, is_disabled, description)"
                " VALUES (?,?,?,?,?,?,0,0,0,0,'')",
                (1000 + n, now, now, f"bench_{n}", f"Bench {n}", "space"),
            )
            con.executemany(
                "INSERT INTO casbin_rule (ptype, v0, v1, v2, v3, created_at) VALUES ('p',?,?,?,?,?)",
                [(f"role:bench_{n}", "space:*", resource, action, now) for resource, action in CELLS],
            )
            holder = member_id if n == 0 else 10**12 + n
            con.execute(
                "INSERT INTO casbin_rule (ptype, v0, v1, v2, v3, created_at) VALUES ('g',?,?,?,'',?)",
                (f"user:{holder}", f"role:bench_{n}", "space:*", now),
            )
        return con.execute("SELECT count(*) FROM casbin_rule").fetchone()[0]


def in_process(data_dir: Path, member_id: int, space_id: int, count: int = 2000) -> float:
    os.environ["COZEPLUS_DATA_DIR"] = str(data_dir)
    from core import authz
    from core.settings import get_settings
    from models.db import init_db
    from models.identity import User

    init_db(get_settings().database_url)
    user = User.get_by_id(member_id)
    authz.allowed(user, f"space:{space_id}", "agent", "read", "space_member")  # builds the enforcer
    began = time.perf_counter()
    for _ in range(count):
        authz.allowed(user, f"space:{space_id}", "agent", "read", "space_member")
    return (time.perf_counter() - began) / count * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    data_dir = Path(tempfile.mkdtemp(prefix="cozeplus-bench-authz-"))
    env = server_env(data_dir)
    migrate(env)
    servers = []
    try:
        checked, base = start_uvicorn("core.asgi:create", env, cwd=ROOT)
        servers.append(checked)
        account = {"email": "member@example.com", "password": "bench-password-1"}
        data = httpx.post(base + "/api/passport/web/email/register/v2/", json=account).json()["data"]
        member_id, token = int(data["user_id_str"]), data["token"]
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=base, headers=headers, timeout=60) as client:
            spaces = client.post("/api/playground_api/space/list").json()["data"]["bot_space_list"]
            space_id = spaces[0]["id"]
            bot_id = client.post("/api/draftbot/create", json={"space_id": space_id, "name": "Desk"}).json()
        bot_id = bot_id["data"]["bot_id"]
        rules = seed_policies(data_dir / "cozeplus.db", member_id)
        unchecked, bare = start_uvicorn("bench.authz_off:create", env, cwd=ROOT)
        servers.append(unchecked)
        holding, held = start_uvicorn("bench.authz_off:create_held", env, cwd=ROOT)
        servers.append(holding)
        calls = {
            "get agent": ("/api/playground_api/draftbot/get_draft_bot_info", {"bot_id": bot_id}),
            "list workflows": (
                "/api/workflow_api/workflow_list",
                {"space_id": space_id, "page": 1, "size": 10},
            ),
        }
        bases = {"checked": base, "held": held, "unchecked": bare}
        medians = in_turn(bases, headers, calls, args.rounds, args.requests)
        decision_us = in_process(data_dir, member_id, int(space_id))
    finally:
        for server in servers:
            server.terminate()
            server.wait(10)
        shutil.rmtree(data_dir, ignore_errors=True)
    print(f"casbin rules: {rules}; {args.rounds} rounds of {args.requests} requests each")
    for name in calls:
        on, held_only, off = (medians[k][name] for k in ("checked", "held", "unchecked"))
        print(
            f"{name:15s} with the check p50 {on:.2f} ms, policy held but no decision {held_only:.2f} ms,"
            f" without {off:.2f} ms; ratio {on / off:.3f} (held {held_only / off:.3f})"
        )
    print(f"authz.allowed alone, in process: {decision_us:.1f} µs per decision (mean of 2,000)")


if __name__ == "__main__":
    main()
