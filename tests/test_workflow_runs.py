"""Workflow runs through HTTP: the console's test runs (async, polled, resumed, cancelled), the
Open API's sync, async and streamed runs with their history, and the codes each failure gives."""

from __future__ import annotations

import json
import time

import pytest
from conftest import assert_error
from sse import workflow_events
from test_memory import space_of
from test_workflow_canvas import literal, ref
from test_workflow_engine import condition, edge, end_returning, node, question, start
from test_workflows import create

from models.workflow import RUN_CANCELLED, RUN_FAILED, RUN_INTERRUPTED, RUN_SUCCEEDED, Workflow, WorkflowRun


def save(account, workflow_id, schema: dict) -> None:
    response = account.post(
        "/api/workflow_api/save", {"workflow_id": workflow_id, "schema": json.dumps(schema)}
    )
    assert response.json()["code"] == 0, response.text


def greeting() -> dict:
    text = node(
        "2",
        "15",
        {
            "method": "concat",
            "concatParams": [{"name": "concatResult", "input": literal("Hello, {{who}}!")}],
            "inputParameters": [{"name": "who", "input": ref("100001", "name")}],
        },
        [{"name": "output", "type": "string"}],
    )
    return {
        "nodes": [start(("name", "string")), text, end_returning(greeting=ref("2", "output"))],
        "edges": [edge("100001", "2"), edge("2", "900001")],
    }


def asking() -> dict:
    """Asks for an age, then says it back through an Output node and an answer-text End."""
    say = node(
        "4",
        "13",
        {
            "content": literal("Noted: {{age}}"),
            "inputParameters": [{"name": "age", "input": ref("3", "USER_RESPONSE")}],
        },
    )
    end = node(
        "900001",
        "2",
        {
            "terminatePlan": "useAnswerContent",
            "content": literal("{{name}} is {{age}}"),
            "inputParameters": [
                {"name": "name", "input": ref("100001", "name")},
                {"name": "age", "input": ref("3", "USER_RESPONSE")},
            ],
        },
    )
    return {
        "nodes": [
            start(("name", "string")),
            question(
                "3", "How old is {{n}}?", inputParameters=[{"name": "n", "input": ref("100001", "name")}]
            ),
            say,
            end,
        ],
        "edges": [edge("100001", "3"), edge("3", "4"), edge("4", "900001")],
    }


def published(account, schema: dict, name: str = "runner") -> str:
    workflow_id = create(account, name)
    save(account, workflow_id, schema)
    response = account.post("/api/workflow_api/publish", {"workflow_id": workflow_id, "force": True})
    assert response.json()["code"] == 0, response.text
    return workflow_id


def process(
    account, workflow_id, execute_id, until=(RUN_SUCCEEDED, RUN_FAILED, RUN_INTERRUPTED, RUN_CANCELLED)
):
    deadline = time.monotonic() + 20
    while True:
        response = account.get(
            f"/api/workflow_api/get_process?workflow_id={workflow_id}&execute_id={execute_id}"
        )
        assert response.status_code == 200, response.text
        data = response.json()["data"]
        if data["executeStatus"] in until or time.monotonic() > deadline:
            return data
        time.sleep(0.05)


def settled(execute_id: int) -> WorkflowRun:
    """The run once it is no longer running (or after 20 s)."""
    deadline = time.monotonic() + 20
    while WorkflowRun.get_by_id(execute_id).status == 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    return WorkflowRun.get_by_id(execute_id)


def test_a_test_run_is_polled_to_its_end_and_marks_the_draft_tested(alice):
    workflow_id = create(alice, "greeter")
    save(alice, workflow_id, greeting())
    response = alice.post(
        "/api/workflow_api/test_run", {"workflow_id": workflow_id, "input": {"name": "Ada"}}
    )
    assert response.status_code == 200, response.text
    execute_id = response.json()["data"]["execute_id"]
    data = process(alice, workflow_id, execute_id)
    assert data["executeStatus"] == RUN_SUCCEEDED, data
    assert json.loads(data["output"]) == {"greeting": "Hello, Ada!"}
    by_node = {n["nodeId"]: n for n in data["nodeResults"]}
    assert by_node["2"]["nodeStatus"] == 3 and json.loads(by_node["2"]["output"]) == {"output": "Hello, Ada!"}
    assert json.loads(by_node["2"]["input"]) == {"who": "Ada"}
    assert Workflow.get_by_id(int(workflow_id)).test_run_passed is True
    one = alice.get(
        f"/api/workflow_api/get_node_execute_history?workflow_id={workflow_id}&execute_id={execute_id}&node_id=2"
    ).json()["data"]
    assert one["nodeId"] == "2" and json.loads(one["output"]) == {"output": "Hello, Ada!"}
    latest = alice.get(f"/api/workflow_api/get_process?workflow_id={workflow_id}").json()["data"]
    assert latest["executeId"] == execute_id
    # publishing now needs no force
    response = alice.post("/api/workflow_api/publish", {"workflow_id": workflow_id})
    assert response.json()["data"]["success"] is True


