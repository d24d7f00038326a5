"""The chat runtime through HTTP: the console's SSE chat, /v3/chat (stream and poll), tools,
requires_action, failures, cancellation, history and sections, and the real provider path
against a local OpenAI-compatible server."""

from __future__ import annotations

import asyncio
import base64
import json
import threading
import time

import pytest
import sse
from conftest import assert_error

from models.conversation import ChatRun, Conversation, Message
from services import chat_runs, llm, model_registry, tools
from tests.fake_openai import MODEL_HOST, FakeModel, ServerThread, free_port


def new_agent(account, *, publish: bool = True, **bot_info) -> str:
    response = account.post("/api/draftbot/create", json={"name": "Chat agent"})
    bot_id = response.json()["data"]["bot_id"]
    if bot_info:
        response = account.post(
            "/api/playground_api/draftbot/update_draft_bot_info",
            json={"bot_info": {"bot_id": bot_id, **bot_info}},
        )
        assert response.json()["code"] == 0, response.text
    if publish:
        response = account.post("/v1/bot/publish", json={"bot_id": bot_id, "connector_ids": ["1024"]})
        assert response.json()["code"] == 0, response.text
    return bot_id


def web_chat(account, bot_id, query, **extra):
    response = account.post("/api/conversation/chat", json={"bot_id": bot_id, "query": query, **extra})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/event-stream")
    events = sse.parse(response.text)
    sse.validate(events, "WebChatEvent")
    return events


def chat_body(bot_id, text, *, stream=True, context=(), **extra) -> dict:
    """A /v3/chat body: the end user's message after any context messages."""
    messages = [*context, {"role": "user", "content": text, "content_type": "text"}]
    return {
        "bot_id": bot_id,
        "user_id": "end-user-1",
        "stream": stream,
        "additional_messages": messages,
        **extra,
    }


def open_chat(account, bot_id, text, *, stream=True, conversation_id=None, context=(), **extra):
    path = "/v3/chat" + (f"?conversation_id={conversation_id}" if conversation_id else "")
    response = account.post(path, json=chat_body(bot_id, text, stream=stream, context=context, **extra))
    if not stream:
        return response
    assert response.status_code == 200, response.text
    events = sse.parse(response.text)
    sse.validate(events, "ChatEvent")
    return events


def messages_of(events, kind: str) -> list[dict]:
    return [data for name, data in events if name == kind]


def final_chat(events) -> dict:
    chats = [d for name, d in events if name.startswith("conversation.chat.")]
    return chats[-1]


def wait_for(
    account, conversation_id, chat_id, statuses=("completed", "failed", "requires_action", "canceled")
):
    deadline = time.time() + 10
    while time.time() < deadline:
        chat = account.post(f"/v3/chat/retrieve?conversation_id={conversation_id}&chat_id={chat_id}").json()[
            "data"
        ]
        if chat["status"] in statuses:
            return chat
        time.sleep(0.05)
    raise AssertionError(f"chat {chat_id} stayed {chat['status']}")


@pytest.fixture(scope="module")
def fake_server(app):
    with ServerThread(FakeModel()) as server:
        yield server


@pytest.fixture(scope="module")
def fake_model_id(fake_server) -> str:
    model = model_registry.create(
        name="Fake OpenAI",
        model_name="fake-1",
        base_url=fake_server.base_url,
        api_key="sk-fake-key-123456",
        capabilities={"tool_call": True},
    )
    return str(model.id)


@pytest.fixture
def weather_tool():
    calls = []

    async def run(arguments, context):
        calls.append((arguments, context.bot_id))
        return json.dumps({"city": arguments.get("city"), "forecast": "sunny"})

    def provider(config):
        return [
            tools.Tool(
                name="weather",
                description="The weather in a city",
                parameters={"type": "object", "properties": {"city": {"type": "string"}}},
                run=run,
            )
        ]

    tools.register_provider(provider)
    yield calls
    tools.unregister_provider(provider)


