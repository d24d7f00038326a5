"""OpenTelemetry traces from a real server to a small OTLP/HTTP collector: a chat run's span holds
its model call, a workflow run's span holds a span per node, and an LLM node's span holds its
model call; with no exporter configured nothing is recorded."""

from __future__ import annotations

import gzip
import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from conftest import PASSWORD, new_email, run_cli, separate_env, start_server
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from test_workflow_calls import llm_node, one_node
from test_workflow_canvas import ref


class Collector(BaseHTTPRequestHandler):
    """POST /v1/traces as OTLP/HTTP's protobuf encoding sends it; keeps every span it is given."""

    spans: list = []
    resources: list = []
    lock = threading.Lock()

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        request = ExportTraceServiceRequest.FromString(body)
        with self.lock:
            for resource_spans in request.resource_spans:
                attributes = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
                self.resources.append(attributes)
                for scope in resource_spans.scope_spans:
                    self.spans.extend(scope.spans)
        answer = ExportTraceServiceResponse().SerializeToString()
        self.send_response(200 if self.path == "/v1/traces" else 404)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args):
        pass


def attributes(span) -> dict:
    found = {}
    for item in span.attributes:
        value = item.value
        found[item.key] = value.string_value if value.HasField("string_value") else value.int_value
    return found


def wait_for(predicate, seconds: float = 15):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with Collector.lock:
            found = predicate(list(Collector.spans))
        if found:
            return found
        time.sleep(0.1)
    pytest.fail(f"the collector never received the spans; it has {[s.name for s in Collector.spans]}")


@pytest.fixture
def traced_server(live_env, tmp_path):
    collector = ThreadingHTTPServer(("127.0.0.1", 0), Collector)
    threading.Thread(target=collector.serve_forever, daemon=True).start()
    env = separate_env(
        live_env,
        tmp_path / "data",
        OTEL_EXPORTER_OTLP_ENDPOINT=f"http://127.0.0.1:{collector.server_port}",
        OTEL_BSP_SCHEDULE_DELAY="100",
        OTEL_SERVICE_NAME="cozeplus-under-test",
    )
    if not os.environ.get("DATABASE_URL"):
        run_cli(env, "migrate", check=True)
    server, base = start_server(env)
    account = {"email": new_email("traced"), "password": PASSWORD}
    token = httpx.post(f"{base}/api/passport/web/email/register/v2/", json=account).json()["data"]["token"]
    try:
        yield httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    finally:
        server.terminate()
        server.wait(10)
        collector.shutdown()
        Collector.spans.clear()


def test_a_chat_run_holds_its_model_call(traced_server):
    http = traced_server
    bot = http.post("/api/draftbot/create", json={"name": "Traced agent"}).json()["data"]["bot_id"]
    assert http.post("/v1/bot/publish", json={"bot_id": bot, "connector_ids": ["1024"]}).json()["code"] == 0
    body = {
        "bot_id": bot,
        "user_id": "traced-user",
        "stream": True,
        "additional_messages": [{"role": "user", "content": "Trace me", "content_type": "text"}],
    }
    chat_id = None
    with http.stream("POST", "/v3/chat", json=body) as stream:
        for line in stream.iter_lines():
            if line.startswith("data:") and chat_id is None and '"id"' in line:
                chat_id = json.loads(line[5:]).get("id")
    assert chat_id

    def chat_and_call(spans):
        runs = [s for s in spans if s.name == "chat.run" and attributes(s)["chat.id"] == chat_id]
        calls = [s for s in spans if s.name == "model.call" and runs and s.parent_span_id == runs[0].span_id]
        return (runs[0], calls[0]) if calls else None

    run, call = wait_for(chat_and_call)
    assert attributes(run)["agent.id"] == bot
    assert call.trace_id == run.trace_id
    assert attributes(call)["model.outcome"] == "ok" and attributes(call)["model.output_tokens"] > 0
    assert run.start_time_unix_nano <= call.start_time_unix_nano <= call.end_time_unix_nano
    assert call.end_time_unix_nano <= run.end_time_unix_nano
    assert {"service.name": "cozeplus-under-test"}.items() <= Collector.resources[0].items()


def test_a_workflow_run_holds_a_span_per_node(traced_server):
    http = traced_server
    space = http.post("/api/playground_api/space/list", json={}).json()["data"]["bot_space_list"][0]["id"]
    created = http.post(
        "/api/workflow_api/create", json={"space_id": space, "name": "traced", "desc": "t", "flow_mode": 0}
    ).json()["data"]["workflow_id"]
    schema = one_node(llm_node("2", "/echo You said: {{q}}"), said=ref("2", "output"))
    saved = http.post("/api/workflow_api/save", json={"workflow_id": created, "schema": json.dumps(schema)})
    assert saved.json()["code"] == 0, saved.text
    published = http.post("/api/workflow_api/publish", json={"workflow_id": created, "force": True})
    assert published.json()["code"] == 0, published.text
    answer = http.post("/v1/workflow/run", json={"workflow_id": created, "parameters": {"q": "hi"}}).json()
    assert answer["code"] == 0, answer
    assert json.loads(answer["data"])["said"] == "You said: hi"
    execute_id = answer["execute_id"]

    def run_and_nodes(spans):
        runs = [s for s in spans if s.name == "workflow.run"]
        runs = [s for s in runs if attributes(s)["workflow.execute_id"] == execute_id]
        if not runs:
            return None
        nodes = {attributes(s)["workflow.node.id"]: s for s in spans if s.parent_span_id == runs[0].span_id}
        llm = nodes.get("2")
        calls = [s for s in spans if llm is not None and s.parent_span_id == llm.span_id]
        return (runs[0], nodes, calls) if len(nodes) == 3 and calls else None

    run, nodes, calls = wait_for(run_and_nodes)
    assert attributes(run)["workflow.id"] == created
    assert set(nodes) == {"100001", "2", "900001"}
    assert {attributes(s)["workflow.node.type"] for s in nodes.values()} == {"1", "3", "2"}
    assert all(s.name == "workflow.node" and s.trace_id == run.trace_id for s in nodes.values())
    assert nodes["100001"].end_time_unix_nano <= nodes["2"].start_time_unix_nano  # in the canvas's order
    assert [c.name for c in calls] == ["model.call"] and attributes(calls[0])["model.outcome"] == "ok"


def test_without_an_exporter_spans_record_nothing(monkeypatch):
    from core import tracing

    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", raising=False)
    assert tracing.configure() is False
    with tracing.tracer.start_as_current_span("chat.run") as span:
        assert not span.is_recording()
