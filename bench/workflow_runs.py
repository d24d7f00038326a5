"""Empty workflow runs per second through the Open API, one uvicorn worker: POST /v1/workflow/run
of a published Start-to-End workflow against the same server answering a trivial authenticated
request (POST /api/passport/account/info/v2/), measured in the same run, alternating rounds, with
wrk on loopback (one thread, `--connections` open).

    python -m bench.workflow_runs [--rounds 5] [--seconds 10] [--connections 16]
    DATABASE_URL=postgresql://user:pw@127.0.0.1/db python -m bench.workflow_runs

Each run is recorded (its row inserted, then finished: two writes) and executed in the request.
Medians over rounds; uses its own data directory. Needs wrk (apt-get install wrk)."""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
from pathlib import Path

import httpx

from bench.harness import PASSWORD, ROOT, migrate, run_wrk, server_env, start_uvicorn

SCRIPT = 'wrk.method = "POST"\nwrk.headers["Authorization"] = "Bearer {token}"\n'
BODY = 'wrk.headers["Content-Type"] = "application/json"\nwrk.body = {body!r}\n'


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed: apt-get install wrk")
    data_dir = Path(tempfile.mkdtemp(prefix="cozeplus-bench-"))
    env = server_env(data_dir)
    migrate(env)
    server, base = start_uvicorn("core.asgi:create", env, cwd=ROOT)
    try:
        login = {"email": "admin@example.com", "password": PASSWORD}
        token = httpx.post(base + "/api/passport/web/email/login/", json=login).json()["data"]["token"]
        headers = {"Authorization": f"Bearer {token}"}
        space = httpx.get(base + "/v1/workspaces", headers=headers).json()["data"]["workspaces"][0]["id"]
        created = {"space_id": space, "name": "empty", "desc": "Start to End"}
        response = httpx.post(base + "/api/workflow_api/create", json=created, headers=headers)
        workflow_id = response.json()["data"]["workflow_id"]
        published = httpx.post(
            base + "/api/workflow_api/publish",
            json={"workflow_id": workflow_id, "force": True},
            headers=headers,
        )
        assert published.json()["code"] == 0, published.text
        run_body = json.dumps({"workflow_id": workflow_id, "parameters": {}})
        answer = httpx.post(base + "/v1/workflow/run", json=json.loads(run_body), headers=headers).json()
        assert json.loads(answer["data"]) == {}, answer
        scripts = {"run": data_dir / "run.lua", "trivial": data_dir / "trivial.lua"}
        scripts["run"].write_text(SCRIPT.format(token=token) + BODY.format(body=run_body))
        scripts["trivial"].write_text(SCRIPT.format(token=token))
        urls = {"run": base + "/v1/workflow/run", "trivial": base + "/api/passport/account/info/v2/"}
        for name in urls:  # warm-up
            run_wrk(urls[name], scripts[name], 2, args.connections)
        rates: dict[str, list[float]] = {"run": [], "trivial": []}
        for _ in range(args.rounds):
            for name in urls:
                rates[name].append(run_wrk(urls[name], scripts[name], args.seconds, args.connections))
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(data_dir, ignore_errors=True)
    engine = "postgresql" if env.get("DATABASE_URL", "").startswith("postgres") else "sqlite"
    run_median, trivial_median = statistics.median(rates["run"]), statistics.median(rates["trivial"])
    shown = {name: [round(r) for r in values] for name, values in rates.items()}
    print(
        f"empty workflow runs/s, 1 worker, {engine}, wrk -t1 -c{args.connections}, "
        f"{args.rounds} rounds x {args.seconds}s"
    )
    print(f"  POST /v1/workflow/run (Start to End): median {run_median:.0f}  rounds {shown['run']}")
    print(f"  trivial authenticated request:       median {trivial_median:.0f}  rounds {shown['trivial']}")
    print(f"  ratio runs / trivial: {run_median / trivial_median:.2f}")


if __name__ == "__main__":
    main()