def test_a_test_run_waits_for_an_answer_and_resumes(alice):
    workflow_id = create(alice, "asker")
    save(alice, workflow_id, asking())
    execute_id = alice.post(
        "/api/workflow_api/test_run", {"workflow_id": workflow_id, "input": {"name": "Ada"}}
    ).json()["data"]["execute_id"]
    data = process(alice, workflow_id, execute_id)
    assert data["executeStatus"] == RUN_INTERRUPTED, data
    [event] = data["nodeEvents"]
    assert event["type"] == 2 and event["node_id"] == "3"
    assert json.loads(event["data"])["messages"][0]["content"] == "How old is Ada?"
    body = {"workflow_id": workflow_id, "execute_id": execute_id, "event_id": "123", "data": "41"}
    assert_error(alice.post("/api/workflow_api/test_resume", body), 409, 720702021, "event_id")
    body["event_id"] = event["id"]
    assert alice.post("/api/workflow_api/test_resume", body).json()["code"] == 0
    data = process(alice, workflow_id, execute_id)
    assert data["executeStatus"] == RUN_SUCCEEDED, data
    assert json.loads(data["output"]) == {"content_type": 1, "data": "Ada is 41", "type_for_model": 2}
    assert data["nodeEvents"] == []
    assert_error(alice.post("/api/workflow_api/test_resume", body), 409, 720702021, "not waiting")


def test_cancel_a_waiting_run_and_others_cannot_see_it(alice, bob):
    workflow_id = create(alice, "asker")
    save(alice, workflow_id, asking())
    execute_id = alice.post(
        "/api/workflow_api/test_run", {"workflow_id": workflow_id, "input": {"name": "Ada"}}
    ).json()["data"]["execute_id"]
    assert process(alice, workflow_id, execute_id)["executeStatus"] == RUN_INTERRUPTED
    assert_error(bob.post("/api/workflow_api/cancel", {"execute_id": execute_id}), 404, 720702020)
    assert WorkflowRun.get_by_id(int(execute_id)).status == RUN_INTERRUPTED
    assert alice.post("/api/workflow_api/cancel", {"execute_id": execute_id}).json()["code"] == 0
    run = WorkflowRun.get_by_id(int(execute_id))
    assert (run.status, run.error_code) == (RUN_CANCELLED, 777777777)
    assert_error(alice.post("/api/workflow_api/cancel", {"execute_id": execute_id}), 409, 720702021)
    url = f"/api/workflow_api/get_process?workflow_id={workflow_id}&execute_id={execute_id}"
    assert_error(bob.get(url), 404, 720702004)


def test_a_failing_test_run_reports_the_node_and_its_error(alice):
    workflow_id = create(alice, "broken")
    bad = condition("2", (13, ref("100001", "name"), literal("3", "integer")))
    schema = {
        "nodes": [start(("name", "string")), bad, end_returning()],
        "edges": [edge("100001", "2"), edge("2", "900001", "true"), edge("2", "900001", "false")],
    }
    save(alice, workflow_id, schema)
    execute_id = alice.post(
        "/api/workflow_api/test_run", {"workflow_id": workflow_id, "input": {"name": "Ada"}}
    ).json()["data"]["execute_id"]
    data = process(alice, workflow_id, execute_id)
    assert data["executeStatus"] == RUN_FAILED and "'Ada' is not a number" in data["reason"]
    by_node = {n["nodeId"]: n for n in data["nodeResults"]}
    assert by_node["2"]["nodeStatus"] == 4 and "is not a number" in by_node["2"]["errorInfo"]
    assert Workflow.get_by_id(int(workflow_id)).test_run_passed is False


# --- the Open API ---------------------------------------------------------------------------------


def test_open_sync_run_and_its_history(alice):
    workflow_id = published(alice, greeting())
    response = alice.post("/v1/workflow/run", {"workflow_id": workflow_id, "parameters": {"name": "Bo"}})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["code"] == 0 and json.loads(body["data"]) == {"greeting": "Hello, Bo!"}
    assert "execute_id=" + body["execute_id"] in body["debug_url"]
    # parameters as JSON text work the same
    again = alice.post(
        "/v1/workflow/run", {"workflow_id": workflow_id, "parameters": '{"name": "Cy"}'}
    ).json()
    assert json.loads(again["data"]) == {"greeting": "Hello, Cy!"}
    history = alice.get(f"/v1/workflows/{workflow_id}/run_histories/{body['execute_id']}").json()["data"]
    assert history[0]["execute_status"] == "Success" and history[0]["run_mode"] == 0
    assert json.loads(history[0]["output"]) == {"greeting": "Hello, Bo!"}
    same = alice.get(
        f"/v1/workflow/get_run_history?workflow_id={workflow_id}&execute_id={body['execute_id']}"
    )
    assert same.json()["data"] == history


