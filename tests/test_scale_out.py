"""Several servers over one database (the live server and a second one sharing its database): a
chat streamed by one and a workflow run executed by one stop promptly when they are cancelled
through the other."""

from __future__ import annotations

import json
import threading
import time

import httpx
import pytest
from conftest import PASSWORD, new_email, scale_out, start_server
from test_workflow_calls import llm_node, one_node
from test_workflow_canvas import ref

from models.workflow import RUN_CANCELLED


@pytest.fixture(scope="module")
def other_server(live_server, live_env):
    """A second `cozeplus serve` on the live server's database."""
    # one more server of the same deployment (its queue too); it is its own metrics target
    env = {k: v for k, v in live_env.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    server, base = start_server({**env, "COZEPLUS_TASK_WORKERS": "0"})
    try:
        yield base
    finally:
        server.terminate()
        server.wait(10)


@pytest.fixture(scope="module")
def token(live_server) -> str:
    account = {"email": new_email("scale"), "password": PASSWORD}
    answer = httpx.post(f"{live_server}/api/passport/web/email/register/v2/", json=account).json()
    return answer["data"]["token"]


def client(base: str, token: str) -> httpx.Client:
    return httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30)


def test_a_chat_streamed_by_one_server_is_cancelled_through_the_other(live_server, other_server, token):
    one, other = client(live_server, token), client(other_server, token)
    bot = one.post("/api/draftbot/create", json={"name": "Long talker"}).json()["data"]["bot_id"]
    assert one.post("/v1/bot/publish", json={"bot_id": bot, "connector_ids": ["1024"]}).json()["code"] == 0
    body = {
        "bot_id": bot,
        "user_id": "scale-user",
        "stream": True,
        "additional_messages": [
            {"role": "user", "content": "/slow 300\nTell me a long story", "content_type": "text"}
        ],
    }
    events, started, ids = [], threading.Event(), {}

    def stream() -> None:
        with one.stream("POST", "/v3/chat", json=body) as answer:
            name = None
            for line in answer.iter_lines():
                if line.startswith("event:"):
                    name = line[6:]
                    events.append((name, time.monotonic()))
                elif line.startswith("data:") and name == "conversation.message.delta":
                    data = json.loads(line[5:])
                    ids.update(chat=data["chat_id"], conversation=data["conversation_id"])
                    started.set()

    reader = threading.Thread(target=stream)
    reader.start()
    assert started.wait(20), events
    cancelled_at = time.monotonic()
    answer = other.post(
        "/v3/chat/cancel", json={"conversation_id": ids["conversation"], "chat_id": ids["chat"]}
    )
    assert answer.json()["code"] == 0 and answer.json()["data"]["status"] == "canceled", answer.text
    reader.join(20)
    assert not reader.is_alive()
    names = [name for name, _ in events]
    assert "conversation.chat.canceled" in names and "conversation.chat.completed" not in names
    ended = next(at for name, at in events if name == "conversation.chat.canceled")
    assert ended - cancelled_at < 5  # the story alone would take many seconds more
    deltas = names.count("conversation.message.delta")
    assert 0 < deltas < 20
    retrieved = other.get(f"/v3/chat/retrieve?conversation_id={ids['conversation']}&chat_id={ids['chat']}")
    assert retrieved.json()["data"]["status"] == "canceled"
    messages = one.get(f"/v3/chat/message/list?conversation_id={ids['conversation']}&chat_id={ids['chat']}")
    answer_message = next(m for m in messages.json()["data"] if m["type"] == "answer")
    assert answer_message["content"]  # the part streamed before the cancel is kept


