"""Outgoing webhooks through HTTP: subscriptions, a test ping, events delivered signed to a local
receiver, retries with backoff after it answers 500, in-order delivery after it was down, the
automatic disabling after persistent failure, redelivery, and bad input refused."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import pytest
from conftest import assert_error
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from test_memory import space_of

from models.webhook import WebhookDelivery, WebhookSubscription
from services import webhooks
from tests.fake_openai import MODEL_HOST, AppThread

SECRET = "receiver-secret-0123456789"


class Receiver:
    """Records what it is sent, checks each signature, and fails while told to."""

    def __init__(self):
        self.received: list[dict] = []
        self.failures = 0  # answer 500 this many times
        self.url = ""

        async def hook(request: Request):
            body = (await request.body()).decode()
            stamp, _, digest = request.headers["x-cozeplus-signature"].partition(",v1=")
            stamp = stamp.removeprefix("t=")
            expected = hmac.new(SECRET.encode(), f"{stamp}.{body}".encode(), hashlib.sha256).hexdigest()
            if self.failures > 0:
                self.failures -= 1
                return JSONResponse({"error": "down"}, status_code=500)
            self.received.append(
                {
                    "event": json.loads(body),
                    "valid": hmac.compare_digest(digest, expected),
                    "headers": request.headers,
                }
            )
            return JSONResponse({"ok": True})

        self.app = Starlette(routes=[Route("/hook", hook, methods=["POST"])])


@pytest.fixture
def receiver(app):
    made = Receiver()
    with AppThread(made.app) as thread:
        made.url = f"http://{MODEL_HOST}:{thread.port}/hook"
        yield made


@pytest.fixture
def quick_retries(settings_override):
    settings_override(webhook_retry_base_seconds=0.05)


def subscribe(account, url, events, **extra) -> dict:
    body = {"space_id": space_of(account), "url": url, "events": events, "secret": SECRET, **extra}
    response = account.post("/api/webhook/create", body)
    assert response.status_code == 200, response.text
    return response.json()["data"]


def wait_for(condition, timeout: float = 15.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_subscriptions_and_a_signed_test_ping(alice, bob, receiver):
    made = subscribe(alice, receiver.url, ["agent.published"], description="ci")
    assert made["secret"] == SECRET and made["webhook"]["secret_hint"] != SECRET
    stored = WebhookSubscription.get_by_id(int(made["id"]))
    assert SECRET not in stored.secret_encrypted
    generated = alice.post(
        "/api/webhook/create",
        {"space_id": space_of(alice), "url": receiver.url, "events": ["chat.completed"]},
    )
    assert len(generated.json()["data"]["secret"]) >= 32
    listed = alice.post("/api/webhook/list", {"space_id": space_of(alice)}).json()["data"]
    assert made["id"] in [w["id"] for w in listed["webhooks"]] and all(
        "secret" not in w for w in listed["webhooks"]
    )
    ping = alice.post("/api/webhook/test", {"id": made["id"]}).json()["data"]
    assert (ping["event"], ping["status"], ping["response_status"]) == ("webhook.ping", "delivered", 200)
    [got] = receiver.received
    assert got["valid"] and got["event"]["event"] == "webhook.ping" and got["event"]["id"] == ping["event_id"]
    assert set(got["event"]) == {"id", "event", "timestamp", "data"}
    changed = alice.post(
        "/api/webhook/update", {"id": made["id"], "events": ["agent.published", "workflow.completed"]}
    )
    assert changed.json()["data"]["events"] == ["agent.published", "workflow.completed"]
    assert_error(bob.post("/api/webhook/update", {"id": made["id"], "enabled": False}), 404, 107000020)
    assert WebhookSubscription.get_by_id(int(made["id"])).enabled is True
    count = WebhookSubscription.select().count()
    for bad, said in [
        ({"events": ["nope.happened"]}, "events"),
        ({"events": []}, "events"),
        ({"url": "http://127.0.0.1:9/hook"}, "url"),
        ({"secret": "short"}, "secret"),
    ]:
        body = {"space_id": space_of(alice), "url": receiver.url, "events": ["agent.published"], **bad}
        assert_error(alice.post("/api/webhook/create", body), 400, 107000000, said)
    assert WebhookSubscription.select().count() == count
    assert alice.post("/api/webhook/delete", {"id": made["id"]}).json()["code"] == 0
    assert WebhookSubscription.get_or_none(WebhookSubscription.id == int(made["id"])) is None


def test_events_are_delivered_signed_and_retried_after_500s(alice, receiver, quick_retries):
    from test_chat import new_agent

    made = subscribe(alice, receiver.url, ["agent.published"])
    receiver.failures = 2
    bot_id = new_agent(alice)  # publishes it
    wait_for(lambda: receiver.received)
    [got] = receiver.received
    assert (
        got["valid"]
        and got["event"]["event"] == "agent.published"
        and got["event"]["data"]["bot_id"] == bot_id
    )
    assert got["headers"]["x-cozeplus-event"] == "agent.published"
    [delivery] = alice.post("/api/webhook/deliveries", {"id": made["id"]}).json()["data"]["deliveries"]
    assert (delivery["status"], delivery["attempts"], delivery["response_status"]) == ("delivered", 3, 200)


def test_a_receiver_that_was_down_gets_everything_later_in_order(alice, receiver, quick_retries):
    from test_workflow_runs import greeting, published

    made = subscribe(alice, receiver.url, ["workflow.completed"])
    workflow_id = published(alice, greeting(), "hooked")
    receiver.failures = 4
    for name in ("one", "two", "three"):
        alice.post("/v1/workflow/run", {"workflow_id": workflow_id, "parameters": {"name": name}})
    wait_for(lambda: len(receiver.received) == 3)
    outputs = [json.loads(r["event"]["data"]["output"])["greeting"] for r in receiver.received]
    assert outputs == ["Hello, one!", "Hello, two!", "Hello, three!"] and all(
        r["valid"] for r in receiver.received
    )
    statuses = WebhookDelivery.select(WebhookDelivery.status).where(
        WebhookDelivery.subscription == int(made["id"])
    )
    # the receiver has the last one a moment before the sender records its answer
    wait_for(lambda: {d.status for d in statuses.clone()} == {"delivered"})


def test_persistent_failure_disables_and_enabling_delivers_what_waited(
    alice, receiver, quick_retries, monkeypatch
):
    from test_workflow_runs import greeting, published

    monkeypatch.setattr(webhooks, "MAX_ATTEMPTS", 2)
    made = subscribe(alice, receiver.url, ["workflow.completed"])
    workflow_id = published(alice, greeting(), "failing_hook")
    receiver.failures = 100
    alice.post("/v1/workflow/run", {"workflow_id": workflow_id, "parameters": {"name": "lost?"}})
    wait_for(lambda: not WebhookSubscription.get_by_id(int(made["id"])).enabled)
    hook = WebhookSubscription.get_by_id(int(made["id"]))
    assert "failed attempts" in hook.disabled_reason and "HTTP 500" in hook.disabled_reason
    [failed] = alice.post("/api/webhook/deliveries", {"id": made["id"], "status": "failed"}).json()["data"][
        "deliveries"
    ]
    receiver.failures = 0
    again = alice.post("/api/webhook/redeliver", {"delivery_id": failed["id"]}).json()["data"]
    assert again["status"] == "pending" and again["event_id"] == failed["event_id"]
    assert (
        alice.post("/api/webhook/update", {"id": made["id"], "enabled": True}).json()["data"][
            "disabled_reason"
        ]
        == ""
    )
    wait_for(lambda: receiver.received)
    assert receiver.received[0]["event"]["id"] == failed["event_id"]


def test_a_receiver_gets_every_event_type(alice, receiver):
    from test_chat import new_agent, open_chat
    from test_knowledge import dataset_of_texts
    from test_workflow_runs import asking, greeting, published

    subscribe(alice, receiver.url, list(webhooks.EVENTS))
    bot_id = new_agent(alice)
    open_chat(alice, bot_id, "/echo hi")
    dataset_of_texts(alice, facts="Owls hunt at night.")
    published_id = published(alice, greeting(), "every_event")
    alice.post("/v1/workflow/run", {"workflow_id": published_id, "parameters": {"name": "x"}})
    asks = published(alice, asking(), "every_event_ask")
    alice.post("/v1/workflow/stream_run", {"workflow_id": asks, "parameters": {"name": "x"}})
    wait_for(lambda: set(webhooks.EVENTS) <= {r["event"]["event"] for r in receiver.received})
    by_event = {r["event"]["event"]: r for r in receiver.received}
    assert all(r["valid"] for r in receiver.received)
    assert by_event["chat.completed"]["event"]["data"]["answer"] == "hi"
    assert by_event["message.received"]["event"]["data"]["content"] == "/echo hi"
    assert by_event["workflow.interrupted"]["event"]["data"]["workflow_id"] == asks


def test_a_delivery_whose_task_was_lost_goes_out_when_the_processes_reap(alice, receiver):
    from services import recovery

    made = subscribe(alice, receiver.url, ["agent.published"])
    long_ago = int(time.time()) - recovery.QUEUED_STALE_SECONDS - 5
    payload = json.dumps({"id": "evt_lost", "event": "agent.published", "timestamp": long_ago, "data": {}})
    waiting = subscribe(alice, receiver.url, ["agent.published"])
    WebhookDelivery.create(  # just queued: its task's job, not the reaper's
        subscription=int(waiting["id"]), event_id="evt_new", event="agent.published", payload=payload
    )
    lost = WebhookDelivery.create(
        subscription=int(made["id"]),
        event_id="evt_lost",
        event="agent.published",
        payload=payload,
        created_at=long_ago,
    )
    assert recovery.reap()["resumed_webhooks"] == [int(made["id"])]
    wait_for(lambda: receiver.received)
    assert WebhookDelivery.get_by_id(lost.id).status == "delivered"
    assert recovery.reap()["resumed_webhooks"] == []
