"""The SDKs codegen/sdks.py generates from openapi.yaml (Python, TypeScript, Go), each built and then
used against a live server: log in, create an agent, publish it, stream a chat, retrieve it, list,
delete, and a refusal read from the envelope."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from conftest import ADMIN_EMAIL, ADMIN_PASSWORD

from core.settings import REPO_ROOT

pytestmark = pytest.mark.clients  # the spec's clients; .ci/run runs them on SQLite only

ANSWER = "This is the built-in offline model, which answers without an LLM. You said: “{}”"


@pytest.fixture(scope="module")
def built(sdks_built) -> dict:
    return sdks_built


@pytest.fixture(scope="module")
def python_sdk(built):
    sys.path.insert(0, str(built["python"]))
    try:
        import cozeplus_sdk
        import cozeplus_sdk.streaming

        yield cozeplus_sdk
    finally:
        sys.path.remove(str(built["python"]))
        for name in [name for name in sys.modules if name.split(".")[0] == "cozeplus_sdk"]:
            del sys.modules[name]


def assert_scenario(seen: dict, question: str) -> None:
    """What each language's scenario reports, held to the same account."""
    assert "unexpected_error" not in seen, seen["unexpected_error"]
    bot_id = seen["created"]["bot_id"]
    assert bot_id.isdigit() and seen["published_version"] != "1"
    events = seen["events"]
    assert events[:2] == ["conversation.chat.created", "conversation.chat.in_progress"]
    assert events[-2:] == ["conversation.chat.completed", "done"]
    assert events.count("conversation.message.delta") > 1  # streamed in pieces, not one body
    assert seen["answer"] == seen["completed"] == ANSWER.format(question)
    assert seen["chat"]["status"] == "completed" and seen["retrieved_status"] == "completed"
    assert bot_id in seen["listed"]
    assert seen["delete_code"] == 0
    assert seen["after_delete"] == {"status": 404, "code": 100000002}
    assert seen["refused"]["status"] == 404 and seen["refused"]["code"] == 108000009  # not your space


def test_the_python_sdk(python_sdk, live_server):
    sdk = python_sdk
    from cozeplus_sdk.streaming import stream_chat

    seen: dict = {}
    question = "Hello from the Python SDK"
    config = sdk.Configuration(host=live_server)
    with sdk.ApiClient(config) as client:
        credentials = sdk.LoginRequest(email=ADMIN_EMAIL, password=ADMIN_PASSWORD)
        login = sdk.PassportApi(client).email_login(credentials)
        assert isinstance(login, sdk.LoginResult)
        config.access_token = login.data.token
        space_id = sdk.SpaceApi(client).list_workspaces().data.workspaces[0].id
        agents = sdk.AgentApi(client)
        created = agents.open_create_bot(
            sdk.OpenBotCreateRequest(space_id=sdk.IdInput(space_id), name="Python SDK agent")
        )
        bot_id = created.data.bot_id
        seen["created"] = {"bot_id": bot_id, "name": created.data.name}
        assert created.data.name == "Python SDK agent"
        published = agents.open_publish_bot(
            sdk.OpenPublishBotRequest.from_dict({"bot_id": bot_id, "connector_ids": ["1024"]})
        )
        seen["published_version"] = published.data.version

        request = sdk.ChatRequest(
            bot_id=sdk.IdInput(bot_id),
            user_id="python-sdk",
            additional_messages=[sdk.AdditionalMessage(role="user", content=question, content_type="text")],
        )
        events, answer, completed, chat = [], "", None, None
        for event in stream_chat(sdk.ChatApi(client), request):
            events.append(event.event)
            if event.event == "conversation.message.delta":
                answer += sdk.OpenMessage.from_dict(event.data).content
            elif event.event == "conversation.message.completed" and event.data["type"] == "answer":
                completed = event.data["content"]
            elif event.event == "conversation.chat.completed":
                chat = sdk.Chat.from_dict(event.data)
        assert event.data == "[DONE]"
        seen.update(events=events, answer=answer, completed=completed)
        seen["chat"] = {"id": chat.id, "status": chat.status}
        retrieved = sdk.ChatApi(client).retrieve_chat(conversation_id=chat.conversation_id, chat_id=chat.id)
        seen["retrieved_status"] = retrieved.data.status
        assert retrieved.data.usage.output_count > 0

        seen["listed"] = [item.id for item in agents.open_list_bots(workspace_id=space_id).data.items]
        seen["delete_code"] = agents.delete_bot(sdk.BotIdRequest(bot_id=sdk.IdInput(bot_id))).code
        with pytest.raises(sdk.ApiException) as gone:
            agents.open_get_bot(bot_id=bot_id)
        seen["after_delete"] = {"status": gone.value.status, "code": json.loads(gone.value.body)["code"]}
        with pytest.raises(sdk.ApiException) as refused:
            agents.open_create_bot(sdk.OpenBotCreateRequest(space_id=sdk.IdInput("123"), name="Nowhere"))
        seen["refused"] = {"status": refused.value.status, "code": json.loads(refused.value.body)["code"]}
    assert_scenario(seen, question)


