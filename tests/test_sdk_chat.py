"""The official SDKs, unmodified, against a real server: streaming chat, create_and_poll, chat
messages, conversations and messages, cancel, tool outputs, bad tokens. Also what only a real
server shows: a client that goes away stops its run and the upstream model call."""

from __future__ import annotations

import json
import time

import httpx
import pytest
from conftest import live_login, needs_js_sdk, run_js_sdk
from cozepy import (
    ChatEventType,
    ChatStatus,
    Coze,
    CozeAPIError,
    Message,
    MessageContentType,
    MessageRole,
    TokenAuth,
    ToolOutput,
)

from tests.fake_openai import FakeModel, ServerThread


@pytest.fixture(scope="module")
def admin_token(live_server) -> str:
    return live_login(live_server)


def published_agent(coze: Coze, **model_info) -> str:
    space_id = coze.workspaces.list().items[0].id
    bot = coze.bots.create(space_id=space_id, name="SDK chat agent")
    if model_info:
        from cozepy import BotModelInfo

        coze.bots.update(bot_id=bot.bot_id, model_info_config=BotModelInfo(**model_info))
    coze.bots.publish(bot_id=bot.bot_id)
    return bot.bot_id


@pytest.fixture(scope="module")
def agent(coze) -> str:
    return published_agent(coze)


def test_cozepy_stream_deltas_join_to_the_completed_message(coze, agent):
    deltas, completed, chats = [], [], []
    for event in coze.chat.stream(
        bot_id=agent,
        user_id="sdk-user",
        additional_messages=[Message.build_user_question_text("Hello from cozepy")],
    ):
        if event.event == ChatEventType.CONVERSATION_MESSAGE_DELTA:
            deltas.append(event.message)
        elif event.event == ChatEventType.CONVERSATION_MESSAGE_COMPLETED:
            completed.append(event.message)
        elif event.chat is not None:
            chats.append(event.chat)
    answer = next(m for m in completed if m.type == "answer")
    assert len(deltas) > 3 and "".join(d.content for d in deltas) == answer.content
    assert "Hello from cozepy" in answer.content
    assert [c.status for c in chats] == [ChatStatus.CREATED, ChatStatus.IN_PROGRESS, ChatStatus.COMPLETED]
    assert chats[-1].usage.token_count > 0


def test_cozepy_create_and_poll_and_list_messages(coze, agent):
    poll = coze.chat.create_and_poll(
        bot_id=agent,
        user_id="sdk-user",
        additional_messages=[Message.build_user_question_text("/echo polled")],
    )
    assert poll.chat.status == ChatStatus.COMPLETED
    assert [m.content for m in poll.messages if m.type == "answer"] == ["polled"]
    listed = coze.chat.messages.list(conversation_id=poll.chat.conversation_id, chat_id=poll.chat.id)
    assert [m.type for m in listed][:2] == ["answer", "verbose"]
    retrieved = coze.chat.retrieve(conversation_id=poll.chat.conversation_id, chat_id=poll.chat.id)
    assert retrieved.status == ChatStatus.COMPLETED and retrieved.completed_at


def test_cozepy_cancel_a_running_chat(coze, agent):
    chat = coze.chat.create(
        bot_id=agent,
        user_id="sdk-user",
        additional_messages=[Message.build_user_question_text("/slow 100\na slow answer")],
    )
    assert chat.status == ChatStatus.IN_PROGRESS
    cancelled = coze.chat.cancel(conversation_id=chat.conversation_id, chat_id=chat.id)
    assert cancelled.status == ChatStatus.CANCELED
    with pytest.raises(CozeAPIError) as again:
        coze.chat.cancel(conversation_id=chat.conversation_id, chat_id=chat.id)
    assert again.value.code == 4104


def test_cozepy_submit_tool_outputs(coze, agent):
    events = list(
        coze.chat.stream(
            bot_id=agent,
            user_id="sdk-user",
            additional_messages=[Message.build_user_question_text('/call weather {"city": "Paris"}')],
        )
    )
    action = events[-1].chat
    assert events[-1].event == ChatEventType.CONVERSATION_CHAT_REQUIRES_ACTION
    call = action.required_action.submit_tool_outputs.tool_calls[0]
    assert call.function.name == "weather" and json.loads(call.function.arguments) == {"city": "Paris"}
    resumed = list(
        coze.chat.submit_tool_outputs(
            conversation_id=action.conversation_id,
            chat_id=action.id,
            tool_outputs=[ToolOutput(tool_call_id=call.id, output="sunny")],
            stream=True,
        )
    )
    answers = [
        e.message.content
        for e in resumed
        if e.event == ChatEventType.CONVERSATION_MESSAGE_COMPLETED and e.message.type == "answer"
    ]
    assert answers == ["The tool weather returned: sunny"]


