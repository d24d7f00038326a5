"""kill -9 a real server while it ingests a document and streams a chat: after the restart the
document is processed again to the end and the chat is failed with a reason, both at once. And
kill -9 whatever executes the task queue's jobs (the server, or the separate `cozeplus worker` of
the scale-out layout) while a document is fetched, while an async workflow run is between two
HTTP calls and while a webhook delivery is in flight: the document is processed again (its
slices once), the run resumes after its last finished node (the first call is not made again)
and the event is delivered again with the same id."""

from __future__ import annotations

import contextlib
import http.server
import json
import os
import signal
import threading
import time

import httpx
import pytest
from conftest import ADMIN_EMAIL, ADMIN_PASSWORD, redis_server, run_cli, start_server, start_task_worker
from test_chat import chat_body

PAGE = b"<html><body><h1>Shipping</h1><p>Parcels leave the Lyon depot every morning at six.</p></body></html>"


class SlowPage(http.server.BaseHTTPRequestHandler):
    """Holds the first request until released: the server is killed while it waits."""

    requested = threading.Event()
    release = threading.Event()

    def do_GET(self):
        SlowPage.requested.set()
        SlowPage.release.wait(30)
        try:
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(PAGE)))
            self.end_headers()
            self.wfile.write(PAGE)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server that asked was killed

    def log_message(self, *args):
        pass


def crash_env(tmp_path, **extra: str) -> dict:
    """A server of its own: its SQLite database and data directory, its queue, local pages allowed."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(
        {
            "COZEPLUS_DATA_DIR": str(tmp_path / "data"),
            "COZEPLUS_ADMIN_PASSWORD": ADMIN_PASSWORD,
            "COZEPLUS_LOG_LEVEL": "WARNING",
            "COZEPLUS_KNOWLEDGE_ALLOW_PRIVATE_URLS": "1",
            **extra,
        }
    )
    return env


def test_kill_9_mid_ingestion_and_mid_stream(tmp_path):
    page_server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), SlowPage)
    threading.Thread(target=page_server.serve_forever, daemon=True).start()
    env = crash_env(tmp_path, COZEPLUS_OFFLINE_MODEL_DELAY_MS="0")
    run_cli(env, "migrate", check=True)
    server, base = start_server(env)
    try:
        token = httpx.post(
            f"{base}/api/passport/web/email/login/", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
        ).json()["data"]["token"]
        http_client = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30)
        space = http_client.post("/api/playground_api/space/list", json={}).json()["data"]["bot_space_list"][
            0
        ]["id"]
        dataset = http_client.post("/api/knowledge/create", json={"name": "Pages", "space_id": space}).json()[
            "data"
        ]["dataset_id"]
        url = f"http://127.0.0.1:{page_server.server_port}/shipping"
        document = http_client.post(
            "/api/knowledge/document/create",
            json={
                "dataset_id": dataset,
                "document_bases": [{"name": "shipping", "source_info": {"web_url": url}}],
            },
        ).json()["data"]["document_infos"][0]["document_id"]
        assert SlowPage.requested.wait(20), "the document's processing never fetched the page"

        bot = http_client.post("/api/draftbot/create", json={"name": "Crash agent"}).json()["data"]["bot_id"]
        http_client.post("/v1/bot/publish", json={"bot_id": bot, "connector_ids": ["1024"]})
        chat_ids: dict = {}
        story = chat_body(bot, "/slow 1000\nTell me a long story")
        with http_client.stream("POST", "/v3/chat", json=story) as stream:
            for line in stream.iter_lines():
                if line.startswith("data:") and "conversation_id" in line:
                    data = json.loads(line[5:])
                    chat_ids.setdefault("chat", data.get("chat_id") or data.get("id"))
                    chat_ids.setdefault("conversation", data["conversation_id"])
                if line.startswith("event:") and "message.delta" in line:
                    server.send_signal(signal.SIGKILL)  # mid-ingestion and mid-stream
                    server.wait(10)
                    break
        assert server.returncode == -signal.SIGKILL
    finally:
        if server.poll() is None:
            server.kill()
    SlowPage.release.set()

    restarted, base = start_server(env)
    try:
        started = time.monotonic()
        http_client = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30)
        chat = http_client.get(
            f"/v3/chat/retrieve?conversation_id={chat_ids['conversation']}&chat_id={chat_ids['chat']}"
        ).json()["data"]
        assert chat["status"] == "failed" and "server stopped" in chat["last_error"]["msg"], chat
        while True:
            states = http_client.post(
                "/api/knowledge/document/progress/get", json={"document_ids": [document]}
            ).json()["data"]["data"]
            if states[0]["status"] not in (0, 4):
                break
            assert time.monotonic() - started < 20, states
            time.sleep(0.1)
        assert states[0]["status"] == 1, states  # processed again, to the end
        hits = http_client.post(
            "/api/knowledge/retrieve", json={"dataset_ids": [dataset], "query": "Lyon depot"}
        ).json()["data"]
        assert any("six" in hit["content"] for hit in hits["slices"]), hits
        print(f"\nrecovered {time.monotonic() - started:.2f} s after the restart answered")
    finally:
        restarted.terminate()
        restarted.wait(10)
        page_server.shutdown()


def recorder(*gated: str) -> type[http.server.BaseHTTPRequestHandler]:
    """A service the workflow's HTTP nodes, the webhook and a document's URL call, with state of
    its own: it counts each path, and holds the first request to each gated path until that
    path's gate opens (the kill lands then)."""

    class Recorder(http.server.BaseHTTPRequestHandler):
        hits: dict = {}
        bodies: list = []
        gates: dict = {path: threading.Event() for path in gated}
        held: dict = {path: threading.Event() for path in gated}

        def _answer(self, body: bytes):
            path = self.path.split("?")[0]
            Recorder.hits[path] = Recorder.hits.get(path, 0) + 1
            if path in Recorder.gates and not Recorder.held[path].is_set():  # only the first waits
                Recorder.held[path].set()
                Recorder.gates[path].wait(30)
            Recorder.bodies.append((path, dict(self.headers), body))
            if path.endswith(".html"):
                answer, kind = PAGE, "text/html"
            else:
                answer, kind = (
                    json.dumps({"path": path, "n": Recorder.hits[path]}).encode(),
                    "application/json",
                )
            try:
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)
            except (BrokenPipeError, ConnectionResetError):
                pass

        def do_GET(self):
            self._answer(b"")

        def do_POST(self):
            self._answer(self.rfile.read(int(self.headers.get("Content-Length") or 0)))

        def log_message(self, *args):
            pass

    return Recorder