def test_the_python_sdk_raises_a_refused_stream(python_sdk, live_server):
    sdk = python_sdk
    from cozeplus_sdk.streaming import stream_chat

    with sdk.ApiClient(sdk.Configuration(host=live_server, access_token="not-a-token")) as client:
        request = sdk.ChatRequest.from_dict(
            {"bot_id": "1", "user_id": "u", "additional_messages": [{"role": "user", "content": "hi"}]}
        )
        with pytest.raises(sdk.ApiException) as refused:
            list(stream_chat(sdk.ChatApi(client), request))
    assert refused.value.status == 401 and json.loads(refused.value.body)["code"] == 700012006  # bad token


def test_the_typescript_sdk(built, live_server):
    result = subprocess.run(
        ["node", "tests/sdk/generated.mjs", live_server, ADMIN_EMAIL, ADMIN_PASSWORD],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert_scenario(seen, "Hello from the TypeScript SDK")
    assert seen["created"]["name"] == "TypeScript SDK agent"
    assert seen["refused"]["msg"] == "space_id: space 123 not found"


def test_the_go_sdk(built, live_server):
    env = {**os.environ, "GOPROXY": "off", "GOFLAGS": "-mod=mod"}
    result = subprocess.run(
        ["go", "run", ".", live_server, ADMIN_EMAIL, ADMIN_PASSWORD],
        cwd=REPO_ROOT / "tests" / "sdk" / "go",
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert_scenario(seen, "Hello from the Go SDK")
    assert seen["created"]["name"] == "Go SDK agent"


def test_operations_are_grouped_by_tag_with_their_operation_ids(built):
    """Every operation of the spec is a method of its tag's class in each SDK."""
    import yaml

    spec = yaml.safe_load((REPO_ROOT / "openapi.yaml").read_text())
    operations = [
        (op["tags"][0], op["operationId"])
        for item in spec["paths"].values()
        for op in item.values()
        if isinstance(op, dict) and "operationId" in op
    ]
    camel = lambda name: name.split("_")[0] + "".join(p.title() for p in name.split("_")[1:])  # noqa: E731
    pascal = lambda name: "".join(p.title() for p in name.split("_"))  # noqa: E731
    typescript = (built["typescript"] / "src" / "sdk.gen.ts").read_text()
    missing = []
    for tag, operation in operations:
        python = (built["python"] / "cozeplus_sdk" / "api" / f"{tag}_api.py").read_text()
        if f"    def {operation}(" not in python:
            missing.append(("python", tag, operation))
        go = (built["go"] / f"api_{tag}.go").read_text()
        if f"func (a *{pascal(tag)}APIService) {pascal(operation)}(" not in go:
            missing.append(("go", tag, operation))
        block = typescript.split(f"export class {pascal(tag)}Api ", 1)[-1].split("\nexport class ", 1)[0]
        if f"public static {camel(operation)}<" not in block:
            missing.append(("typescript", tag, operation))
    assert len(operations) > 250 and not missing, missing
