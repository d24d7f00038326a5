"""Rate limits: requests by route class (login, run, write, read) per credential and per client
address, 429 in the envelope with Retry-After and RateLimit-* headers while other clients are
served; caps on chats and workflow runs in progress; limits shared by two workers through Redis."""

from __future__ import annotations

import os
import threading
import time

import httpx
import pytest
from conftest import (
    ADMIN_PASSWORD,
    PASSWORD,
    assert_error,
    new_email,
    redis_server,
    register,
    run_cli,
    separate_env,
    start_server,
)
from starlette.testclient import TestClient

from core import ratelimit
from models.conversation import IN_PROGRESS, ChatRun
from models.workflow import WorkflowRun

SPACES = "/api/playground_api/space/list"


def limited(settings_override, **limits):
    settings_override(
        rate_limits=limits.get("credential", "off"), address_rate_limits=limits.get("address", "off")
    )


def test_a_credential_over_its_read_limit_gets_429_and_others_are_served(client, settings_override):
    alice, bob = register(client), register(client)
    limited(settings_override, credential="read=3/minute")
    answers = [alice.post(SPACES) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert [a.headers["ratelimit-remaining"] for a in answers] == ["2", "1", "0"]
    assert (
        answers[0].headers["ratelimit-limit"] == "3" and 0 < int(answers[0].headers["ratelimit-reset"]) <= 60
    )

    refused = assert_error(alice.post(SPACES), 429, 4013, "read", "retry in")
    assert refused["msg"]
    over = alice.post(SPACES)
    assert over.status_code == 429 and 1 <= int(over.headers["retry-after"]) <= 60
    assert over.headers["ratelimit-remaining"] == "0"
    assert bob.post(SPACES).status_code == 200  # another credential, same address
    # writes are another class: alice may still write
    made = alice.post("/api/playground_api/space/create", {"name": "Still writes", "space_type": 2})
    assert made.json()["code"] == 0


def test_a_personal_access_token_has_limits_of_its_own(client, settings_override):
    alice = register(client)
    body = {"name": "limits", "duration_day": "1"}
    token = alice.post("/api/permission_api/pat/create_personal_access_token_and_permission", body).json()
    pat = {"Authorization": f"Bearer {token['data']['token']}"}
    limited(settings_override, credential="read=2/minute")
    assert [client.post(SPACES, headers=pat).status_code for _ in range(2)] == [200, 200]
    assert client.post(SPACES, headers=pat).status_code == 429
    assert alice.post(SPACES).status_code == 200  # her session is another credential


def test_an_address_over_its_limit_is_refused_whoever_asks(app, settings_override):
    limited(settings_override, address="read=4/minute")
    with (
        TestClient(app, client=("127.0.0.1", 40000)) as near,
        TestClient(app, client=("127.0.0.2", 40001)) as far,
    ):
        one, two = register(near), register(near)
        statuses = [account.post(SPACES).status_code for account in (one, two, one, two, one)]
        assert statuses == [200, 200, 200, 200, 429]
        other = register(far)
        assert other.post(SPACES).status_code == 200  # another address is served


def test_login_attempts_are_limited_per_address(app, settings_override):
    email = new_email("limited")
    limited(settings_override, address="login=2/minute")
    with TestClient(app, client=("127.0.0.9", 40002)) as near:
        near.post("/api/passport/web/email/register/v2/", json={"email": email, "password": PASSWORD})
        login = {"email": email, "password": PASSWORD}
        assert near.post("/api/passport/web/email/login/", json=login).status_code == 200
        refused = near.post("/api/passport/web/email/login/", json=login)
        assert_error(refused, 429, 4013, "login")
        assert "retry-after" in refused.headers


def test_a_bad_limit_setting_stops_the_start():
    with pytest.raises(SystemExit, match="COZEPLUS_RATE_LIMITS"):
        ratelimit.parse_limits("reads=5/minute")
    with pytest.raises(SystemExit, match="COZEPLUS_RATE_LIMITS"):
        ratelimit.parse_limits("read=five")
    assert ratelimit.parse_limits("off") == {}
    assert [str(i) for i in ratelimit.parse_limits("run=2/second;100/hour")["run"]] == [
        "2 per 1 second",
        "100 per 1 hour",
    ]


def test_runs_in_progress_are_capped_per_user_and_per_agent(client, settings_override):
    from test_chat import new_agent

    alice, bob = register(client), register(client)
    bot_id = new_agent(alice)
    chat = {
        "bot_id": bot_id,
        "user_id": "u",
        "stream": False,
        "additional_messages": [{"role": "user", "content": "hi", "content_type": "text"}],
    }
    settings_override(max_runs_per_user=1, max_runs_per_agent=2)
    first = _held(alice.post("/v3/chat", chat))
    stuck = [first]
    try:
        before = ChatRun.select().where(ChatRun.creator == int(alice.user_id)).count()
        refused = assert_error(alice.post("/v3/chat", chat), 429, 4013, "in progress", "(1)")
        assert ChatRun.select().where(ChatRun.creator == int(alice.user_id)).count() == before
        workflow = alice.post(
            "/api/workflow_api/create", {"space_id": _space(alice), "name": "capped", "desc": "d"}
        ).json()["data"]["workflow_id"]
        assert_error(
            alice.post("/api/workflow_api/test_run", {"workflow_id": workflow, "input": {}}), 429, 4013
        )
        assert not WorkflowRun.select().where(WorkflowRun.workflow == int(workflow)).exists()
        assert refused["msg"]

        # per agent: every chat of the agent counts, and another agent is not held back
        settings_override(max_runs_per_user=0, max_runs_per_agent=2)
        stuck.append(_held(alice.post("/v3/chat", chat)))
        assert_error(alice.post("/v3/chat", chat), 429, 4013, f"agent {bot_id}")
        other = {**chat, "bot_id": new_agent(bob)}
        assert bob.post("/v3/chat", other).json()["code"] == 0
    finally:
        for run in stuck:
            run.touch(status="completed")
    assert alice.post("/v3/chat", chat).json()["code"] == 0


def _held(answer) -> ChatRun:
    """The chat the answer started, once it has ended, marked as still going (its worker is done
    with it, so nothing changes it back)."""
    run_id = int(answer.json()["data"]["id"])
    deadline = time.monotonic() + 20
    while ChatRun.get_by_id(run_id).status in ("created", IN_PROGRESS) and time.monotonic() < deadline:
        time.sleep(0.02)
    return ChatRun.get_by_id(run_id).touch(status=IN_PROGRESS)


def _space(account) -> str:
    return account.post(SPACES).json()["data"]["bot_space_list"][0]["id"]


# --- two workers sharing Redis -------------------------------------------------------------------


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory):
    with redis_server(tmp_path_factory.mktemp("redis")) as url:
        yield url


