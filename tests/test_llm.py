"""Model providers: the offline model's commands and the OpenAI-compatible client against a local
server that streams text, reasoning and tool calls."""

from __future__ import annotations

import asyncio
import json

import pytest

from models.llm import PROTOCOL_BUILTIN, PROTOCOL_OPENAI, LlmModel
from services import llm, llm_openai
from tests.fake_openai import MODEL_HOST, FakeModel, ServerThread, free_port


@pytest.fixture(scope="module")
def fake(app):
    with ServerThread(FakeModel()) as server:
        yield server


def openai_model(base_url: str) -> LlmModel:
    return LlmModel(
        name="fake",
        model_name="fake-1",
        protocol=PROTOCOL_OPENAI,
        base_url=base_url,
        default_params={"temperature": 0.2},
    )


def offline_model() -> LlmModel:
    return LlmModel(name="offline", model_name="offline", protocol=PROTOCOL_BUILTIN)


def collect(model, messages, tools=None) -> list[llm.Chunk]:
    async def run():
        try:
            return [c async for c in llm.stream(model, llm.ChatRequest(messages=messages, tools=tools or []))]
        finally:
            llm_openai.close_connections()

    return asyncio.run(run())


def user(text: str) -> list[dict]:
    return [{"role": "system", "content": "be brief"}, {"role": "user", "content": text}]


def test_openai_streams_text_in_pieces_with_usage(fake):
    chunks = collect(openai_model(fake.base_url), user("hello there world"))
    assert len([c for c in chunks if c.content]) == 4
    assert "".join(c.content for c in chunks) == "fake: hello there world"
    assert chunks[-1].finish_reason == "stop"
    assert (chunks[-1].usage.input_tokens, chunks[-1].usage.output_tokens) == (11, 4)
    sent = fake.model.requests[-1]
    assert sent["model"] == "fake-1" and sent["stream"] is True and sent["temperature"] == 0.2


def test_openai_joins_tool_call_fragments(fake):
    tools = [{"type": "function", "function": {"name": "weather", "parameters": {"type": "object"}}}]
    chunks = collect(openai_model(fake.base_url), user('tool:weather:{"city": "Paris"}'), tools)
    final = chunks[-1]
    assert final.finish_reason == "tool_calls"
    assert [(c.id, c.name, json.loads(c.arguments)) for c in final.tool_calls] == [
        ("call_fake_1", "weather", {"city": "Paris"})
    ]
    assert fake.model.requests[-1]["tools"] == tools


def test_openai_reasoning_and_estimated_usage(fake):
    chunks = collect(openai_model(fake.base_url), user("reason:think hard nousage"))
    assert "".join(c.reasoning for c in chunks) == "think hard nousage "
    assert chunks[-1].usage.output_tokens > 0  # estimated when the provider reports none


def test_openai_retries_429_then_succeeds(fake):
    before = len(fake.model.requests)
    chunks = collect(openai_model(fake.base_url), user("flaky:429:2"))
    assert "".join(c.content for c in chunks) == "fake: flaky:429:2"
    assert len(fake.model.requests) - before == 3


def test_openai_refusal_is_a_clear_error(fake):
    with pytest.raises(llm.ProviderError) as exc:
        collect(openai_model(fake.base_url), user("status:401"))
    assert exc.value.status == 401 and "HTTP 401: fake refusal 401" in exc.value.msg


def test_openai_gives_up_after_retries(fake):
    with pytest.raises(llm.ProviderError) as exc:
        collect(openai_model(fake.base_url), user("flaky:503:9"))
    assert "HTTP 503" in exc.value.msg


def test_unreachable_provider_is_named():
    with pytest.raises(llm.ProviderError) as exc:
        collect(openai_model(f"http://{MODEL_HOST}:{free_port()}/v1"), user("hi"))
    assert "unreachable" in exc.value.msg and MODEL_HOST in exc.value.msg


def test_offline_answers_deterministically_in_pieces(app):
    first = collect(offline_model(), user("What is Coze?"))
    again = collect(offline_model(), user("What is Coze?"))
    text = "".join(c.content for c in first)
    assert text == "".join(c.content for c in again)
    assert "offline model" in text and "What is Coze?" in text
    assert len([c for c in first if c.content]) > 5 and first[-1].usage.output_tokens > 0


def test_offline_commands(app):
    assert "".join(c.content for c in collect(offline_model(), user("/echo exactly this"))) == "exactly this"
    chunks = collect(offline_model(), user('/call weather {"city": "Paris"}\n/call time {}'))
    assert [(c.name, json.loads(c.arguments)) for c in chunks[-1].tool_calls] == [
        ("weather", {"city": "Paris"}),
        ("time", {}),
    ]
    chunks = collect(offline_model(), user("/reason let me think\n/echo done"))
    assert "".join(c.reasoning for c in chunks) == "let me think"
    with pytest.raises(llm.ProviderError, match="boom"):
        collect(offline_model(), user("/fail boom"))
    with pytest.raises(llm.ProviderError, match="not JSON"):
        collect(offline_model(), user("/call weather {oops"))


def test_offline_answers_from_tool_results(app):
    call = {"id": "c1", "type": "function", "function": {"name": "weather", "arguments": "{}"}}
    messages = [
        *user("/call weather {}"),
        {"role": "assistant", "content": "", "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "c1", "content": "sunny"},
    ]
    assert (
        "".join(c.content for c in collect(offline_model(), messages)) == "The tool weather returned: sunny"
    )


def test_offline_grounds_answers_in_recalled_knowledge(app):
    system = (
        "You are helpful.\n<knowledge>\n[1] Paris is the capital of France. It is big.\n"
        "[2] The Moon orbits the Earth every 27 days.\n</knowledge>"
    )
    messages = [
        {"role": "system", "content": system},
        {"role": "user", "content": "How often does the moon orbit?"},
    ]
    text = "".join(c.content for c in collect(offline_model(), messages))
    assert text == "According to the knowledge base: The Moon orbits the Earth every 27 days. [2]"