def test_open_async_run_is_polled(alice):
    workflow_id = published(alice, greeting())
    body = alice.post(
        "/v1/workflow/run", {"workflow_id": workflow_id, "parameters": {"name": "Di"}, "is_async": True}
    ).json()
    assert body["code"] == 0 and "data" not in body
    deadline = time.monotonic() + 20
    while True:
        history = alice.get(f"/v1/workflows/{workflow_id}/run_histories/{body['execute_id']}").json()["data"][
            0
        ]
        if history["execute_status"] != "Running" or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert history["execute_status"] == "Success" and history["run_mode"] == 2
    assert json.loads(history["output"]) == {"greeting": "Hello, Di!"}


def test_open_run_codes(alice, bob):
    draft_only = create(alice, "unpublished")
    assert_error(alice.post("/v1/workflow/run", {"workflow_id": draft_only}), 409, 6031, "not been published")
    asks = published(alice, asking(), "asks")
    response = alice.post("/v1/workflow/run", {"workflow_id": asks, "parameters": {"name": "Ada"}})
    assert_error(response, 409, 6039, "stream_run")
    run = (
        WorkflowRun.select().where(WorkflowRun.workflow == int(asks)).order_by(WorkflowRun.id.desc()).first()
    )
    assert (run.status, run.error_code) == (RUN_FAILED, 720702078)
    greeter = published(alice, greeting(), "greets")
    assert_error(
        alice.post("/v1/workflow/run", {"workflow_id": greeter, "parameters": "[1]"}), 400, 4000, "parameters"
    )
    assert_error(alice.post("/v1/workflow/run", {"workflow_id": greeter}), 400, 4000, "parameters.name")
    assert_error(
        alice.post("/v1/workflow/run", {"workflow_id": greeter, "version": "v9.9.9"}), 409, 6031, "v9.9.9"
    )
    assert_error(bob.post("/v1/workflow/run", {"workflow_id": greeter}), 404, 720702004)
    count = WorkflowRun.select().where(WorkflowRun.workflow == int(greeter)).count()
    assert_error(alice.post("/v1/workflow/run", {"workflow_id": greeter, "is_async": "yes"}), 400, 4000)
    assert WorkflowRun.select().where(WorkflowRun.workflow == int(greeter)).count() == count


def test_open_run_timeout_is_6023(alice, settings_override):
    workflow_id = published(alice, greeting(), "slowpoke")
    settings_override(workflow_timeout_seconds=0)
    response = alice.post("/v1/workflow/run", {"workflow_id": workflow_id, "parameters": {"name": "x"}})
    assert_error(response, 408, 6023, "did not finish")


def test_stream_run_interrupt_and_resume(alice):
    workflow_id = published(alice, asking(), "streamer")
    response = alice.post(
        "/v1/workflow/stream_run", {"workflow_id": workflow_id, "parameters": {"name": "Ada"}}
    )
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
    events = workflow_events(response.text)
    assert [e["event"] for e in events] == ["Interrupt", "Done"]
    interrupt = events[0]["data"]["interrupt_data"]
    assert (
        interrupt["type"] == 2
        and json.loads(interrupt["data"])["messages"][0]["content"] == "How old is Ada?"
    )
    execute_id = interrupt["event_id"].split("/")[0]
    body = {
        "workflow_id": workflow_id,
        "event_id": interrupt["event_id"],
        "resume_data": "41",
        "interrupt_type": 2,
    }
    resumed = workflow_events(alice.post("/v1/workflow/stream_resume", body).text)
    assert [e["event"] for e in resumed] == ["Message", "Message", "Done"]
    assert [e["data"]["content"] for e in resumed[:2]] == ["Noted: 41", "Ada is 41"]
    assert resumed[1]["data"]["node_title"] == "n900001" and resumed[1]["data"]["node_is_finish"] is True
    run = WorkflowRun.get_by_id(int(execute_id))
    assert run.status == RUN_SUCCEEDED and run.run_mode == 1
    assert_error(alice.post("/v1/workflow/stream_resume", body), 409, 720702021)


def test_a_failing_stream_ends_with_error_then_done(alice):
    schema = greeting()
    schema["nodes"][1]["data"]["inputs"]["method"] = "reverse"
    workflow_id = published(alice, schema, "failer")
    events = workflow_events(
        alice.post("/v1/workflow/stream_run", {"workflow_id": workflow_id, "parameters": {"name": "x"}}).text
    )
    assert [e["event"] for e in events] == ["Error", "Done"]
    assert (
        events[0]["data"]["error_code"] == 720701013
        and "concat or split" in events[0]["data"]["error_message"]
    )