class TestWebChat:
    def test_the_seed_step_streams_an_offline_answer_with_no_configuration(self, alice):
        bot_id = new_agent(alice, publish=False)
        events = web_chat(alice, bot_id, "Hello", conversation_id="0")
        kinds = [(name, data.get("message", {}).get("type"), data.get("is_finish")) for name, data in events]
        assert kinds[0] == ("message", "ack", True)
        deltas = [
            d for n, d in events if n == "message" and d["message"]["type"] == "answer" and not d["is_finish"]
        ]
        assert len(deltas) > 3
        final = [
            d for n, d in events if n == "message" and d["message"]["type"] == "answer" and d["is_finish"]
        ]
        assert len(final) == 1 and final[0]["message"]["content"] == ""
        assert int(final[0]["message"]["extra_info"]["output_tokens"]) > 0
        after = [t for t in kinds if t[1] in ("verbose", "follow_up")]
        assert after[0][1] == "verbose" and [t[1] for t in after[1:]] == ["follow_up"] * 3
        assert kinds[-1][0] == "done"
        verbose = json.loads(
            next(d for n, d in events if d.get("message", {}).get("type") == "verbose")["message"]["content"]
        )
        assert verbose["msg_type"] == "generate_answer_finish"
        # the deltas join to the stored answer, which replies to the echoed question
        text = "".join(d["message"]["content"] for d in deltas)
        assert "offline model" in text and "Hello" in text
        stored = Message.get_by_id(int(final[0]["message"]["message_id"]))
        assert stored.content == text and stored.reply_id == int(events[0][1]["message"]["message_id"])
        run = ChatRun.get_by_id(stored.run_id)
        assert run.status == "completed" and run.bot_version is None  # the draft ran

    def test_turns_page_by_cursor_in_both_directions(self, alice):
        bot_id = new_agent(alice, publish=False, suggest_reply_info={"suggest_reply_mode": 2})
        for index in range(5):
            web_chat(alice, bot_id, f"/echo turn {index}")
        latest = alice.post(
            "/api/conversation/get_message_list",
            json={"bot_id": bot_id, "scene": 4, "cursor": "0", "count": 2},
        ).json()["data"]
        listed = [(m["type"], m["content"]) for m in latest["message_list"] if m["type"] != "verbose"]
        assert listed == [
            ("answer", "turn 4"),
            ("question", "/echo turn 4"),
            ("answer", "turn 3"),
            ("question", "/echo turn 3"),
        ]
        assert latest["hasmore"] is True and latest["next_has_more"] is False
        older = alice.post(
            "/api/conversation/get_message_list",
            json={"bot_id": bot_id, "cursor": latest["cursor"], "count": 2, "load_direction": 1},
        ).json()["data"]
        assert [m["content"] for m in older["message_list"] if m["role"] == "user"] == [
            "/echo turn 2",
            "/echo turn 1",
        ]
        assert older["hasmore"] is True and older["next_has_more"] is True
        newer = alice.post(
            "/api/conversation/get_message_list",
            json={"bot_id": bot_id, "cursor": older["cursor"], "count": 10, "load_direction": 2},
        ).json()["data"]
        assert [m["content"] for m in newer["message_list"] if m["role"] == "user"] == [
            "/echo turn 4",
            "/echo turn 3",
            "/echo turn 2",
        ]
        assert newer["next_has_more"] is False and newer["hasmore"] is True
        answers = [m for m in latest["message_list"] if m["type"] == "answer"]
        assert answers[0]["content"] == "turn 4" and answers[0]["sender_id"] == bot_id

    def test_sections_limit_the_context_and_history_rounds(self, alice, fake_server, fake_model_id):
        bot_id = new_agent(
            alice,
            publish=False,
            model_info={"model_id": fake_model_id, "short_memory_policy": {"history_round": 1}},
            prompt_info={"prompt": "You help {{name}}."},
            suggest_reply_info={"suggest_reply_mode": 2},
        )
        for question in ("one", "two", "three"):
            web_chat(alice, bot_id, question, custom_variables={"name": "Ada"})
        sent = fake_server.model.requests[-1]["messages"]
        assert sent[0] == {"role": "system", "content": "You help Ada."}
        assert [m["content"] for m in sent[1:]] == ["two", "fake: two", "three"]  # one round of history
        conversation_id = events_conversation(web_chat(alice, bot_id, "four"))
        response = alice.post("/api/conversation/create_section", json={"conversation_id": conversation_id})
        section = response.json()["data"]["new_section_id"]
        assert Conversation.get_by_id(int(conversation_id)).last_section_id == int(section)
        web_chat(alice, bot_id, "five")
        sent = fake_server.model.requests[-1]["messages"]
        assert [m["content"] for m in sent[1:]] == ["five"]
        listed = alice.post(
            "/api/conversation/get_message_list", json={"bot_id": bot_id, "count": 50}
        ).json()["data"]
        assert (
            len([m for m in listed["message_list"] if m["role"] == "user"]) == 5
        )  # earlier turns stay visible

    def test_clear_history_replaces_the_conversation(self, alice):
        bot_id = new_agent(alice, publish=False)
        conversation_id = events_conversation(web_chat(alice, bot_id, "/echo hi"))
        response = alice.post(
            "/api/conversation/clear_message", json={"conversation_id": conversation_id, "scene": 4}
        )
        fresh = response.json()["data"]["conversation_id"]
        assert (
            fresh != conversation_id
            and Conversation.get_or_none(Conversation.id == int(conversation_id)) is None
        )
        assert Message.select().where(Message.conversation == int(conversation_id)).count() == 0
        listed = alice.post("/api/conversation/get_message_list", json={"bot_id": bot_id}).json()["data"]
        assert listed["conversation_id"] == fresh and listed["message_list"] == []

    def test_delete_message_deletes_the_whole_turn(self, alice):
        bot_id = new_agent(alice, publish=False)
        first = web_chat(alice, bot_id, "/echo keep")
        second = web_chat(alice, bot_id, "/echo drop")
        conversation_id = events_conversation(second)
        question_id = second[0][1]["message"]["message_id"]
        response = alice.post(
            "/api/conversation/delete_message",
            json={"conversation_id": conversation_id, "message_id": question_id},
        )
        assert response.json()["code"] == 0
        left = [
            m.content
            for m in Message.select().where(Message.conversation == int(conversation_id))
            if m.type in ("question", "answer")
        ]
        assert sorted(left) == ["/echo keep", "keep"]
        kept_question = int(first[0][1]["message"]["message_id"])
        assert Message.get_by_id(kept_question).content == "/echo keep"  # the first turn is untouched

    def test_regenerate_replaces_a_turn(self, alice):
        bot_id = new_agent(alice, publish=False)
        events = web_chat(alice, bot_id, "/echo first answer")
        conversation_id = events_conversation(events)
        answer_id = next(
            d["message"]["message_id"] for n, d in events if d.get("message", {}).get("type") == "answer"
        )
        again = web_chat(alice, bot_id, "/echo second answer", regen_message_id=answer_id)
        assert Message.get_or_none(Message.id == int(answer_id)) is None
        answers = [
            m.content
            for m in Message.select().where(
                (Message.conversation == int(conversation_id)) & (Message.type == "answer")
            )
        ]
        assert answers == ["second answer"] and again[-1][0] == "done"

    def test_break_message_keeps_the_answer_cut_where_the_user_stopped(self, alice):
        bot_id = new_agent(alice, publish=False)
        events = web_chat(alice, bot_id, "/echo a long answer to cut")
        conversation_id = events_conversation(events)
        question_id = events[0][1]["message"]["message_id"]
        answer_id = next(
            d["message"]["message_id"] for n, d in events if d.get("message", {}).get("type") == "answer"
        )
        response = alice.post(
            "/api/conversation/break_message",
            json={
                "conversation_id": conversation_id,
                "query_message_id": question_id,
                "answer_message_id": answer_id,
                "broken_pos": 6,
            },
        )
        assert response.json()["code"] == 0, response.text
        stored = Message.get_by_id(int(answer_id))
        assert (stored.content, stored.status, stored.broken_pos) == ("a long", "broken", 6)
        listed = alice.post("/api/conversation/get_message_list", json={"bot_id": bot_id}).json()["data"]
        shown = next(m for m in listed["message_list"] if m["message_id"] == answer_id)
        assert shown["status"] == "broken" and shown["broken_pos"] == 6

    def test_a_failing_model_ends_with_an_error_answer(self, alice):
        bot_id = new_agent(alice, publish=False)
        events = web_chat(alice, bot_id, "/fail the provider is down")
        last_answer = [d for n, d in events if n == "message" and d["message"]["type"] == "answer"][-1]
        assert last_answer["message"]["content"] == "Something error: the model failed: the provider is down"
        assert events[-1][0] == "done"
        run = ChatRun.get_by_id(int(last_answer["message"]["message_id"]))
        assert run.status == "failed" and run.last_error["code"] == 103100001

    def test_published_mode_needs_a_publication(self, alice):
        bot_id = new_agent(alice, publish=False)
        response = alice.post(
            "/api/conversation/chat", json={"bot_id": bot_id, "query": "hi", "draft_mode": False, "scene": 0}
        )
        assert_error(response, 404, 103100002, "has not been published")

    def test_bad_input_changes_nothing(self, alice, bob):
        bot_id = new_agent(alice, publish=False)
        before = Message.select().count()
        assert_error(
            alice.post(
                "/api/conversation/chat",
                json={"bot_id": bot_id, "query": "hi", "conversation_id": "your-conversation-id"},
            ),
            400,
            103000000,
            "conversation_id",
        )
        assert_error(
            alice.post(
                "/api/conversation/chat", json={"bot_id": bot_id, "query": "{oops", "content_type": "image"}
            ),
            400,
            103000000,
            "query",
        )
        assert_error(alice.post("/api/conversation/chat", json={"bot_id": bot_id}), 400, 103000000, "query")
        assert_error(
            bob.post("/api/conversation/chat", json={"bot_id": bot_id, "query": "hi"}), 404, 100000002
        )
        assert Message.select().count() == before


