"""Model providers behind one streaming interface: the OpenAI-compatible Chat Completions API and
the built-in offline model. Requests and messages use the Chat Completions shapes."""

from __future__ import annotations

import contextlib
import dataclasses
import re
import time
from collections.abc import AsyncIterator, Callable

from core.metrics import MODEL_LATENCY, MODEL_TOKENS
from core.tracing import tracer
from models.llm import PROTOCOL_BUILTIN, LlmModel


@dataclasses.dataclass
class ToolCall:
    id: str
    name: str
    arguments: str  # a JSON object, as the model wrote it

    @classmethod
    def of_openai(cls, call: dict) -> ToolCall:
        function = call.get("function") or {}
        return cls(call.get("id", ""), function.get("name", ""), function.get("arguments") or "")

    def as_openai(self) -> dict:
        return {
            "id": self.id,
            "type": "function",
            "function": {"name": self.name, "arguments": self.arguments},
        }


@dataclasses.dataclass
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0

    def add(self, other: Usage) -> None:
        self.input_tokens += other.input_tokens
        self.output_tokens += other.output_tokens

    def as_coze(self) -> dict:
        return {
            "token_count": self.input_tokens + self.output_tokens,
            "output_count": self.output_tokens,
            "input_count": self.input_tokens,
        }


@dataclasses.dataclass
class Chunk:
    """A piece of a streamed reply. Tool calls arrive complete, in the chunk that finishes."""

    content: str = ""
    reasoning: str = ""
    tool_calls: list[ToolCall] = dataclasses.field(default_factory=list)
    finish_reason: str | None = None
    usage: Usage | None = None


@dataclasses.dataclass
class ChatRequest:
    messages: list[dict]
    tools: list[dict] = dataclasses.field(default_factory=list)  # Chat Completions tool schemas
    params: dict = dataclasses.field(default_factory=dict)  # temperature, max_tokens, top_p ...


class ProviderError(Exception):
    """The provider could not be reached, refused the request or broke off; msg says which."""

    def __init__(self, msg: str, *, status: int | None = None):
        super().__init__(msg)
        self.msg = msg
        self.status = status


OnDelta = Callable[[str, str], None]  # (content, reasoning) of a streamed piece


def stream(model: LlmModel, request: ChatRequest, on_delta: OnDelta | None = None) -> AsyncIterator[Chunk]:
    """The reply as chunks. With `on_delta`, text and reasoning go to it as they arrive (for the
    OpenAI client, straight from the network read, with no task switch per token) and the
    iterator yields only the chunks that carry something else."""
    if model.protocol == PROTOCOL_BUILTIN:
        from services import llm_offline

        chunks = llm_offline.stream(request)
        return _measured(model, _handing_deltas(chunks, on_delta) if on_delta else chunks)
    from services import llm_openai

    return _measured(model, llm_openai.stream(model, request, on_delta))


async def _measured(model: LlmModel, chunks: AsyncIterator[Chunk]) -> AsyncIterator[Chunk]:
    """The call's latency and tokens for /metrics (core.metrics)."""
    began, outcome, usage = time.perf_counter(), "ok", Usage()
    span = tracer.start_span("model.call", attributes={"model.name": model.name or str(model.id)})
    try:
        async with contextlib.aclosing(chunks):
            async for chunk in chunks:
                if chunk.usage:
                    usage.add(chunk.usage)
                yield chunk
    except GeneratorExit:  # the caller stopped reading (a cancel, a client gone)
        outcome = "stopped"
        raise
    except BaseException:
        outcome = "error"
        raise
    finally:
        name = model.name or str(model.id)
        span.set_attributes(
            {
                "model.outcome": outcome,
                "model.input_tokens": usage.input_tokens,
                "model.output_tokens": usage.output_tokens,
            }
        )
        span.end()
        MODEL_LATENCY.labels(name, outcome).observe(time.perf_counter() - began)
        MODEL_TOKENS.labels(name, "input").inc(usage.input_tokens)
        MODEL_TOKENS.labels(name, "output").inc(usage.output_tokens)


async def _handing_deltas(chunks: AsyncIterator[Chunk], on_delta: OnDelta) -> AsyncIterator[Chunk]:
    async with contextlib.aclosing(chunks):
        async for chunk in chunks:
            if chunk.content or chunk.reasoning:
                on_delta(chunk.content, chunk.reasoning)
                if not (chunk.tool_calls or chunk.usage or chunk.finish_reason):
                    continue
                chunk = dataclasses.replace(chunk, content="", reasoning="")
            yield chunk


async def complete(model: LlmModel, request: ChatRequest) -> tuple[str, Usage]:
    """The whole reply text of a non-streamed call (used for follow-up suggestions)."""
    parts, usage = [], Usage()
    async for chunk in stream(model, request):
        parts.append(chunk.content)
        if chunk.usage:
            usage.add(chunk.usage)
    return "".join(parts), usage


FOLLOW_UP_PROMPT = (
    "Suggest up to three short questions the user might ask next, given the "
    "conversation. Write one question per line and nothing else."
)


async def follow_ups(model: LlmModel, messages: list[dict], answer: str) -> list[str]:
    if model.protocol == PROTOCOL_BUILTIN:
        from services import llm_offline

        return llm_offline.follow_ups(messages, answer)
    request = ChatRequest(
        messages=[
            *messages,
            {"role": "assistant", "content": answer},
            {"role": "user", "content": FOLLOW_UP_PROMPT},
        ],
        params={"temperature": 0.3, "max_tokens": 200},
    )
    text, _ = await complete(model, request)
    lines = [re.sub(r"^\s*(?:[-*\u2022]|\d+[.)])\s*", "", line).strip() for line in text.splitlines()]
    return [line for line in lines if line][:3]


REWRITE_PROMPT = (
    "Rewrite the user's last message as one standalone search query for a knowledge base, "
    'resolving words like "it" or "that" from the conversation. Answer with the query only.'
)


async def rewrite_query(model: LlmModel, history: list[dict], question: str) -> str:
    """The question made standalone for retrieval, from the conversation before it; the
    offline model adds the previous user message, which is what a pronoun usually points to."""
    earlier = [text_of(m.get("content")) for m in history if m.get("role") == "user"]
    if not earlier:
        return question
    if model.protocol == PROTOCOL_BUILTIN:
        return f"{question} {earlier[-1]}"
    request = ChatRequest(
        messages=[
            *[m for m in history if m.get("role") in ("user", "assistant")],
            {"role": "user", "content": question},
            {"role": "user", "content": REWRITE_PROMPT},
        ],
        params={"temperature": 0, "max_tokens": 100},
    )
    try:
        text, _ = await complete(model, request)
    except ProviderError:  # retrieval goes on with the question as asked
        return question
    line = next((line.strip().strip('"') for line in text.splitlines() if line.strip()), "")
    return line or question


def text_of(content) -> str:
    """The text of a message's content (a string, or Chat Completions content parts)."""
    if isinstance(content, str):
        return content
    return " ".join(part.get("text", "") for part in content or [] if part.get("type") == "text")


_TOKEN = re.compile(r"\w+|[^\w\s]", re.UNICODE)


def count_tokens(text: str) -> int:
    """An estimate for providers that do not report usage: words and punctuation marks."""
    return len(_TOKEN.findall(text or ""))