def test_the_open_workflow_and_its_inputs(alice):
    workflow_id = published(alice, greeting(), "described")
    data = alice.get(f"/v1/workflows/{workflow_id}?include_input_output=true").json()["data"]
    assert data["workflow_detail"]["workflow_name"] == "described"
    assert data["input"]["parameters"]["name"]["type"] == "string"
    assert "greeting" in data["output"]["parameters"]


def _orphan(alice, name: str, schema: dict, mode: int, **fields) -> WorkflowRun:
    """A run whose process died (its worker row says a process elsewhere that stopped beating)."""
    from models.workers import WorkerInstance

    workflow_id = published(alice, schema, name)
    WorkerInstance.get_or_create(
        id=12345, defaults=dict(host="elsewhere", pid=1, kind="server", started_at=0, heartbeat_at=0)
    )
    return WorkflowRun.create(
        workflow=int(workflow_id),
        space_id=int(space_of(alice)),
        creator=Workflow.get_by_id(int(workflow_id)).creator_id,
        schema_json=json.dumps(schema),
        run_mode=mode,
        worker_id=12345,
        **fields,
    )


@pytest.mark.parametrize("mode", [0, 1])
def test_an_orphaned_sync_or_stream_run_is_failed_with_the_reason(alice, mode):
    from services import recovery

    run = _orphan(alice, f"orphan_{mode}", greeting(), mode)
    assert recovery.reap()["failed_workflow_runs"] >= 1
    run = WorkflowRun.get_by_id(run.id)
    assert run.status == RUN_FAILED and "server stopped" in run.error_msg


def test_an_orphaned_async_run_resumes_after_its_last_finished_node(alice):
    from services import recovery

    # the first pass finished Start and the text node ("2"), with an output only it could give
    done = {"100001": {"outputs": {"name": "Ada"}}, "2": {"outputs": {"output": "from the first pass"}}}
    run = _orphan(
        alice, "orphan_async", greeting(), 2, inputs={"name": "Ada"}, attempts=1, state={"done": done}
    )
    assert run.id in recovery.reap()["resumed_workflow_runs"]
    run = settled(run.id)
    assert run.status == RUN_SUCCEEDED and json.loads(run.output) == {"greeting": "from the first pass"}
    assert run.attempts == 2
    tired = _orphan(alice, "orphan_tired", greeting(), 2, inputs={"name": "Ada"}, attempts=3)
    recovery.reap()
    tired = WorkflowRun.get_by_id(tired.id)
    assert tired.status == RUN_FAILED and "3 times" in tired.error_msg


def code_node(node_id: str, code: str, outputs: list, **inputs) -> dict:
    return node(node_id, "5", {"code": code, "language": 3, **inputs}, outputs)


def test_a_code_node_runs_in_the_sandbox_and_its_failure_takes_the_exception_branch(alice):
    doubled = code_node(
        "2",
        "async def main(args: Args) -> Output:\n    return {'twice': args.params['n'] * 2, 'extra': 1}\n",
        [{"name": "twice", "type": "integer"}],
        inputParameters=[{"name": "n", "input": ref("100001", "n", "integer")}],
    )
    failing = code_node(
        "3",
        "import os\ndef main(args):\n    os.system('id')\n",
        [{"name": "never", "type": "string"}],
        settingOnError={"switch": True, "processType": 3},
    )
    schema = {
        "nodes": [
            start(("n", "integer")),
            doubled,
            failing,
            end_returning(
                twice=ref("2", "twice", "integer"),
                never=ref("3", "never"),
                caught=ref("3", "errorBody", "object"),
            ),
        ],
        "edges": [
            edge("100001", "2"),
            edge("2", "3"),
            edge("3", "900001"),
            edge("3", "900001", "branch_error"),
        ],
    }
    workflow_id = published(alice, schema, "coder")
    body = alice.post("/v1/workflow/run", {"workflow_id": workflow_id, "parameters": {"n": 21}}).json()
    output = json.loads(body["data"])
    assert output["twice"] == 42 and output["never"] is None
    assert output["caught"]["errorCode"] == 305000002 and "os.system" in output["caught"]["errorMessage"]


def chatflow() -> dict:
    ask = question(
        "3", "Which city, {{who}}?", inputParameters=[{"name": "who", "input": ref("100001", "USER_INPUT")}]
    )
    end = node(
        "900001",
        "2",
        {
            "terminatePlan": "useAnswerContent",
            "content": literal("Sunny in {{city}}"),
            "inputParameters": [{"name": "city", "input": ref("3", "USER_RESPONSE")}],
        },
    )
    return {
        "nodes": [start(("USER_INPUT", "string")), ask, end],
        "edges": [edge("100001", "3"), edge("3", "900001")],
    }


def chat_turn(account, workflow_id, text, conversation_id=None) -> list:
    from sse import parse, validate

    body = {
        "workflow_id": workflow_id,
        "additional_messages": [{"role": "user", "content": text, "content_type": "text"}],
    }
    if conversation_id:
        body["conversation_id"] = conversation_id
    response = account.post("/v1/workflows/chat", body)
    assert response.status_code == 200, response.text
    events = parse(response.text)
    validate(events, "ChatEvent")
    return events