def test_cozepy_conversations_and_messages(coze, agent):
    conversation = coze.conversations.create(
        bot_id=agent, messages=[Message.build_user_question_text("first")], meta_data={"via": "cozepy"}
    )
    assert conversation.meta_data == {"via": "cozepy"} and conversation.last_section_id
    assert conversation.id in [c.id for c in coze.conversations.list(bot_id=agent).items]
    assert coze.conversations.retrieve(conversation_id=conversation.id).id == conversation.id
    renamed = coze.conversations.update(conversation_id=conversation.id, name="cozepy conversation")
    assert renamed.name == "cozepy conversation"
    section = coze.conversations.clear(conversation_id=conversation.id)
    assert section.conversation_id == conversation.id and section.id != conversation.last_section_id
    created = [
        coze.conversations.messages.create(
            conversation_id=conversation.id,
            role=MessageRole.USER,
            content=f"m{i}",
            content_type=MessageContentType.TEXT,
        )
        for i in range(3)
    ]
    everything = list(coze.conversations.messages.list(conversation_id=conversation.id, limit=2))
    assert [m.content for m in everything] == ["m2", "m1", "m0", "first"]  # pages until has_more is false
    got = coze.conversations.messages.retrieve(conversation_id=conversation.id, message_id=created[0].id)
    assert got.content == "m0"
    updated = coze.conversations.messages.update(
        conversation_id=conversation.id, message_id=created[0].id, content="m0 edited"
    )
    assert updated.content == "m0 edited"
    deleted = coze.conversations.messages.delete(conversation_id=conversation.id, message_id=created[1].id)
    assert deleted.id == created[1].id
    assert [m.content for m in coze.conversations.messages.list(conversation_id=conversation.id)] == [
        "m2",
        "m0 edited",
        "first",
    ]
    coze.conversations.delete(conversation_id=conversation.id)
    with pytest.raises(CozeAPIError) as gone:
        coze.conversations.retrieve(conversation_id=conversation.id)
    assert gone.value.code == 103000002


def test_cozepy_bad_token(live_server, agent):
    with pytest.raises(CozeAPIError) as bad:
        Coze(auth=TokenAuth("pat_" + "1" * 64), base_url=live_server).chat.create(
            bot_id=agent, user_id="x", additional_messages=[Message.build_user_question_text("hi")]
        )
    assert bad.value.code == 700012006


@needs_js_sdk
def test_coze_js_chat(live_server, pat, agent):
    seen = run_js_sdk("chat.mjs", live_server, pat, agent)
    assert seen["joined"] == seen["completed"] and "Hello from JS" in seen["completed"]
    assert seen["events"][0] == "conversation.chat.created" and seen["events"][-1] == "done"
    assert seen["polled_status"] == "completed" and seen["polled_answer"] == "polled by js"
    assert seen["chat_messages"][0] == "answer"
    assert seen["conversation_listed"] and seen["conversation_retrieved"] and seen["cleared_section"]
    assert seen["messages"] == ["js 2", "js 1"] and seen["message_retrieved"] == "js 1"
    assert seen["message_updated"] == "js 1 edited" and seen["message_deleted"] is True
    assert seen["cancelled"] == "canceled"
    assert seen["bad_token"]["status"] == 401 and seen["bad_token"]["name"] == "AuthenticationError"


# --- streaming engineering on a real server -------------------------------------------------


def _read_events(response, count: int) -> list[str]:
    seen = []
    for line in response.iter_lines():
        if line.startswith("event:"):
            seen.append(line[6:])
            if len(seen) >= count:
                break
    return seen


def test_a_client_that_leaves_stops_the_run_and_the_model_call(live_server, admin_token, coze):
    with ServerThread(FakeModel(delay_ms=100)) as fake:
        model = httpx.post(
            f"{live_server}/api/admin/config/model/create",
            headers={"Authorization": f"Bearer {admin_token}"},
            json={"name": "Slow fake", "model_name": "slow", "base_url": fake.base_url},
        ).json()["data"]["model"]
        bot_id = published_agent(coze, model_id=model["id"])
        headers = {"Authorization": f"Bearer {admin_token}"}
        body = {
            "bot_id": bot_id,
            "user_id": "leaver",
            "stream": True,
            "additional_messages": [
                {"role": "user", "content": " ".join(["word"] * 100), "content_type": "text"}
            ],
        }
        with httpx.Client(timeout=30) as client:
            with client.stream("POST", f"{live_server}/v3/chat", json=body, headers=headers) as response:
                seen = _read_events(response, 5)
            assert seen[:2] == ["conversation.chat.created", "conversation.chat.in_progress"]
        left_at = time.monotonic()
        conversation = next(c for c in coze.conversations.list(bot_id=bot_id).items)
        messages = httpx.post(
            f"{live_server}/v1/conversation/message/list?conversation_id={conversation.id}",
            headers=headers,
            json={},
        ).json()
        chat_id = messages["data"][0]["chat_id"]
        status = None
        while time.monotonic() - left_at < 3:
            status = coze.chat.retrieve(conversation_id=conversation.id, chat_id=chat_id).status
            if status == ChatStatus.CANCELED:
                break
            time.sleep(0.05)
        stopped_after = time.monotonic() - left_at
        assert status == ChatStatus.CANCELED and stopped_after < 1.0, (status, stopped_after)
        deadline = time.monotonic() + 2
        while fake.model.aborted < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert fake.model.aborted == 1 and fake.model.completed == 0  # the upstream call was closed too
        answer = [
            m
            for m in httpx.post(
                f"{live_server}/v1/conversation/message/list?conversation_id={conversation.id}",
                headers=headers,
                json={},
            ).json()["data"]
            if m["type"] == "answer"
        ]
        assert answer and answer[0]["status"] == "broken" and answer[0]["content"].startswith("fake: word")
