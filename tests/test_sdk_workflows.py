"""The official SDKs, unmodified, against a real server with a personal access token: workflows
run (sync and async, polled through the run history), streamed, interrupted by a question and
resumed (cozepy and @coze/api `workflows.runs`)."""

from __future__ import annotations

import json
import time

import httpx
import pytest
from conftest import needs_js_sdk, run_js_sdk
from cozepy import CozeAPIError, WorkflowEventType
from test_workflow_runs import asking, greeting


def _published(base: str, pat: str, name: str, schema: dict) -> str:
    headers = {"Authorization": f"Bearer {pat}"}
    space = httpx.get(f"{base}/v1/workspaces", headers=headers).json()["data"]["workspaces"][0]["id"]
    created = httpx.post(
        f"{base}/api/workflow_api/create",
        json={"space_id": space, "name": name, "desc": "sdk"},
        headers=headers,
    ).json()["data"]["workflow_id"]
    saved = httpx.post(
        f"{base}/api/workflow_api/save",
        json={"workflow_id": created, "schema": json.dumps(schema)},
        headers=headers,
    )
    assert saved.json()["code"] == 0, saved.text
    published = httpx.post(
        f"{base}/api/workflow_api/publish", json={"workflow_id": created, "force": True}, headers=headers
    )
    assert published.json()["code"] == 0, published.text
    return created


@pytest.fixture(scope="module")
def flows(live_server, pat) -> tuple[str, str]:
    return _published(live_server, pat, "sdk_greeting", greeting()), _published(
        live_server, pat, "sdk_asking", asking()
    )


def test_cozepy_runs_sync_and_async(coze, flows):
    greeting_id, _ = flows
    result = coze.workflows.runs.create(workflow_id=greeting_id, parameters={"name": "Py"})
    assert json.loads(result.data) == {"greeting": "Hello, Py!"} and result.execute_id in result.debug_url
    started = coze.workflows.runs.create(workflow_id=greeting_id, parameters={"name": "Later"}, is_async=True)
    deadline = time.monotonic() + 20
    while True:
        history = coze.workflows.runs.run_histories.retrieve(
            workflow_id=greeting_id, execute_id=started.execute_id
        )
        if history.execute_status != "Running" or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert history.execute_status == "Success" and json.loads(history.output) == {"greeting": "Hello, Later!"}
    assert history.run_mode == 2 and history.error_code == 0


def test_cozepy_streams_an_interrupt_and_resumes_it(coze, flows):
    _, asking_id = flows
    events = list(coze.workflows.runs.stream(workflow_id=asking_id, parameters={"name": "Py"}))
    assert [e.event for e in events] == [WorkflowEventType.INTERRUPT]  # cozepy swallows Done
    interrupt = events[0].interrupt
    assert interrupt.interrupt_data.type == 2 and interrupt.node_title == "n3"
    resumed = list(
        coze.workflows.runs.resume(
            workflow_id=asking_id,
            event_id=interrupt.interrupt_data.event_id,
            resume_data="30",
            interrupt_type=interrupt.interrupt_data.type,
        )
    )
    assert [e.message.content for e in resumed] == ["Noted: 30", "Py is 30"]
    with pytest.raises(CozeAPIError) as refused:
        coze.workflows.runs.create(workflow_id=asking_id, parameters={"name": "Py"})
    assert refused.value.code == 6039


def test_cozepy_retrieves_the_workflow(coze, flows):
    greeting_id, _ = flows
    found = coze.workflows.retrieve(workflow_id=greeting_id)
    assert found.workflow_detail.workflow_name == "sdk_greeting"


@needs_js_sdk
def test_coze_js_workflows(live_server, pat, flows):
    seen = run_js_sdk("workflows.mjs", live_server, pat, *flows)
    assert seen["sync"] == {"greeting": "Hello, Js!"}
    assert seen["async"] == ["Success", {"greeting": "Hello, Later!"}]
    assert seen["streamed"] == ["Interrupt", "Done"]
    assert seen["resumed"] == ["Noted: 7", "Js is 7", "Done"]
    assert seen["sync_interrupt"] == {"code": 6039, "status": 409}