def http_node(node_id: str, url: str) -> dict:
    from test_workflow_engine import node

    return node(
        node_id,
        "45",
        {"apiInfo": {"method": "GET", "url": url}, "body": {"bodyType": "EMPTY"}},
        [{"name": "body", "type": "string"}],
    )


class Deployment:
    """One server on its own SQLite database. In the "one process" layout it also executes the
    task queue's jobs, and it is what gets killed; in the "separate worker" layout (production's
    scale-out: docs/deploy.md) the queue is in Redis, a `cozeplus worker` executes the jobs, and
    the worker is what gets killed while the server stays up."""

    def __init__(self, layout: str, tmp_path, stack: contextlib.ExitStack):
        self.layout, self.processes = layout, []
        env = crash_env(tmp_path, COZEPLUS_OUTBOUND_ALLOW="127.0.0.1")
        if layout == "separate worker":
            env.update(REDIS_URL=stack.enter_context(redis_server(tmp_path)), COZEPLUS_TASK_WORKERS="0")
        self.env = env
        run_cli(env, "migrate", check=True)
        server, self.base = start_server(env)
        self.processes.append(server)
        self.victim = server
        if layout == "separate worker":
            self.victim = start_task_worker(env)
            self.processes.append(self.victim)
        stack.callback(self.stop)

    def kill_and_restart(self, gate: threading.Event) -> None:
        self.victim.send_signal(signal.SIGKILL)
        self.victim.wait(10)
        assert self.victim.returncode == -signal.SIGKILL
        gate.set()  # the held request answers a caller that is gone
        if self.layout == "separate worker":
            self.victim = start_task_worker(self.env)
        else:
            self.victim, self.base = start_server(self.env)
        self.processes.append(self.victim)

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
                process.wait(10)