def test_a_chatflow_chats_asks_and_goes_on_in_the_conversation(alice):
    workflow_id = published(alice, chatflow(), "weather_chat")
    first = chat_turn(alice, workflow_id, "Ada")
    assert [name for name, _ in first] == [
        "conversation.chat.created",
        "conversation.chat.in_progress",
        "conversation.message.delta",
        "conversation.message.completed",
        "conversation.chat.completed",
        "done",
    ]
    assert first[3][1]["content"] == "Which city, Ada?"
    conversation_id = first[0][1]["conversation_id"]
    second = chat_turn(alice, workflow_id, "Oslo", conversation_id)
    completed = [data for name, data in second if name == "conversation.message.completed"]
    assert completed[0]["content"] == "Sunny in Oslo" and second[0][1]["conversation_id"] == conversation_id
    run = WorkflowRun.get_by_id(int(first[0][1]["id"]))
    assert run.status == RUN_SUCCEEDED and run.state["conversation_id"] == conversation_id
    fresh = chat_turn(alice, workflow_id, "Bo")  # another conversation starts its own run
    assert [d["content"] for n, d in fresh if n == "conversation.message.completed"] == ["Which city, Bo?"]


def test_node_debug_runs_one_node_with_the_inputs_given(alice):
    workflow_id = create(alice, "debugged")
    save(alice, workflow_id, greeting())
    body = {"workflow_id": workflow_id, "node_id": "2", "input": {"who": "Zed"}}
    response = alice.post("/api/workflow_api/nodeDebug", body)
    assert response.status_code == 200, response.text
    data = process(alice, workflow_id, response.json()["data"]["execute_id"])
    assert data["executeStatus"] == RUN_SUCCEEDED and json.loads(data["output"]) == {"output": "Hello, Zed!"}
    by_node = {n["nodeId"]: n for n in data["nodeResults"]}
    assert json.loads(by_node["2"]["input"]) == {"who": "Zed"}
    assert Workflow.get_by_id(int(workflow_id)).test_run_passed is False  # one node is not the draft
    assert_error(
        alice.post("/api/workflow_api/nodeDebug", {**body, "node_id": "77"}), 400, 720702001, "node_id"
    )


def test_an_llm_streams_into_the_answer_after_it(alice):
    think = node(
        "2",
        "3",
        {
            "inputParameters": [{"name": "q", "input": ref("100001", "name")}],
            "llmParam": [
                {"name": "prompt", "input": literal("/echo one two three {{q}}")},
                {"name": "modelType", "input": literal("1", "integer")},
            ],
        },
        [{"name": "output", "type": "string"}],
    )
    end = node(
        "900001",
        "2",
        {
            "terminatePlan": "useAnswerContent",
            "streamingOutput": True,
            "content": literal("{{who}} says: {{said}}!"),
            "inputParameters": [
                {"name": "who", "input": ref("100001", "name")},
                {"name": "said", "input": ref("2", "output")},
            ],
        },
    )
    schema = {
        "nodes": [start(("name", "string")), think, end],
        "edges": [edge("100001", "2"), edge("2", "900001")],
    }
    workflow_id = published(alice, schema, "streamer_llm")
    response = alice.post(
        "/v1/workflow/stream_run", {"workflow_id": workflow_id, "parameters": {"name": "Ada"}}
    )
    messages = [e["data"] for e in workflow_events(response.text) if e["event"] == "Message"]
    assert len(messages) > 3  # the prefix, the model's pieces, then the rest
    assert "".join(m["content"] for m in messages) == "Ada says: one two three Ada!"
    assert messages[0]["content"] == "Ada says: " and messages[-1] == {
        **messages[-1],
        "content": "!",
        "node_is_finish": True,
    }
    assert all(m["node_id"] == "900001" and not m["node_is_finish"] for m in messages[:-1])
    sync = alice.post("/v1/workflow/run", {"workflow_id": workflow_id, "parameters": {"name": "Ada"}}).json()
    assert json.loads(sync["data"])["data"] == "Ada says: one two three Ada!"


def test_another_method_on_a_literal_path_a_template_also_matches_is_405(alice):
    response = alice.get("/v1/workflows/chat")  # GET /v1/workflows/{workflow_id} would take it
    assert_error(response, 405, 4205, "GET is not allowed")
    assert response.headers["allow"] == "POST"


def step(node_id: str, kind: str, outputs: list, **inputs) -> dict:
    """A node whose inputs are only inputParameters, by name."""
    return node(
        node_id, kind, {"inputParameters": [{"name": k, "input": v} for k, v in inputs.items()]}, outputs
    )