def events_conversation(events) -> str:
    return events[0][1]["conversation_id"]


class TestOpenChat:
    def test_stream_events_in_order_and_deltas_join(self, alice):
        bot_id = new_agent(alice)
        events = open_chat(alice, bot_id, "/reason thinking first\nWhat is Coze?")
        names = [n for n, _ in events]
        assert names[:2] == ["conversation.chat.created", "conversation.chat.in_progress"]
        assert names[-2:] == ["conversation.chat.completed", "done"] and events[-1][1] == "[DONE]"
        deltas = messages_of(events, "conversation.message.delta")
        completed = messages_of(events, "conversation.message.completed")
        answer = next(m for m in completed if m["type"] == "answer")
        assert "".join(d["content"] for d in deltas if d["id"] == answer["id"]) == answer["content"]
        assert (
            "".join(d["reasoning_content"] for d in deltas) == answer["reasoning_content"] == "thinking first"
        )
        assert [m["type"] for m in completed] == ["answer", "verbose", "follow_up", "follow_up", "follow_up"]
        chat = final_chat(events)
        assert (
            chat["usage"]["token_count"] == chat["usage"]["input_count"] + chat["usage"]["output_count"] > 0
        )
        run = ChatRun.get_by_id(int(chat["id"]))
        assert run.status == "completed" and run.end_user == "end-user-1" and run.bot_version is not None

    def test_non_stream_then_poll_and_list(self, alice):
        bot_id = new_agent(alice)
        response = open_chat(alice, bot_id, "/echo polled answer", stream=False)
        chat = response.json()["data"]
        assert response.headers["content-type"] == "application/json" and chat["status"] == "in_progress"
        done = wait_for(alice, chat["conversation_id"], chat["id"])
        assert done["status"] == "completed" and done["completed_at"] >= done["created_at"]
        listed = alice.get(
            f"/v3/chat/message/list?conversation_id={chat['conversation_id']}&chat_id={chat['id']}"
        )
        messages = listed.json()["data"]
        assert messages[0]["type"] == "answer" and messages[0]["content"] == "polled answer"
        assert all(m["chat_id"] == chat["id"] and m["role"] == "assistant" for m in messages)
        get = alice.get(f"/v3/chat/retrieve?conversation_id={chat['conversation_id']}&chat_id={chat['id']}")
        assert get.json()["data"]["status"] == "completed"

    def test_context_messages_and_conversation_continuation(self, alice, fake_server, fake_model_id):
        bot_id = new_agent(
            alice, model_info={"model_id": fake_model_id}, suggest_reply_info={"suggest_reply_mode": 2}
        )
        context = [
            {"role": "user", "content": "My name is Ada.", "content_type": "text"},
            {
                "role": "assistant",
                "content": "Hello Ada.",
                "content_type": "text",
                "meta_data": None,
                "id": None,
                "chat_id": None,
            },
        ]
        events = open_chat(alice, bot_id, "What is my name?", context=context)
        conversation_id = final_chat(events)["conversation_id"]
        assert [m["content"] for m in fake_server.model.requests[-1]["messages"]] == [
            "My name is Ada.",
            "Hello Ada.",
            "What is my name?",
        ]
        open_chat(alice, bot_id, "And again?", conversation_id=conversation_id)
        assert [m["content"] for m in fake_server.model.requests[-1]["messages"]] == [
            "My name is Ada.",
            "Hello Ada.",
            "What is my name?",
            "fake: What is my name?",
            "And again?",
        ]

    def test_auto_save_history_false_keeps_nothing(self, alice):
        bot_id = new_agent(alice)
        events = open_chat(alice, bot_id, "/echo secret", auto_save_history=False)
        chat = final_chat(events)
        assert chat["status"] == "completed"
        assert Message.select().where(Message.run == int(chat["id"])).count() == 0
        response = open_chat(alice, bot_id, "/echo x", stream=False, auto_save_history=False)
        assert_error(response, 400, 103000000, "auto_save_history")

    def test_failure_is_a_failed_chat(self, alice):
        bot_id = new_agent(alice)
        chat = final_chat(open_chat(alice, bot_id, "/fail boom"))
        assert chat["status"] == "failed" and chat["last_error"] == {
            "code": 103100001,
            "msg": "the model failed: boom",
        }
        assert chat["failed_at"] > 0

    def test_server_tools_run_in_a_loop(self, alice, weather_tool):
        bot_id = new_agent(alice)
        events = open_chat(alice, bot_id, '/call weather {"city": "Paris"}')
        completed = messages_of(events, "conversation.message.completed")
        assert [m["type"] for m in completed[:3]] == ["function_call", "tool_response", "answer"]
        call = json.loads(completed[0]["content"])
        assert call["function"] == {"name": "weather", "arguments": '{"city": "Paris"}'}
        assert json.loads(completed[1]["content"]) == {"city": "Paris", "forecast": "sunny"}
        assert completed[2]["content"] == 'The tool weather returned: {"city": "Paris", "forecast": "sunny"}'
        assert weather_tool == [({"city": "Paris"}, int(bot_id))]
        stored = [
            m.type
            for m in Message.select().where(Message.run == int(final_chat(events)["id"])).order_by(Message.id)
        ]
        assert stored[:4] == ["question", "function_call", "tool_response", "answer"]

    def test_requires_action_then_submit_tool_outputs_resumes(self, alice):
        bot_id = new_agent(alice)
        events = open_chat(alice, bot_id, '/call lookup {"q": "x"}')
        chat = final_chat(events)
        assert [n for n, _ in events][-2:] == ["conversation.chat.requires_action", "done"]
        call = chat["required_action"]["submit_tool_outputs"]["tool_calls"][0]
        assert call["function"]["name"] == "lookup" and call["type"] == "function"
        path = f"/v3/chat/submit_tool_outputs?conversation_id={chat['conversation_id']}&chat_id={chat['id']}"
        assert_error(
            alice.post(path, json={"tool_outputs": [{"tool_call_id": "nope", "output": "1"}]}),
            400,
            103000000,
            "missing",
            "unknown nope",
        )
        response = alice.post(
            path, json={"tool_outputs": [{"tool_call_id": call["id"], "output": "42"}], "stream": True}
        )
        resumed = sse.parse(response.text)
        sse.validate(resumed, "ChatEvent")
        answer = next(
            m for m in messages_of(resumed, "conversation.message.completed") if m["type"] == "answer"
        )
        assert answer["content"] == "The tool lookup returned: 42"
        assert final_chat(resumed)["status"] == "completed"
        assert_error(
            alice.post(path, json={"tool_outputs": [{"tool_call_id": call["id"], "output": "42"}]}),
            409,
            103200006,
            "completed",
        )
        types = [m.type for m in Message.select().where(Message.run == int(chat["id"])).order_by(Message.id)]
        assert types[:4] == ["question", "function_call", "tool_response", "answer"]

    def test_cancel_stops_a_running_chat(self, alice):
        bot_id = new_agent(alice)
        chat = open_chat(alice, bot_id, "/slow 50\nplease answer slowly", stream=False).json()["data"]
        time.sleep(0.4)
        response = alice.post(
            "/v3/chat/cancel", json={"conversation_id": chat["conversation_id"], "chat_id": chat["id"]}
        )
        assert response.json()["data"]["status"] == "canceled", response.text
        answer = Message.get((Message.run == int(chat["id"])) & (Message.type == "answer"))
        assert answer.status == "broken" and 0 < len(answer.content) < 60
        assert_error(
            alice.post(
                "/v3/chat/cancel", json={"conversation_id": chat["conversation_id"], "chat_id": chat["id"]}
            ),
            409,
            4104,
            "canceled",
        )

    def test_cancel_after_the_answer_is_saved_keeps_it_whole(self, alice, monkeypatch):
        """A cancel landing while follow-ups are asked for must not save the answer a second time."""
        asked = threading.Event()

        async def slow_follow_ups(model, messages, answer):
            asked.set()
            await asyncio.sleep(5)
            return []

        monkeypatch.setattr(llm, "follow_ups", slow_follow_ups)
        bot_id = new_agent(alice)
        chat = open_chat(alice, bot_id, "/echo whole", stream=False).json()["data"]
        assert asked.wait(5)
        live = chat_runs._live[int(chat["id"])]
        response = alice.post(
            "/v3/chat/cancel", json={"conversation_id": chat["conversation_id"], "chat_id": chat["id"]}
        )
        assert response.json()["data"]["status"] == "canceled", response.text
        assert wait_for(alice, chat["conversation_id"], chat["id"])["status"] == "canceled"
        answers = list(Message.select().where((Message.run == int(chat["id"])) & (Message.type == "answer")))
        assert [(a.status, a.content) for a in answers] == [("available", "whole")]
        assert live.task.done() and live.task.exception() is None

    def test_unpublished_and_foreign_agents_and_conversations(self, alice, bob):
        draft_only = new_agent(alice, publish=False)
        assert_error(open_chat(alice, draft_only, "hi", stream=False), 404, 103100002, "/v1/bot/publish")
        bot_id = new_agent(alice)
        assert_error(open_chat(bob, bot_id, "hi", stream=False), 404, 100000002)
        chat = final_chat(open_chat(alice, bot_id, "/echo mine"))
        assert_error(
            open_chat(bob, new_agent(bob), "hi", stream=False, conversation_id=chat["conversation_id"]),
            404,
            103000002,
        )
        other = new_agent(alice)
        assert_error(
            open_chat(alice, other, "hi", stream=False, conversation_id=chat["conversation_id"]),
            400,
            103000000,
            "another agent",
        )
        query = f"?conversation_id={chat['conversation_id']}&chat_id={chat['id']}"
        assert_error(bob.post("/v3/chat/retrieve" + query), 404, 103000002)
        assert_error(bob.get("/v3/chat/message/list" + query), 404, 103000002)
        assert_error(
            bob.post(
                "/v3/chat/cancel", json={"conversation_id": chat["conversation_id"], "chat_id": chat["id"]}
            ),
            404,
            103000002,
        )
        response = alice.post(
            "/v3/chat",
            json={
                "bot_id": bot_id,
                "user_id": "u",
                "additional_messages": [{"role": "assistant", "content": "I speak last"}],
            },
        )
        assert_error(response, 400, 103000000, "last message")


