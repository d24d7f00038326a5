"""The OpenAI-compatible Chat Completions client (OpenAI, DeepSeek, Qwen, Ollama, vLLM, Ark ...):
streamed chunks, tool calls, reasoning content and usage, with timeouts and retries."""
from __future__ import annotations

import asyncio
import json
import logging
import weakref
from typing import AsyncIterator

import aiohttp

from core.settings import get_settings
from models.llm import LlmModel
from services import model_registry
from services.llm import Chunk, ChatRequest, ProviderError, ToolCall, Usage, count_tokens, text_of

log = logging.getLogger("cozeplus.llm")

RETRY_STATUSES = {429, 500, 502, 503, 504}
MAX_RETRY_AFTER_SECONDS = 10.0
# aiohttp rather than httpx: relaying a streamed token cost 200-360 us of CPU with httpx and
# 45-65 us with aiohttp (measured: docs/benchmarks.md), and a process must relay thousands a second.
_sessions: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, aiohttp.ClientSession]" = weakref.WeakKeyDictionary()


def _session() -> aiohttp.ClientSession:
    """The pooled session of this event loop (a session cannot cross loops)."""
    loop = asyncio.get_running_loop()
    session = _sessions.get(loop)
    if session is None or session.closed:
        settings = get_settings()
        session = _sessions[loop] = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0, limit_per_host=0, keepalive_timeout=30),
            timeout=aiohttp.ClientTimeout(total=None, connect=10, sock_read=settings.model_timeout_seconds),
            trust_env=False)
    return session


async def close_session() -> None:
    """Close this event loop's session (the app does it at shutdown)."""
    session = _sessions.pop(asyncio.get_running_loop(), None)
    if session is not None:
        await session.close()


def _payload(model: LlmModel, request: ChatRequest) -> dict:
    params = {**(model.default_params or {}), **{k: v for k, v in request.params.items() if v is not None}}
    payload = {"model": model.model_name, "messages": request.messages, "stream": True,
               "stream_options": {"include_usage": True}, **params}
    if request.tools:
        payload["tools"] = request.tools
    return payload


def _headers(model: LlmModel) -> dict:
    key = model_registry.api_key(model)
    return {"Authorization": f"Bearer {key}"} if key else {}


def _retry_delay(attempt: int, response: aiohttp.ClientResponse | None) -> float:
    if response is not None:
        try:
            return min(MAX_RETRY_AFTER_SECONDS, float(response.headers.get("retry-after", "")))
        except ValueError:
            pass
    return 0.5 * 2 ** attempt


def _refusal(response: aiohttp.ClientResponse, body: bytes) -> ProviderError:
    detail = body.decode("utf-8", "replace")[:300]
    try:
        error = json.loads(body).get("error")
        detail = (error.get("message") if isinstance(error, dict) else error) or detail
    except (ValueError, AttributeError):
        pass
    return ProviderError(f"the model provider answered HTTP {response.status}: {detail}", status=response.status)


class _ToolCallAssembler:
    """Tool calls stream as fragments keyed by index; join them."""

    def __init__(self):
        self.calls: dict[int, dict] = {}

    def add(self, fragments: list[dict]) -> None:
        for fragment in fragments:
            call = self.calls.setdefault(fragment.get("index", len(self.calls)),
                                         {"id": "", "name": "", "arguments": ""})
            call["id"] = fragment.get("id") or call["id"]
            function = fragment.get("function") or {}
            call["name"] += function.get("name") or ""
            call["arguments"] += function.get("arguments") or ""

    def result(self) -> list[ToolCall]:
        return [ToolCall(id=c["id"] or f"call_{i}", name=c["name"], arguments=c["arguments"] or "{}")
                for i, c in sorted(self.calls.items())]