def test_conversation_and_message_nodes_in_a_chatflow(alice, bob):
    from models.workflow import ChatflowConversation, ChatflowMessage

    notes = literal("notes")
    nodes = [
        start(("USER_INPUT", "string")),
        step("2", "39", [{"name": "conversationId", "type": "string"}], conversationName=notes),
        step(
            "3",
            "55",
            [{"name": "message", "type": "object"}],
            conversationName=notes,
            role=literal("user"),
            content=ref("100001", "USER_INPUT"),
        ),
        step("4", "37", [{"name": "messageList", "type": "list"}], conversationName=notes),
        step("5", "54", [{"name": "messageList", "type": "list"}], rounds=literal(5, "integer")),
        step("6", "53", [{"name": "conversationList", "type": "list"}]),
        node(
            "900001",
            "2",
            {
                "terminatePlan": "useAnswerContent",
                "content": literal("{{kept}} kept || asked {{asked}} || lists {{lists}}"),
                "inputParameters": [
                    {"name": "kept", "input": ref("4", "messageList", "list")},
                    {"name": "asked", "input": ref("5", "messageList", "list")},
                    {"name": "lists", "input": ref("6", "conversationList", "list")},
                ],
            },
        ),
    ]
    ids = [n["id"] for n in nodes]
    schema = {"nodes": nodes, "edges": [edge(a, b) for a, b in zip(ids, ids[1:])]}
    workflow_id = published(alice, schema, "note_taker")
    first = chat_turn(alice, workflow_id, "buy milk")
    conversation_id = first[0][1]["conversation_id"]
    second = chat_turn(alice, workflow_id, "call mum", conversation_id)
    answer = [d["content"] for n, d in second if n == "conversation.message.completed"][0]
    kept, _, rest = answer.partition(" kept || asked ")
    asked, _, lists = rest.rpartition(" || lists ")  # the history holds the first answer, separators too
    assert [m["content"] for m in json.loads(kept)] == ["call mum", "buy milk"]
    history = json.loads(asked)
    assert (
        history[-1] == {"role": "user", "content": "call mum"}
        and {"role": "user", "content": "buy milk"} in history
    )
    names = {c["conversationName"] for c in json.loads(lists)}
    assert "notes" in names and len(names) == 2  # the chat's own and "notes", created once
    chat = ChatflowConversation.get_by_id(int(conversation_id))
    stored = [
        (m.role, m.content)
        for m in ChatflowMessage.select()
        .where(ChatflowMessage.conversation == chat.id)
        .order_by(ChatflowMessage.id)
    ]
    assert stored[:3] == [("user", "buy milk"), ("assistant", stored[1][1]), ("user", "call mum")]
    assert_error(
        bob.post(
            "/v1/workflows/chat",
            {"workflow_id": workflow_id, "additional_messages": [{"role": "user", "content": "x"}]},
        ),
        404,
        720702004,
    )
    mine = published(bob, schema, "note_taker")
    stolen = bob.post(
        "/v1/workflows/chat",
        {
            "workflow_id": mine,
            "conversation_id": conversation_id,
            "additional_messages": [{"role": "user", "content": "x"}],
        },
    )
    assert_error(stolen, 404, 103000002)  # alice's conversation is not bob's


def test_message_and_conversation_nodes_edit_delete_clear_and_rename(alice):
    from models.workflow import ChatflowConversation, ChatflowMessage

    box = literal("box")
    out = lambda name, kind="boolean": [{"name": name, "type": kind}]  # noqa: E731
    nodes = [
        start(),
        step("2", "39", out("conversationId", "string"), conversationName=box),
        *(
            step(
                node_id,
                "55",
                out("message", "object"),
                conversationName=box,
                role=literal(role),
                content=literal(text),
            )
            for node_id, role, text in (("3", "assistant", "v1"), ("4", "user", "gone"))
        ),
        step(
            "5",
            "56",
            out("isSuccess"),
            conversationName=box,
            messageId=ref("3", "message.messageId"),
            newContent=literal("v2"),
        ),
        step("6", "57", out("isSuccess"), conversationName=box, messageId=ref("4", "message.messageId")),
        step("7", "37", out("messageList", "list"), conversationName=box),
        step("8", "38", out("isSuccess"), conversationName=box),
        step("9", "51", out("isSuccess"), conversationName=box, newConversationName=literal("crate")),
        step("10", "52", out("isSuccess"), conversationName=literal("nothing here")),
        end_returning(
            listed=ref("7", "messageList", "list"),
            renamed=ref("9", "isSuccess", "boolean"),
            missing=ref("10", "isSuccess", "boolean"),
        ),
    ]
    ids = [n["id"] for n in nodes]
    workflow_id = published(
        alice, {"nodes": nodes, "edges": [edge(a, b) for a, b in zip(ids, ids[1:])]}, "boxes"
    )
    out_ = json.loads(alice.post("/v1/workflow/run", {"workflow_id": workflow_id}).json()["data"])
    assert [(m["role"], m["content"]) for m in out_["listed"]] == [("assistant", "v2")]
    assert out_["renamed"] is True and out_["missing"] is False
    crate = ChatflowConversation.get(
        ChatflowConversation.name == "crate", ChatflowConversation.creator == int(alice.user_id)
    )
    assert ChatflowMessage.select().where(ChatflowMessage.conversation == crate.id).count() == 0  # cleared