class TestRealProvider:
    def test_streams_from_an_openai_compatible_server(self, alice, fake_server, fake_model_id):
        bot_id = new_agent(
            alice,
            model_info={"model_id": fake_model_id, "temperature": 0.1},
            suggest_reply_info={"suggest_reply_mode": 2},
        )
        events = open_chat(alice, bot_id, "hello real model")
        answer = next(
            m for m in messages_of(events, "conversation.message.completed") if m["type"] == "answer"
        )
        assert answer["content"] == "fake: hello real model"
        request = fake_server.model.requests[-1]
        assert request["model"] == "fake-1" and request["temperature"] == 0.1 and request["stream"] is True
        assert final_chat(events)["usage"] == {"token_count": 15, "output_count": 4, "input_count": 11}

    def test_follow_up_questions_come_from_the_model(self, alice, fake_server, fake_model_id):
        from services.llm import FOLLOW_UP_PROMPT

        bot_id = new_agent(alice, model_info={"model_id": fake_model_id})  # suggestions on (the default)
        events = open_chat(alice, bot_id, "plan a trip")
        follow_ups = [
            m["content"]
            for m in messages_of(events, "conversation.message.completed")
            if m["type"] == "follow_up"
        ]
        assert follow_ups == [f"fake: {FOLLOW_UP_PROMPT}"]  # the fake model repeats what it was asked
        asked = fake_server.model.requests[-1]["messages"]
        assert (
            asked[-2] == {"role": "assistant", "content": "fake: plan a trip"}
            and asked[-1]["content"] == FOLLOW_UP_PROMPT
        )

    def test_tool_call_from_the_provider_requires_action(self, alice, fake_server, fake_model_id):
        bot_id = new_agent(alice, model_info={"model_id": fake_model_id})
        chat = final_chat(open_chat(alice, bot_id, 'tool:get_time:{"zone": "UTC"}'))
        call = chat["required_action"]["submit_tool_outputs"]["tool_calls"][0]
        assert (call["id"], call["function"]["name"], json.loads(call["function"]["arguments"])) == (
            "call_fake_1",
            "get_time",
            {"zone": "UTC"},
        )
        path = f"/v3/chat/submit_tool_outputs?conversation_id={chat['conversation_id']}&chat_id={chat['id']}"
        response = alice.post(
            path, json={"tool_outputs": [{"tool_call_id": "call_fake_1", "output": "12:00"}], "stream": False}
        )
        assert response.json()["data"]["status"] == "in_progress"
        done = wait_for(alice, chat["conversation_id"], chat["id"])
        assert done["status"] == "completed"
        resumed = fake_server.model.requests[-2]["messages"]  # the last request asked for follow-ups
        assert resumed[-2]["tool_calls"][0]["id"] == "call_fake_1"
        assert resumed[-1] == {"role": "tool", "tool_call_id": "call_fake_1", "content": "12:00"}

    def test_unreachable_provider_fails_the_chat_clearly(self, alice):
        model = model_registry.create(
            name="Nowhere", model_name="x", base_url=f"http://{MODEL_HOST}:{free_port()}/v1"
        )
        bot_id = new_agent(alice, model_info={"model_id": str(model.id)})
        chat = final_chat(open_chat(alice, bot_id, "hello"))
        assert chat["status"] == "failed" and "unreachable" in chat["last_error"]["msg"]


