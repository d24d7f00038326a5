"""The OpenAI-compatible Chat Completions client (OpenAI, DeepSeek, Qwen, Ollama, vLLM, Ark ...):
streamed chunks, tool calls, reasoning content and usage, with timeouts and retries."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator

import msgspec

from core.settings import get_settings
from models.llm import LlmModel
from services import model_http, model_registry
from services.llm import ChatRequest, Chunk, OnDelta, ProviderError, ToolCall, Usage, count_tokens, text_of

log = logging.getLogger("cozeplus.llm")

RETRY_STATUSES = {429, 500, 502, 503, 504}
MAX_RETRY_AFTER_SECONDS = 10.0
CONNECT_TIMEOUT_SECONDS = 10.0
close_connections = model_http.close_pool
_decode = msgspec.json.Decoder().decode  # 0.7 us a chunk against 2.9 for json.loads


def _payload(model: LlmModel, request: ChatRequest) -> dict:
    params = {**(model.default_params or {}), **{k: v for k, v in request.params.items() if v is not None}}
    payload = {
        "model": model.model_name,
        "messages": request.messages,
        "stream": True,
        "stream_options": {"include_usage": True},
        **params,
    }
    if request.tools:
        payload["tools"] = request.tools
    return payload


def _headers(model: LlmModel) -> dict:
    key = model_registry.api_key(model)
    headers = {"Content-Type": "application/json", "Accept": "text/event-stream", "User-Agent": "cozeplus"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    return headers


def _retry_delay(attempt: int, reply: model_http.Reply | None) -> float:
    if reply is not None:
        try:
            return min(MAX_RETRY_AFTER_SECONDS, float(reply.headers.get("retry-after", "")))
        except ValueError:
            pass
    return 0.5 * 2**attempt


def _refusal(reply: model_http.Reply, body: bytes) -> ProviderError:
    detail = body.decode("utf-8", "replace")[:300]
    try:
        error = json.loads(body).get("error")
        detail = (error.get("message") if isinstance(error, dict) else error) or detail
    except (ValueError, AttributeError):
        pass
    return ProviderError(f"the model provider answered HTTP {reply.status}: {detail}", status=reply.status)


class _ToolCallAssembler:
    """Tool calls stream as fragments keyed by index; join them."""

    def __init__(self):
        self.calls: dict[int, dict] = {}

    def add(self, fragments: list[dict]) -> None:
        for fragment in fragments:
            call = self.calls.setdefault(
                fragment.get("index", len(self.calls)), {"id": "", "name": "", "arguments": ""}
            )
            call["id"] = fragment.get("id") or call["id"]
            function = fragment.get("function") or {}
            call["name"] += function.get("name") or ""
            call["arguments"] += function.get("arguments") or ""

    def result(self) -> list[ToolCall]:
        return [
            ToolCall(id=c["id"] or f"call_{i}", name=c["name"], arguments=c["arguments"] or "{}")
            for i, c in sorted(self.calls.items())
        ]


class _Relay:
    """The listener of a streamed reply: each SSE payload becomes a delta, handed to `on_delta`
    straight from the network read (or queued for the iterator when there is no callback), and
    the end becomes the final chunk with tool calls, finish reason and usage."""

    def __init__(self, request: ChatRequest, on_delta: OnDelta | None):
        self.request = request
        self.on_delta = on_delta or self._queue
        self.tools = _ToolCallAssembler()
        self.usage: Usage | None = None
        self.finish: str | None = None
        self.produced: list[str] = []
        self.pending = b""
        self.seen_done = False
        self.queued: list[Chunk] = []
        self.ended: tuple[BaseException | None] | None = None
        self.waiter: asyncio.Future | None = None

    def data(self, block: bytes) -> None:
        lines = (self.pending + block if self.pending else block).split(b"\n")
        self.pending = lines.pop()
        for line in lines:
            if line[:5] != b"data:" or self.seen_done:
                continue
            data = line[5:].strip()
            if data == b"[DONE]":
                self.seen_done = True
            elif data:
                try:
                    payload = _decode(data)
                except msgspec.DecodeError as exc:
                    raise ProviderError(f"the model provider sent a chunk that is not JSON: {exc}")
                self.take(payload)

    def take(self, payload) -> None:
        """One Chat Completions chunk (or a whole reply: `message` instead of `delta`)."""
        if not isinstance(payload, dict):
            raise ProviderError(
                f"the model provider sent a chunk that is not an object: {str(payload)[:100]}"
            )
        for choice in payload.get("choices") or ():
            delta = choice.get("delta") or choice.get("message")
            if delta:
                content = delta.get("content") or ""
                reasoning = delta.get("reasoning_content") or delta.get("reasoning") or ""
                if delta.get("tool_calls"):
                    self.tools.add(delta["tool_calls"])
                if content or reasoning:
                    self.produced.append(content)
                    self.on_delta(content, reasoning)
            self.finish = choice.get("finish_reason") or self.finish
        usage = payload.get("usage")
        if usage:
            self.usage = Usage(
                input_tokens=usage.get("prompt_tokens") or 0,
                output_tokens=usage.get("completion_tokens") or 0,
            )

    def end(self, error: BaseException | None) -> None:
        self.ended = (error,)
        self._wake()

    def _queue(self, content: str, reasoning: str) -> None:
        self.queued.append(Chunk(content=content, reasoning=reasoning))
        self._wake()

    def _wake(self) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    async def chunks(self) -> AsyncIterator[Chunk]:
        while True:
            if self.queued:
                queued, self.queued = self.queued, []
                for chunk in queued:
                    yield chunk
            elif self.ended is not None:
                break
            else:
                self.waiter = asyncio.get_running_loop().create_future()
                await self.waiter
        error = self.ended[0]
        if isinstance(error, ProviderError):
            raise error
        if error is not None:  # broke off mid-answer: no retry
            raise ProviderError(f"the model provider broke off the answer: {error or type(error).__name__}")
        yield self.final()

    def final(self) -> Chunk:
        usage = self.usage
        if usage is None:
            usage = Usage(
                input_tokens=sum(count_tokens(text_of(m.get("content"))) for m in self.request.messages),
                output_tokens=count_tokens("".join(self.produced)),
            )
        calls = self.tools.result()
        return Chunk(
            tool_calls=calls, finish_reason="tool_calls" if calls else (self.finish or "stop"), usage=usage
        )


async def stream(
    model: LlmModel, request: ChatRequest, on_delta: OnDelta | None = None
) -> AsyncIterator[Chunk]:
    """The reply as chunks. With `on_delta`, text and reasoning go to it as they arrive and the
    iterator yields only the final chunk."""
    settings = get_settings()
    url = f"{model.base_url}/chat/completions"
    body = json.dumps(_payload(model, request), ensure_ascii=False).encode()
    headers = _headers(model)
    attempt = 0
    while True:
        try:
            reply = await model_http.post(
                url,
                body,
                headers,
                connect_timeout=CONNECT_TIMEOUT_SECONDS,
                read_timeout=settings.model_timeout_seconds,
            )
        except model_http.ConnectError as exc:
            if attempt >= settings.model_max_retries:
                raise ProviderError(f"the model provider at {model.base_url} is unreachable: {exc}")
            delay = _retry_delay(attempt, None)
        except model_http.Forbidden as exc:
            raise ProviderError(f"the model provider at {model.base_url} may not be reached: {exc}")
        except model_http.ReadTimeout:
            raise ProviderError(
                f"the model provider at {model.base_url} sent nothing for "
                f"{settings.model_timeout_seconds:g} s"
            )
        else:
            try:
                if reply.status == 200:
                    async for chunk in _reply_chunks(reply, request, on_delta):
                        yield chunk
                    return
                body_read = await _read(reply)
                if reply.status not in RETRY_STATUSES or attempt >= settings.model_max_retries:
                    raise _refusal(reply, body_read)
                delay = _retry_delay(attempt, reply)
            finally:
                reply.close()
        attempt += 1
        log.warning("model call retried", extra={"model_id": model.id, "attempt": attempt})
        await asyncio.sleep(delay)


async def _read(reply: model_http.Reply) -> bytes:
    try:
        return await reply.read()
    except (TimeoutError, ConnectionError) as exc:
        raise ProviderError(f"the model provider broke off its reply: {exc}")


async def _reply_chunks(
    reply: model_http.Reply, request: ChatRequest, on_delta: OnDelta | None
) -> AsyncIterator[Chunk]:
    relay = _Relay(request, on_delta)
    if "text/event-stream" in reply.headers.get("content-type", ""):
        reply.listen(relay)
        async for chunk in relay.chunks():
            yield chunk
        return
    try:  # a provider that did not stream: one JSON body
        relay.take(_decode(await _read(reply)))
    except msgspec.DecodeError as exc:
        raise ProviderError(f"the model provider sent a reply that is not JSON: {exc}")
    for chunk in relay.queued:
        yield chunk
    yield relay.final()