def test_a_test_run_runs_code_on_the_task_queue(alice):
    doubled = code_node(
        "2",
        "def main(args):\n    return {'twice': args.params['n'] * 2}\n",
        [{"name": "twice", "type": "integer"}],
        inputParameters=[{"name": "n", "input": ref("100001", "n", "integer")}],
    )
    schema = {
        "nodes": [start(("n", "integer")), doubled, end_returning(twice=ref("2", "twice", "integer"))],
        "edges": [edge("100001", "2"), edge("2", "900001")],
    }
    workflow_id = create(alice, "queued_code")
    save(alice, workflow_id, schema)
    execute_id = alice.post(
        "/api/workflow_api/test_run", {"workflow_id": workflow_id, "input": {"n": "4"}}
    ).json()["data"]["execute_id"]
    data = process(alice, workflow_id, execute_id)
    assert data["executeStatus"] == RUN_SUCCEEDED, data
    assert json.loads(data["output"]) == {"twice": 8}


def test_loops_batches_parallel_branches_and_default_outputs_through_http(alice):
    from test_workflow_nodes import batch_node, loop_schema, text

    loop_id = published(alice, loop_schema(), "http_loop")
    answer = alice.post(
        "/v1/workflow/run", {"workflow_id": loop_id, "parameters": {"words": ["a", "skip", "b", "stop", "c"]}}
    )
    assert json.loads(answer.json()["data"]) == {"last": "stop", "converted": ["new_a#0", "new_b#2"]}
    inner = text("11", "<{{x}}>", x=ref("10", "item"))
    batch = batch_node("10", ref("100001", "items", "list"), inner, ("said", "output"), 2)
    failing = code_node(
        "20",
        "def main(args):\n    raise ValueError('no')\n",
        [{"name": "x", "type": "string"}],
        settingOnError={"switch": True, "processType": 2, "dataOnErr": '{"x": "fallback"}'},
    )
    schema = {
        "nodes": [
            start(("items", "list")),
            batch,
            text("12", "left"),
            text("13", "right"),
            failing,
            end_returning(
                said=ref("10", "said", "list"),
                left=ref("12", "output"),
                right=ref("13", "output"),
                x=ref("20", "x"),
                error=ref("20", "errorBody", "object"),
            ),
        ],
        "edges": [
            edge("100001", "10"),
            edge("100001", "12"),
            edge("100001", "13"),
            edge("100001", "20"),
            edge("10", "900001", "batch-output"),
            edge("12", "900001"),
            edge("13", "900001"),
            edge("20", "900001"),
        ],
    }
    workflow_id = published(alice, schema, "http_batch")
    for mode in ("sync", "stream", "async"):
        body = {"workflow_id": workflow_id, "parameters": {"items": ["p", "q", "r"]}}
        if mode == "sync":
            output = json.loads(alice.post("/v1/workflow/run", body).json()["data"])
        elif mode == "stream":
            events = workflow_events(alice.post("/v1/workflow/stream_run", body).text)
            assert [e["event"] for e in events] == ["Done"]
            execute_id = events[0]["data"]["debug_url"].split("execute_id=")[1].split("&")[0]
            output = json.loads(WorkflowRun.get_by_id(int(execute_id)).output)
        else:
            execute_id = alice.post("/v1/workflow/run", {**body, "is_async": True}).json()["execute_id"]
            output = json.loads(settled(int(execute_id)).output)
        assert output["said"] == ["<p>", "<q>", "<r>"] and (output["left"], output["right"]) == (
            "left",
            "right",
        )
        assert output["x"] == "fallback" and "ValueError: no" in output["error"]["errorMessage"], mode


def test_questions_inside_a_batch_stream_and_resume_one_by_one(alice):
    from test_workflow_nodes import batch_node

    inner = question("11", "Name for {{x}}?", inputParameters=[{"name": "x", "input": ref("10", "item")}])
    batch = batch_node("10", ref("100001", "items", "list"), inner, ("names", "USER_RESPONSE"), 2)
    schema = {
        "nodes": [start(("items", "list")), batch, end_returning(names=ref("10", "names", "list"))],
        "edges": [edge("100001", "10"), edge("10", "900001", "batch-output")],
    }
    workflow_id = published(alice, schema, "batch_questions")
    body = {"workflow_id": workflow_id, "parameters": {"items": ["cat", "dog"]}}
    events = workflow_events(alice.post("/v1/workflow/stream_run", body).text)
    asked = {
        json.loads(e["data"]["interrupt_data"]["data"])["question"]: e["data"]["interrupt_data"]
        for e in events[:-1]
    }
    assert set(asked) == {"Name for cat?", "Name for dog?"}
    for question_text, name in (("Name for dog?", "Rex"), ("Name for cat?", "Tom")):
        resume = {
            "workflow_id": workflow_id,
            "event_id": asked[question_text]["event_id"],
            "resume_data": name,
            "interrupt_type": 2,
        }
        events = workflow_events(alice.post("/v1/workflow/stream_resume", resume).text)
    assert [e["event"] for e in events] == ["Done"]
    execute_id = events[0]["data"]["debug_url"].split("execute_id=")[1].split("&")[0]
    assert json.loads(WorkflowRun.get_by_id(int(execute_id)).output) == {"names": ["Tom", "Rex"]}


