"""The OpenAI-compatible facade through the `openai` package, unmodified, against a real server:
the model list, a completion, a streamed completion with usage, refusals; and the facade's
shapes and rules in process."""

from __future__ import annotations

import openai
import pytest
from conftest import assert_error, register
from test_sdk_chat import published_agent

from models.conversation import ChatRun, Conversation, Message


@pytest.fixture(scope="module")
def client(live_server, pat) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{live_server}/v1", api_key=pat, max_retries=0)


@pytest.fixture(scope="module")
def agent(coze) -> str:
    return published_agent(coze)


def test_the_model_list_is_the_published_agents(client, agent):
    models = client.models.list()
    ids = [m.id for m in models.data]
    assert agent in ids
    assert next(m for m in models.data if m.id == agent).owned_by.startswith("space:")


def test_a_completion_answers_as_the_agent(client, agent):
    answer = client.chat.completions.create(
        model=agent,
        messages=[
            {"role": "system", "content": "ignored: the agent's persona stands"},
            {"role": "user", "content": "Hello through the OpenAI SDK"},
        ],
    )
    assert answer.object == "chat.completion" and answer.model == agent
    assert answer.id.startswith("chatcmpl-")
    choice = answer.choices[0]
    assert choice.finish_reason == "stop" and choice.message.role == "assistant"
    assert "Hello through the OpenAI SDK" in choice.message.content  # the offline model echoes
    assert answer.usage.total_tokens == answer.usage.prompt_tokens + answer.usage.completion_tokens > 0


def test_a_streamed_completion_joins_to_the_answer_and_reports_usage(client, agent):
    pieces, finish, usage = [], [], None
    stream = client.chat.completions.create(
        model=agent,
        messages=[{"role": "user", "content": [{"type": "text", "text": "Stream this please"}]}],
        stream=True,
        stream_options={"include_usage": True},
    )
    for chunk in stream:
        assert chunk.object == "chat.completion.chunk" and chunk.model == agent
        if chunk.usage is not None:
            usage = chunk.usage
        for choice in chunk.choices:
            if choice.delta.content:
                pieces.append(choice.delta.content)
            if choice.finish_reason:
                finish.append(choice.finish_reason)
    assert len(pieces) > 1 and "Stream this please" in "".join(pieces)
    assert finish == ["stop"]
    assert usage is not None and usage.completion_tokens > 0


def test_unknown_or_unpublished_agents_are_refused(client, coze):
    with pytest.raises(openai.NotFoundError) as unknown:
        client.chat.completions.create(
            model="7412345678901234567", messages=[{"role": "user", "content": "x"}]
        )
    assert unknown.value.status_code == 404
    space_id = coze.workspaces.list().items[0].id
    draft = coze.bots.create(space_id=space_id, name="Never published").bot_id
    with pytest.raises(openai.APIStatusError) as unpublished:
        client.chat.completions.create(model=draft, messages=[{"role": "user", "content": "x"}])
    assert "not published" in str(unpublished.value)
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=client.base_url, api_key="pat_wrong", max_retries=0).models.list()


def test_the_turn_is_kept_nowhere_and_bad_turns_change_nothing(app):
    from starlette.testclient import TestClient
    from test_chat import new_agent

    with TestClient(app) as http:
        alice = register(http)
        bot_id = new_agent(alice)
        conversations = Conversation.select().where(Conversation.creator == int(alice.user_id)).count()
        runs = ChatRun.select().where(ChatRun.creator == int(alice.user_id)).count()
        for body, fragment in (
            (
                {"model": bot_id, "messages": [{"role": "system", "content": "only a system prompt"}]},
                "messages",
            ),
            (
                {
                    "model": bot_id,
                    "messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}],
                },
                "last message",
            ),
            (
                {
                    "model": bot_id,
                    "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {}}]}],
                },
                "messages[0].content[0].type",
            ),
        ):
            assert_error(alice.post("/v1/chat/completions", body), 400, 103000000, fragment)
        assert ChatRun.select().where(ChatRun.creator == int(alice.user_id)).count() == runs
        answer = alice.post(
            "/v1/chat/completions", {"model": bot_id, "messages": [{"role": "user", "content": "hi"}]}
        )
        assert answer.status_code == 200 and answer.json()["choices"][0]["message"]["content"]
        run_id = int(answer.json()["id"].removeprefix("chatcmpl-"))
        assert ChatRun.get_by_id(run_id).save_history is False
        assert ChatRun.get_by_id(run_id).status == "completed"
        bob = register(http)
        assert_error(
            bob.post(
                "/v1/chat/completions", {"model": bot_id, "messages": [{"role": "user", "content": "hi"}]}
            ),
            404,
            100000002,
            bot_id,
        )
        assert bot_id not in [m["id"] for m in bob.get("/v1/models").json()["data"]]
        assert bot_id in [m["id"] for m in alice.get("/v1/models").json()["data"]]
        assert not Message.select().where(Message.run == run_id).exists()  # as auto_save_history false
        made = Conversation.select().where(Conversation.creator == int(alice.user_id)).count()
        assert made == conversations + 1