def _parse_chunk(data: dict, tools: _ToolCallAssembler) -> Chunk:
    chunk = Chunk()
    for choice in data.get("choices") or []:
        delta = choice.get("delta") or choice.get("message") or {}
        chunk.content += delta.get("content") or ""
        chunk.reasoning += delta.get("reasoning_content") or delta.get("reasoning") or ""
        tools.add(delta.get("tool_calls") or [])
        chunk.finish_reason = choice.get("finish_reason") or chunk.finish_reason
    usage = data.get("usage")
    if usage:
        chunk.usage = Usage(input_tokens=usage.get("prompt_tokens") or 0,
                            output_tokens=usage.get("completion_tokens") or 0)
    return chunk


async def _payloads(response: aiohttp.ClientResponse) -> AsyncIterator[list[dict]]:
    """The stream's JSON payloads, a list per network read (or the single body of a provider
    that did not stream). Read to the end, so that the connection is reused."""
    if "text/event-stream" not in response.headers.get("content-type", ""):
        yield [json.loads(await response.read())]
        return
    finished, pending = False, b""
    async for block in response.content.iter_any():
        pending += block
        *lines, pending = pending.split(b"\n")
        payloads = []
        for line in lines:
            if finished or not line.startswith(b"data:"):
                continue
            data = line[5:].strip()
            if data == b"[DONE]":
                finished = True
            elif data:
                payloads.append(json.loads(data))
        if payloads:
            yield payloads


async def stream(model: LlmModel, request: ChatRequest) -> AsyncIterator[Chunk]:
    settings = get_settings()
    url = f"{model.base_url}/chat/completions"
    payload, headers = _payload(model, request), _headers(model)
    attempt = 0
    while True:
        try:
            async with _session().post(url, json=payload, headers=headers) as response:
                if response.status != 200:
                    body = await response.read()
                    if response.status in RETRY_STATUSES and attempt < settings.model_max_retries:
                        delay = _retry_delay(attempt, response)
                    else:
                        raise _refusal(response, body)
                else:
                    async for chunk in _relay(response, request):
                        yield chunk
                    return
        except (aiohttp.ClientConnectionError, aiohttp.ServerDisconnectedError) as exc:
            # before any output (errors mid-answer become ProviderError in _relay)
            if attempt >= settings.model_max_retries:
                raise ProviderError(f"the model provider at {model.base_url} is unreachable: {exc}")
            delay = _retry_delay(attempt, None)
        except asyncio.TimeoutError:
            raise ProviderError(f"the model provider at {model.base_url} sent nothing for "
                                f"{settings.model_timeout_seconds} s")
        except aiohttp.ClientError as exc:
            raise ProviderError(f"the model provider at {model.base_url} failed: {exc}")
        attempt += 1
        log.warning("model call retried", extra={"model_id": model.id, "attempt": attempt})
        await asyncio.sleep(delay)


async def _relay(response: aiohttp.ClientResponse, request: ChatRequest) -> AsyncIterator[Chunk]:
    tools = _ToolCallAssembler()
    usage, finish, produced = None, None, []
    try:
        async for payloads in _payloads(response):
            for data in payloads:
                chunk = _parse_chunk(data, tools)
                usage = chunk.usage or usage
                finish = chunk.finish_reason or finish
                if chunk.content or chunk.reasoning:
                    produced.append(chunk.content)
                    yield Chunk(content=chunk.content, reasoning=chunk.reasoning)
    except ValueError as exc:
        raise ProviderError(f"the model provider sent a chunk that is not JSON: {exc}")
    except (aiohttp.ClientError, asyncio.TimeoutError) as exc:  # broke off mid-answer: no retry
        raise ProviderError(f"the model provider broke off the answer: {exc or type(exc).__name__}")
    if usage is None:
        usage = Usage(input_tokens=sum(count_tokens(text_of(m.get("content"))) for m in request.messages),
                      output_tokens=count_tokens("".join(produced)))
    calls = tools.result()
    yield Chunk(tool_calls=calls, finish_reason="tool_calls" if calls else (finish or "stop"), usage=usage)
