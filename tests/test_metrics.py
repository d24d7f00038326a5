"""/metrics: requests by operation and status with latency, open streams, model tokens and
latency, the task queue's depth and job outcomes, webhook deliveries; the optional token."""

from __future__ import annotations

import time

from conftest import assert_error, register
from prometheus_client.parser import text_string_to_metric_families


def samples(client, headers=None) -> dict[tuple, float]:
    answer = client.get("/metrics", headers=headers or {})
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain")
    found = {}
    for family in text_string_to_metric_families(answer.text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def value(found, name, **labels) -> float:
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


def test_requests_are_counted_by_operation_and_status(client):
    alice = register(client)
    before = samples(client)
    for _ in range(3):
        alice.post("/api/playground_api/space/list")
    alice.post("/api/playground_api/space/info", {"space_id": "7412345678901234567"})  # 404
    client.get("/no/such/route")
    after = samples(client)
    counted = "cozeplus_http_requests_total"
    assert (
        value(after, counted, operation="list_spaces", status="200")
        - value(before, counted, operation="list_spaces", status="200")
        == 3
    )
    assert (
        value(after, counted, operation="get_space", status="404")
        - value(before, counted, operation="get_space", status="404")
        == 1
    )
    assert value(after, counted, operation="unrouted", status="404") > value(
        before, counted, operation="unrouted", status="404"
    )
    latency = "cozeplus_http_request_duration_seconds_count"
    assert (
        value(after, latency, operation="list_spaces") - value(before, latency, operation="list_spaces") == 3
    )
    assert ("cozeplus_task_queue_depth", ()) in after


def test_model_calls_and_streams_are_measured(client):
    from test_chat import new_agent

    alice = register(client)
    bot_id = new_agent(alice)
    before = samples(client)
    body = {
        "bot_id": bot_id,
        "user_id": "u",
        "stream": True,
        "additional_messages": [{"role": "user", "content": "count my tokens", "content_type": "text"}],
    }
    with client.stream("POST", "/v3/chat", json=body, headers=alice.headers) as streamed:
        during = samples(client)
        text = "".join(streamed.iter_text())
    assert "conversation.message.completed" in text
    assert value(during, "cozeplus_open_streams") >= 1
    deadline = time.monotonic() + 10
    after = samples(client)
    while value(after, "cozeplus_open_streams") > value(before, "cozeplus_open_streams"):
        assert time.monotonic() < deadline, "the stream is still counted as open"
        time.sleep(0.05)
        after = samples(client)
    calls = "cozeplus_model_call_duration_seconds_count"
    grown = [
        dict(labels)["model"]
        for (name, labels), count in after.items()
        if name == calls and dict(labels)["outcome"] == "ok" and count > before.get((name, labels), 0.0)
    ]
    assert grown, "no model call was measured"
    tokens = "cozeplus_model_tokens_total"
    assert any(
        value(after, tokens, model=m, kind="output") > value(before, tokens, model=m, kind="output")
        for m in grown
    )


def test_jobs_and_webhook_deliveries_are_counted(client):
    alice = register(client)
    space_id = alice.post("/api/playground_api/space/list").json()["data"]["bot_space_list"][0]["id"]
    hook = {"space_id": space_id, "url": "http://127.0.0.3:9/hook", "events": ["agent.published"]}
    hook_id = alice.post("/api/webhook/create", hook).json()["data"]["id"]
    before = samples(client)
    alice.post("/api/webhook/test", {"id": hook_id})  # nothing listens there: a failed delivery
    from test_knowledge import add_and_wait, make_dataset, text_source

    add_and_wait(alice, make_dataset(alice), [text_source("doc", "Counted by the queue.")])
    after = samples(client)
    deliveries = "cozeplus_webhook_deliveries_total"
    assert value(after, deliveries, outcome="failed") - value(before, deliveries, outcome="failed") >= 1
    jobs = [(labels, v) for (name, labels), v in after.items() if name == "cozeplus_jobs_total"]
    grown = [dict(labels) for labels, v in jobs if v > before.get(("cozeplus_jobs_total", labels), 0.0)]
    assert any(j["outcome"] == "complete" for j in grown), jobs


def test_a_metrics_token_guards_the_page(client, settings_override):
    settings_override(metrics_token="scrape-secret")
    assert_error(client.get("/metrics"), 401, 4100, "COZEPLUS_METRICS_TOKEN")
    assert_error(client.get("/metrics", headers={"Authorization": "Bearer wrong"}), 401, 4100)
    assert (
        "cozeplus_http_requests_total"
        in client.get("/metrics", headers={"Authorization": "Bearer scrape-secret"}).text
    )


def test_two_workers_add_up_their_samples(live_env, tmp_path):
    import os

    import httpx
    from conftest import PASSWORD, new_email, run_cli, separate_env, start_server

    samples_dir = tmp_path / "prometheus"
    samples_dir.mkdir()
    env = separate_env(live_env, tmp_path / "data", PROMETHEUS_MULTIPROC_DIR=str(samples_dir))
    if not os.environ.get("DATABASE_URL"):
        run_cli(env, "migrate", check=True)
    server, base = start_server(env, "--workers", "2")
    try:
        account = {"email": new_email("workers"), "password": PASSWORD}
        token = httpx.post(f"{base}/api/passport/web/email/register/v2/", json=account).json()["data"][
            "token"
        ]
        headers = {"Authorization": f"Bearer {token}"}
        for _ in range(20):  # each on a new connection, so both workers take some
            assert httpx.post(f"{base}/api/playground_api/space/list", headers=headers).status_code == 200
        found = samples(httpx.Client(base_url=base))
        assert value(found, "cozeplus_http_requests_total", operation="list_spaces", status="200") == 20
        pids = {p.name for p in samples_dir.iterdir()}
        assert len({name.rsplit("_", 1)[-1] for name in pids}) >= 2, pids  # both workers wrote samples
    finally:
        server.terminate()
        server.wait(10)
    # the next run starts from nothing: the samples the last one left are wiped, not added
    server, base = start_server(env)
    try:
        assert httpx.post(f"{base}/api/playground_api/space/list", headers=headers).status_code == 200
        found = samples(httpx.Client(base_url=base))
        assert value(found, "cozeplus_http_requests_total", operation="list_spaces", status="200") == 1
    finally:
        server.terminate()
        server.wait(10)