def test_json_nodes_and_an_input_form_through_a_stream_with_pings(alice, monkeypatch):
    from test_workflow_nodes import json_round_trip

    from handlers import workflow_run

    monkeypatch.setattr(workflow_run, "PING_SECONDS", 0.2)
    nodes = [
        start(("person", "object")),
        *json_round_trip(ref("100001", "person", "object")),
        node("4", "30", {"outputSchema": "[]"}, [{"name": "city", "type": "string", "required": True}]),
        code_node("5", "import time\ndef main(args):\n    time.sleep(0.7)\n    return {}\n", []),
        end_returning(back=ref("3", "output", "object"), city=ref("4", "city")),
    ]
    ids = [n["id"] for n in nodes]
    workflow_id = published(
        alice, {"nodes": nodes, "edges": [edge(a, b) for a, b in zip(ids, ids[1:])]}, "json_form"
    )
    body = {"workflow_id": workflow_id, "parameters": {"person": {"name": "Ada"}}}
    events = workflow_events(alice.post("/v1/workflow/stream_run", body).text)
    assert [e["event"] for e in events] == ["Interrupt", "Done"]
    interrupt = events[0]["data"]["interrupt_data"]
    assert interrupt["type"] == 5
    resume = {
        "workflow_id": workflow_id,
        "event_id": interrupt["event_id"],
        "resume_data": '{"city": "Oslo"}',
        "interrupt_type": 5,
    }
    events = workflow_events(alice.post("/v1/workflow/stream_resume", resume).text)
    assert "PING" in [e["event"] for e in events] and events[-1]["event"] == "Done"  # the code sleeps
    execute_id = interrupt["event_id"].split("/")[0]
    assert json.loads(WorkflowRun.get_by_id(int(execute_id)).output) == {
        "back": {"name": "Ada"},
        "city": "Oslo",
    }


def test_cancel_a_running_test_run_stops_it_and_reading_a_node_it_never_ran_is_404(alice):
    slow = code_node(
        "2",
        "import time\ndef main(args):\n    time.sleep(5)\n    return {'x': 'late'}\n",
        [{"name": "x", "type": "string"}],
    )
    schema = {
        "nodes": [start(), slow, end_returning(x=ref("2", "x"))],
        "edges": [edge("100001", "2"), edge("2", "900001")],
    }
    workflow_id = create(alice, "slow_run")
    save(alice, workflow_id, schema)
    execute_id = alice.post("/api/workflow_api/test_run", {"workflow_id": workflow_id}).json()["data"][
        "execute_id"
    ]
    deadline = time.monotonic() + 10
    while WorkflowRun.get_by_id(int(execute_id)).nodes.get("2", {}).get("status") != "running":
        assert time.monotonic() < deadline, "the code node never started"
        time.sleep(0.05)
    began = time.monotonic()
    assert alice.post("/api/workflow_api/cancel", {"execute_id": execute_id}).json()["code"] == 0
    run = settled(int(execute_id))
    assert run.status == RUN_CANCELLED and run.output == "" and time.monotonic() - began < 4
    time.sleep(0.3)  # the run's task has ended: nothing it does afterwards overwrites the cancel
    assert WorkflowRun.get_by_id(int(execute_id)).status == RUN_CANCELLED
    url = f"/api/workflow_api/get_node_execute_history?workflow_id={workflow_id}&execute_id={execute_id}"
    assert_error(alice.get(url + "&node_id=900001"), 404, 720702020, "no result for node 900001")
    body = {"workflow_id": workflow_id, "space_id": space_of(alice), "type": 0, "execute_id": execute_id}
    ran = alice.post("/api/workflow_api/history_schema", body).json()["data"]
    assert json.loads(ran["schema"]) == schema and ran["execute_id"] == execute_id


def test_a_chat_with_an_unknown_workflow_is_not_found_before_its_parameters_are_read(alice):
    body = {
        "workflow_id": "67126231",
        "parameters": "not json",
        "additional_messages": [{"role": "user", "content": "Hi", "content_type": "text"}],
    }
    assert_error(alice.post("/v1/workflows/chat", body), 404, 720702004, "67126231")
