"""The official SDKs, unmodified, against a real server with a personal access token: workflows
run (sync and async, polled through the run history), streamed, interrupted by a question and
resumed (cozepy and @coze/api `workflows.runs`)."""

from __future__ import annotations

import json
import time

import httpx
import pytest
from conftest import needs_js_sdk, run_js_sdk
from cozepy import ChatEventType, CozeAPIError, Message, WorkflowEventType
from test_workflow_runs import asking, chatflow, greeting


def _published(base: str, pat: str, name: str, schema: dict, flow_mode: int = 0) -> str:
    headers = {"Authorization": f"Bearer {pat}"}
    space = httpx.get(f"{base}/v1/workspaces", headers=headers).json()["data"]["workspaces"][0]["id"]
    created = httpx.post(
        f"{base}/api/workflow_api/create",
        json={"space_id": space, "name": name, "desc": "sdk", "flow_mode": flow_mode},
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
def flows(live_server, pat) -> tuple[str, str, str]:
    return (
        _published(live_server, pat, "sdk_greeting", greeting()),
        _published(live_server, pat, "sdk_asking", asking()),
        _published(live_server, pat, "sdk_chatflow", chatflow(), flow_mode=3),
    )


def test_cozepy_runs_sync_and_async(coze, flows):
    greeting_id = flows[0]
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
    asking_id = flows[1]
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
    greeting_id = flows[0]
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
    assert seen["chatted"] == ["Which city, Js?"]


def test_cozepy_chats_with_a_chatflow(coze, flows):
    chatflow_id = flows[2]
    message = Message.build_user_question_text("Py")
    events = list(coze.workflows.chat.stream(workflow_id=chatflow_id, additional_messages=[message]))
    kinds = [e.event for e in events]
    assert (
        kinds[0] == ChatEventType.CONVERSATION_CHAT_CREATED
        and ChatEventType.CONVERSATION_CHAT_COMPLETED in kinds
    )
    asked = [e.message.content for e in events if e.event == ChatEventType.CONVERSATION_MESSAGE_COMPLETED]
    assert asked == ["Which city, Py?"]
    conversation_id = events[0].chat.conversation_id
    answer = Message.build_user_question_text("Lima")
    events = list(
        coze.workflows.chat.stream(
            workflow_id=chatflow_id, additional_messages=[answer], conversation_id=conversation_id
        )
    )
    said = [e.message.content for e in events if e.event == ChatEventType.CONVERSATION_MESSAGE_COMPLETED]
    assert said == ["Sunny in Lima"]


def test_cozepy_lists_workflows_and_versions(coze, flows, live_server, pat):
    greeting_id = flows[0]
    listed = [w.workflow_id for w in coze.workflows.list(publish_status="published_online").items]
    assert set(flows) <= set(listed)
    chatflows = [w.workflow_id for w in coze.workflows.list(workflow_mode="chatflow").items]
    assert flows[2] in chatflows and greeting_id not in chatflows
    headers = {"Authorization": f"Bearer {pat}"}
    again = httpx.post(
        f"{live_server}/api/workflow_api/publish",
        json={
            "workflow_id": greeting_id,
            "workflow_version": "v2.0.0",
            "version_description": "second",
            "force": True,
        },
        headers=headers,
    )
    assert again.json()["code"] == 0, again.text
    pages = coze.workflows.versions.list(workflow_id=greeting_id, page_size=1)
    versions = [v.version for v in pages]  # every page, through next_page_token
    assert versions[:2] == ["v2.0.0", "v1.0.0"] and pages.items[0].description == "second"