def wait_until(probe, done, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if done(value) or time.monotonic() > deadline:
            return value
        time.sleep(0.1)


@pytest.mark.parametrize("layout", ["one process", "separate worker"])
def test_kill_9_mid_ingestion_async_workflow_run_and_webhook_delivery(tmp_path, layout):
    from conftest import Account, register
    from test_workflow_canvas import ref
    from test_workflow_engine import edge, end_returning, start
    from test_workflow_runs import published
    from test_workflows import space_of

    Recorder = recorder("/page.html", "/slow", "/hook")
    service = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=service.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{service.server_port}"
    with contextlib.ExitStack() as stack:
        stack.callback(service.shutdown)
        stack.callback(lambda: [gate.set() for gate in Recorder.gates.values()])
        deployment = Deployment(layout, tmp_path, stack)
        alice: Account = register(httpx.Client(base_url=deployment.base, timeout=30))

        def reconnect():
            alice.client = httpx.Client(base_url=deployment.base, timeout=30)

        # 1. a document's ingestion, killed while it fetches the page: processed again, to the end
        dataset = alice.post("/api/knowledge/create", {"name": "Pages", "space_id": space_of(alice)}).json()[
            "data"
        ]["dataset_id"]
        document = alice.post(
            "/api/knowledge/document/create",
            {
                "dataset_id": dataset,
                "document_bases": [{"name": "page", "source_info": {"web_url": url + "/page.html"}}],
            },
        ).json()["data"]["document_infos"][0]["document_id"]
        assert Recorder.held["/page.html"].wait(20), "the document's processing never fetched the page"
        deployment.kill_and_restart(Recorder.gates["/page.html"])
        reconnect()
        states = wait_until(
            lambda: alice.post("/api/knowledge/document/progress/get", {"document_ids": [document]}).json()[
                "data"
            ]["data"],
            lambda states: states[0]["status"] not in (0, 4),
        )
        assert states[0]["status"] == 1, states
        assert Recorder.hits["/page.html"] == 2
        hits = alice.post(
            "/api/knowledge/retrieve", {"dataset_ids": [dataset], "query": "Lyon depot"}
        ).json()["data"]["slices"]
        assert len([h for h in hits if "six" in h["content"]]) == 1, hits  # its slices once, not twice

        # 2. an async run, killed with its first call done and the second in flight: resumed there
        hook = alice.post(
            "/api/webhook/create",
            {
                "space_id": space_of(alice),
                "url": url + "/hook",
                "events": ["workflow.completed"],
                "secret": "crash-test-secret-42",
            },
        ).json()["data"]
        schema = {
            "nodes": [
                start(("q", "string")),
                http_node("2", url + "/fast"),
                http_node("3", url + "/slow"),
                end_returning(fast=ref("2", "body"), slow=ref("3", "body")),
            ],
            "edges": [edge("100001", "2"), edge("2", "3"), edge("3", "900001")],
        }
        workflow_id = published(alice, schema, "two_calls")
        started = alice.post(
            "/v1/workflow/run", {"workflow_id": workflow_id, "parameters": {"q": "x"}, "is_async": True}
        ).json()
        assert started["code"] == 0, started
        assert Recorder.held["/slow"].wait(20), "the run never reached its second call"
        deployment.kill_and_restart(Recorder.gates["/slow"])
        reconnect()
        history = wait_until(
            lambda: alice.get(f"/v1/workflows/{workflow_id}/run_histories/{started['execute_id']}").json()[
                "data"
            ][0],
            lambda history: history["execute_status"] != "Running",
        )
        assert history["execute_status"] == "Success", history
        output = json.loads(history["output"])
        assert json.loads(output["fast"]) == {"path": "/fast", "n": 1}  # done before the kill: not again
        assert json.loads(output["slow"])["path"] == "/slow"
        assert Recorder.hits["/fast"] == 1 and Recorder.hits["/slow"] == 2

        # 3. the run's workflow.completed event, killed while the receiver holds its delivery
        assert Recorder.held["/hook"].wait(20), "the completion was never delivered"
        deployment.kill_and_restart(Recorder.gates["/hook"])
        reconnect()
        [delivery] = wait_until(
            lambda: alice.post("/api/webhook/deliveries", {"id": hook["id"]}).json()["data"]["deliveries"],
            lambda deliveries: deliveries[0]["status"] != "pending",
        )
        assert delivery["status"] == "delivered" and delivery["response_status"] == 200, delivery
        hooks = [(headers, json.loads(body)) for path, headers, body in Recorder.bodies if path == "/hook"]
        # at least once: the killed attempt reached the receiver too, with the same event id to
        # deduplicate by; the run's completion is one event
        assert Recorder.hits["/hook"] == 2 and len(hooks) == 2
        assert {h.get("X-Cozeplus-Delivery") for h, _ in hooks} == {delivery["event_id"]}
        assert {event["data"]["execute_id"] for _, event in hooks} == {started["execute_id"]}