def test_two_workers_share_their_limits_through_redis(live_env, redis_url, tmp_path):
    env = separate_env(
        live_env,
        tmp_path,
        REDIS_URL=redis_url,
        COZEPLUS_RATE_LIMITS="read=5/minute",
        COZEPLUS_ADDRESS_RATE_LIMITS="off",
    )
    if not os.environ.get("DATABASE_URL"):
        run_cli(env, "migrate", check=True)
    servers = [start_server(env), start_server(env)]
    try:
        (one, first), (two, second) = servers
        email = new_email("shared")
        account = {"email": email, "password": PASSWORD}
        token = httpx.post(f"{first}/api/passport/web/email/register/v2/", json=account).json()["data"][
            "token"
        ]
        headers = {"Authorization": f"Bearer {token}"}
        statuses = [
            httpx.post(f"{base}{SPACES}", headers=headers).status_code
            for base in (first, second, first, second, first, second)
        ]
        assert statuses == [200, 200, 200, 200, 200, 429]
        again = httpx.post(f"{first}{SPACES}", headers=headers)
        assert again.status_code == 429 and int(again.headers["retry-after"]) >= 1
        assert again.json()["code"] == 4013
        admin = httpx.post(
            f"{second}/api/passport/web/email/login/",
            json={"email": "admin@example.com", "password": ADMIN_PASSWORD},
        ).json()["data"]["token"]
        served = httpx.post(f"{second}{SPACES}", headers={"Authorization": f"Bearer {admin}"})
        assert served.status_code == 200  # other clients are served
    finally:
        for server, _ in servers:
            server.terminate()
            server.wait(10)


def test_memory_counters_are_swept_by_one_timer_not_a_thread_after_every_count(monkeypatch):
    """limits' own memory storage starts a thread 10 ms after a count whenever none runs; ours keeps
    one timer at a time, and still empties the counters that expired."""
    monkeypatch.setattr(ratelimit.SweptMemoryStorage, "SWEEP_EVERY_S", 0.2)
    storage = ratelimit.SweptMemoryStorage()
    started = []
    original_start = threading.Timer.start
    monkeypatch.setattr(threading.Timer, "start", lambda t: started.append(t) or original_start(t))
    deadline = time.monotonic() + 0.15
    counts = 0
    while time.monotonic() < deadline:  # past the 10 ms after which limits' own would start another
        storage.incr("address:127.0.0.1", expiry=0.1)
        counts += 1
    assert counts > 100 and len(started) == 1, (counts, len(started))
    time.sleep(0.5)
    assert "address:127.0.0.1" not in storage.storage and "address:127.0.0.1" not in storage.expirations