def test_a_workflow_run_executed_by_one_server_is_cancelled_through_the_other(
    live_server, other_server, token
):
    """The second server takes no jobs (COZEPLUS_TASK_WORKERS=0), so the live server executes the
    test run the second one queued; the cancel goes through the second one too."""
    one, other = client(live_server, token), client(other_server, token)
    space = one.post("/api/playground_api/space/list", json={}).json()["data"]["bot_space_list"][0]["id"]
    created = one.post(
        "/api/workflow_api/create",
        json={"space_id": space, "name": "slow_story", "desc": "d", "flow_mode": 0},
    )
    workflow_id = created.json()["data"]["workflow_id"]
    schema = one_node(llm_node("2", "/slow 300\n{{q}}"), said=ref("2", "output"))
    saved = one.post(
        "/api/workflow_api/save", json={"workflow_id": workflow_id, "schema": json.dumps(schema)}
    )
    assert saved.json()["code"] == 0, saved.text
    started = other.post(
        "/api/workflow_api/test_run", json={"workflow_id": workflow_id, "input": {"q": "a long story " * 40}}
    )
    execute_id = started.json()["data"]["execute_id"]
    url = f"/api/workflow_api/get_process?workflow_id={workflow_id}&execute_id={execute_id}"
    for _ in range(400):  # until the LLM node is under way
        nodes = {n["nodeId"]: n for n in other.get(url).json()["data"]["nodeResults"]}
        if nodes.get("2", {}).get("nodeStatus") == 2:
            break
        time.sleep(0.05)
    assert nodes.get("2", {}).get("nodeStatus") == 2, nodes
    time.sleep(0.3)
    stopped_calls = stopped_model_calls(live_server)
    cancelled_at = time.monotonic()
    cancelled = other.post("/api/workflow_api/cancel", json={"execute_id": execute_id})
    assert cancelled.json()["code"] == 0, cancelled.text
    # the executing server stops the node's model call (which had many seconds to go)
    while stopped_model_calls(live_server) == stopped_calls and time.monotonic() - cancelled_at < 5:
        time.sleep(0.05)
    assert stopped_model_calls(live_server) == stopped_calls + 1
    time.sleep(1.0)
    first = other.get(url).json()["data"]
    time.sleep(1.0)
    later = other.get(url).json()["data"]
    assert first["executeStatus"] == later["executeStatus"] == RUN_CANCELLED
    assert time.monotonic() - cancelled_at < 10
    assert first["nodeResults"] == later["nodeResults"]
    assert not any(n["nodeStatus"] == 3 for n in later["nodeResults"] if n["nodeId"] == "2")


def stopped_model_calls(base: str) -> float:
    """Model calls the server ended before their last piece (from its /metrics)."""
    from prometheus_client.parser import text_string_to_metric_families

    total = 0.0
    for family in text_string_to_metric_families(httpx.get(f"{base}/metrics").text):
        for sample in family.samples:
            if (
                sample.name == "cozeplus_model_call_duration_seconds_count"
                and sample.labels["outcome"] != "ok"
            ):
                total += sample.value
    return total


def test_the_live_deployment_has_its_layout(live_server, live_env, token):
    """On PostgreSQL the live deployment is production's: two server workers, the queue in Redis
    and a separate task worker executing its jobs (the servers take none); on SQLite, one process."""
    from pathlib import Path

    one = client(live_server, token)
    space = one.post("/api/playground_api/space/list", json={}).json()["data"]["bot_space_list"][0]["id"]
    dataset = one.post("/api/knowledge/create", json={"name": "Layout", "space_id": space}).json()["data"]
    document = one.post(
        "/api/knowledge/document/create",
        json={
            "dataset_id": dataset["dataset_id"],
            "document_bases": [
                {"name": "depot", "source_info": {"custom_content": "The depot opens at six."}}
            ],
        },
    ).json()["data"]["document_infos"][0]["document_id"]
    for _ in range(200):
        states = one.post("/api/knowledge/document/progress/get", json={"document_ids": [document]})
        if states.json()["data"]["data"][0]["status"] == 1:
            break
        time.sleep(0.05)
    assert states.json()["data"]["data"][0]["status"] == 1, states.text  # the queued job was executed
    data_dir = Path(live_env["COZEPLUS_DATA_DIR"])
    if not scale_out():
        assert (data_dir / "tasks.db").exists() and "REDIS_URL" not in live_env
        return
    assert live_env["COZEPLUS_TASK_WORKERS"] == "0"  # so the task worker processed the document
    assert not (data_dir / "tasks.db").exists()
    assert live_env["REDIS_URL"] in (data_dir / "worker.log").read_text()
    for _ in range(20):  # each on a new connection, so both server workers take some
        assert httpx.get(f"{live_server}/v1/workspaces", headers=one.headers).status_code == 200
    samples = Path(live_env["PROMETHEUS_MULTIPROC_DIR"])
    writers = {p.stem.rsplit("_", 1)[-1] for p in samples.iterdir()}
    assert len(writers) >= 3, writers  # two server workers and the task worker