class TestStreamDetails:
    def test_the_console_stream_sends_keep_alive_comments_on_silence(self, alice, monkeypatch):
        import handlers.chat

        monkeypatch.setattr(handlers.chat, "WEB_KEEPALIVE_SECONDS", 0.05)
        bot_id = new_agent(alice, publish=False, suggest_reply_info={"suggest_reply_mode": 2})
        response = alice.post(
            "/api/conversation/chat", json={"bot_id": bot_id, "query": "/slow 200\n/echo a b"}
        )
        assert ": keep-alive\n\n" in response.text
        events = sse.parse(response.text)
        assert (
            "".join(
                d["message"]["content"]
                for n, d in events
                if n == "message" and d["message"]["type"] == "answer"
            )
            == "a b"
        )

    def test_multimodal_questions_carry_uploaded_files(self, alice, bob, fake_server, fake_model_id):
        bot_id = new_agent(
            alice, model_info={"model_id": fake_model_id}, suggest_reply_info={"suggest_reply_mode": 2}
        )
        uploaded = alice.post("/v1/files/upload", files={"file": ("notes.txt", b"hello notes", "text/plain")})
        file_id = uploaded.json()["data"]["id"]
        content = json.dumps(
            [{"type": "text", "text": "What is in the file?"}, {"type": "file", "file_id": file_id}]
        )
        events = open_chat(
            alice,
            bot_id,
            "",
            context=(),
            stream=True,
            additional_messages=[{"role": "user", "content": content, "content_type": "object_string"}],
        )
        assert final_chat(events)["status"] == "completed"
        sent = fake_server.model.requests[-1]["messages"][-1]["content"]
        assert sent[0] == {"type": "text", "text": "What is in the file?"}
        assert sent[1] == {"type": "text", "text": "[file notes.txt]\nhello notes"}  # text files go inline
        bad = json.dumps([{"type": "file", "file_id": "123"}])
        response = alice.post(
            "/v3/chat",
            json={
                "bot_id": bot_id,
                "user_id": "u",
                "additional_messages": [{"role": "user", "content": bad, "content_type": "object_string"}],
            },
        )
        assert_error(response, 400, 103000000, "file 123 not found")
        theirs = bob.post("/v1/files/upload", files={"file": ("b.txt", b"bob's", "text/plain")}).json()[
            "data"
        ]["id"]
        response = alice.post(
            "/v3/chat",
            json={
                "bot_id": bot_id,
                "user_id": "u",
                "additional_messages": [
                    {
                        "role": "user",
                        "content": json.dumps([{"type": "file", "file_id": theirs}]),
                        "content_type": "object_string",
                    }
                ],
            },
        )
        assert_error(response, 400, 103000000, f"file {theirs} not found")

    def test_another_users_file_never_reaches_the_prompt_through_history(
        self, alice, bob, fake_server, fake_model_id
    ):
        """Writing it into history is refused; a row that names it anyway (stored before the
        check) is read back as the conversation owner's, so the file stays out of the prompt."""
        from models.conversation import Message

        bot_id = new_agent(
            alice, model_info={"model_id": fake_model_id}, suggest_reply_info={"suggest_reply_mode": 2}
        )
        theirs = bob.post(
            "/v1/files/upload", files={"file": ("secret.txt", b"bob's vault code 4711", "text/plain")}
        ).json()["data"]["id"]
        content = json.dumps([{"type": "text", "text": "remember this"}, {"type": "file", "file_id": theirs}])
        conversation = alice.post("/v1/conversation/create", json={"bot_id": bot_id}).json()["data"]["id"]
        for path, body in (
            (
                f"/v1/conversation/message/create?conversation_id={conversation}",
                {"role": "user", "content": content, "content_type": "object_string"},
            ),
            (
                "/v1/conversation/create",
                {
                    "bot_id": bot_id,
                    "messages": [{"role": "user", "content": content, "content_type": "object_string"}],
                },
            ),
        ):
            assert_error(alice.post(path, json=body), 400, 103000000, f"file {theirs} not found")
        assert Message.select().where(Message.conversation == int(conversation)).count() == 0
        mine = alice.post(
            f"/v1/conversation/message/create?conversation_id={conversation}",
            json={"role": "user", "content": "hello", "content_type": "text"},
        ).json()["data"]["id"]
        assert_error(
            alice.post(
                f"/v1/conversation/message/modify?conversation_id={conversation}&message_id={mine}",
                json={"content": content, "content_type": "object_string"},
            ),
            400,
            103000000,
            theirs,
        )
        Message.update(content=content, content_type="object_string").where(Message.id == int(mine)).execute()
        events = open_chat(alice, bot_id, "What did I tell you?", conversation_id=conversation)
        assert final_chat(events)["status"] == "completed"
        prompt = json.dumps(fake_server.model.requests[-1]["messages"])
        assert "4711" not in prompt and "What did I tell you?" in prompt

    def test_console_multimodal_item_list(self, alice, fake_server, fake_model_id):
        bot_id = new_agent(
            alice,
            publish=False,
            model_info={"model_id": fake_model_id},
            suggest_reply_info={"suggest_reply_mode": 2},
        )
        file_id = alice.post("/v1/files/upload", files={"file": ("pic.png", PNG, "image/png")}).json()[
            "data"
        ]["id"]
        query = json.dumps(
            {
                "item_list": [
                    {"type": "text", "text": "Describe it"},
                    {"type": "image", "image": {"key": f"file:{file_id}"}},
                ],
                "refer_items": [],
            }
        )
        events = web_chat(alice, bot_id, query, content_type="mix")
        assert events[0][1]["message"]["content"] == query  # the question is kept as sent
        sent = fake_server.model.requests[-1]["messages"][-1]["content"]
        assert sent[0] == {"type": "text", "text": "Describe it"}
        assert sent[1] == {"type": "text", "text": "[image pic.png]"}  # a model that cannot see gets the name
        vision = model_registry.create(
            name="Seeing fake",
            model_name="fake-v",
            base_url=fake_server.base_url,
            capabilities={"vision": True},
        )
        alice.post(
            "/api/playground_api/draftbot/update_draft_bot_info",
            json={"bot_info": {"bot_id": bot_id, "model_info": {"model_id": str(vision.id)}}},
        )
        web_chat(alice, bot_id, query, content_type="mix")
        seen = fake_server.model.requests[-1]["messages"][-1]["content"][1]
        assert seen == {
            "type": "image_url",
            "image_url": {"url": "data:image/png;base64," + base64.b64encode(PNG).decode()},
        }


PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)


class TestPromisedOptions:
    def test_console_shows_requires_action_as_an_interrupt(self, alice):
        bot_id = new_agent(alice, publish=False)
        events = web_chat(alice, bot_id, '/call lookup {"q": "x"}')
        verbose = [
            json.loads(d["message"]["content"])
            for n, d in events
            if n == "message" and d["message"]["type"] == "verbose"
        ]
        assert [v["msg_type"] for v in verbose] == ["interrupt"]
        action = json.loads(verbose[0]["data"])["required_action"]
        assert action["submit_tool_outputs"]["tool_calls"][0]["function"]["name"] == "lookup"
        run = ChatRun.get_by_id(Message.get_by_id(int(events[0][1]["message"]["message_id"])).run_id)
        assert run.status == "requires_action" and run.required_action == action

    def test_chat_sdk_connector_model_override_and_meta_data(self, alice, fake_server, fake_model_id):
        bot_id = new_agent(alice, publish=False)
        alice.post("/v1/bot/publish", json={"bot_id": bot_id, "connector_ids": ["999"]})
        assert_error(open_chat(alice, bot_id, "hi", stream=False), 404, 103100002, "connector 1024")
        before = len(fake_server.model.requests)
        events = open_chat(
            alice,
            bot_id,
            "over there",
            connector_id="999",
            meta_data={"order": "42"},
            custom_config={"model_config": {"model_id": fake_model_id}},
        )
        chat = final_chat(events)
        assert chat["meta_data"] == {"order": "42"}
        answer = next(
            m for m in messages_of(events, "conversation.message.completed") if m["type"] == "answer"
        )
        assert answer["content"] == "fake: over there" and len(fake_server.model.requests) > before
        conversation = Conversation.get_by_id(int(chat["conversation_id"]))
        assert conversation.connector_id == 999 and ChatRun.get_by_id(int(chat["id"])).connector_id == 999
        listed = alice.get(f"/v1/conversations?bot_id={bot_id}&connector_id=999").json()["data"][
            "conversations"
        ]
        assert [c["id"] for c in listed] == [chat["conversation_id"]]

    def test_console_uses_the_named_conversation(self, alice):
        bot_id = new_agent(alice, publish=False)
        first = events_conversation(web_chat(alice, bot_id, "/echo one"))
        second = alice.post("/api/conversation/clear_message", json={"conversation_id": first}).json()["data"]
        web_chat(alice, bot_id, "/echo two", conversation_id=second["conversation_id"])
        listed = alice.post(
            "/api/conversation/get_message_list",
            json={"bot_id": bot_id, "conversation_id": second["conversation_id"]},
        ).json()["data"]
        assert [m["content"] for m in listed["message_list"] if m["type"] == "question"] == ["/echo two"]
        assert listed["participant_info_map"][bot_id]["name"] == "Chat agent"
        other = new_agent(alice, publish=False)
        assert_error(
            alice.post(
                "/api/conversation/chat",
                json={"bot_id": other, "query": "hi", "conversation_id": second["conversation_id"]},
            ),
            400,
            103000000,
            "another agent",
        )
