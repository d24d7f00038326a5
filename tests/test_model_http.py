"""The model HTTP client (services/model_http.py) against scripted raw servers: connection reuse,
stale pooled connections, timeouts, bodies by length, chunks or connection close, replies broken
off, malformed streams, deltas handed over from the read, and a caller that gives up."""

from __future__ import annotations

import asyncio
import json

import pytest

from models.llm import PROTOCOL_OPENAI, LlmModel
from services import llm, llm_openai, model_http
from tests.fake_openai import MODEL_HOST

SSE_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"


def chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


def sse(payload) -> bytes:
    return chunk(
        b"data: " + (payload if isinstance(payload, bytes) else json.dumps(payload).encode()) + b"\n\n"
    )


def delta(text: str) -> bytes:
    return sse({"choices": [{"index": 0, "delta": {"content": text}, "finish_reason": None}]})


FINISH = (
    sse({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}) + sse(b"[DONE]") + b"0\r\n\r\n"
)


class Scripted:
    """A raw server on a free port; `reply(reader, writer, n)` answers request n (0-based, over
    all connections), after the request has been read."""

    def __init__(self, reply):
        self.reply, self.requests, self.connections, self.closed_early = reply, 0, 0, 0

    async def __aenter__(self):
        self.server = await asyncio.start_server(self._serve, MODEL_HOST, 0)
        self.url = f"http://{MODEL_HOST}:{self.server.sockets[0].getsockname()[1]}/v1"
        return self

    async def __aexit__(self, *exc):
        llm_openai.close_connections()
        self.server.close()

    async def _serve(self, reader, writer):
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(
                    next(
                        line.split(b":")[1]
                        for line in head.split(b"\r\n")
                        if line.lower().startswith(b"content-length")
                    )
                )
                await reader.readexactly(length)
                number, self.requests = self.requests, self.requests + 1
                if await self.reply(reader, writer, number) == "close":
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


def model(url: str) -> LlmModel:
    return LlmModel(name="raw", model_name="raw", protocol=PROTOCOL_OPENAI, base_url=url)


async def collect(url: str, on_delta=None) -> list[llm.Chunk]:
    request = llm.ChatRequest(messages=[{"role": "user", "content": "hi"}])
    return [c async for c in llm.stream(model(url), request, on_delta)]


def text(chunks) -> str:
    return "".join(c.content for c in chunks)


def test_connections_are_kept_alive_and_reused():
    async def reply(reader, writer, n):
        writer.write(SSE_HEAD + delta(f"answer {n}") + FINISH)

    async def run():
        async with Scripted(reply) as server:
            first, second = await collect(server.url), await collect(server.url)
            return first, second, server.connections

    first, second, connections = asyncio.run(run())
    assert (text(first), text(second), connections) == ("answer 0", "answer 1", 1)


def test_a_pooled_connection_the_server_closed_is_replaced():
    async def reply(reader, writer, n):
        writer.write(SSE_HEAD + delta(f"answer {n}") + FINISH)
        return "close"  # after the reply, without saying so in a header

    async def run():
        async with Scripted(reply) as server:
            first = await collect(server.url)
            await asyncio.sleep(0.05)
            return first, await collect(server.url), server.connections

    first, second, connections = asyncio.run(run())
    assert (text(first), text(second), connections) == ("answer 0", "answer 1", 2)


def test_a_silent_provider_times_out(monkeypatch):
    monkeypatch.setattr(
        llm_openai,
        "get_settings",
        lambda: type("S", (), {"model_timeout_seconds": 0.3, "model_max_retries": 0})(),
    )

    async def reply(reader, writer, n):
        writer.write(SSE_HEAD + delta("one"))
        await asyncio.sleep(2)

    async def run():
        async with Scripted(reply) as server:
            return await collect(server.url)

    with pytest.raises(llm.ProviderError) as exc:
        asyncio.run(run())
    assert "broke off" in exc.value.msg and "nothing received for 0.3 s" in exc.value.msg


def test_bodies_by_length_and_by_connection_close():
    answer = {
        "choices": [{"index": 0, "message": {"content": "whole"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 1},
    }

    async def reply(reader, writer, n):
        body = json.dumps(answer).encode()
        if n == 0:  # not streamed, with a length
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                + f"Content-Length: {len(body)}\r\n\r\n".encode()
                + body
            )
            return None
        # streamed until the server closes the connection
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n"
            b"data: " + json.dumps({"choices": [{"delta": {"content": "to the end"}}]}).encode() + b"\n\n"
        )
        return "close"

    async def run():
        async with Scripted(reply) as server:
            return await collect(server.url), await collect(server.url)

    whole, closing = asyncio.run(run())
    assert text(whole) == "whole" and whole[-1].usage.input_tokens == 3
    assert text(closing) == "to the end" and closing[-1].finish_reason == "stop"


@pytest.mark.parametrize(
    "tail, message",
    [
        (b"", "broke off the answer: the connection closed mid-reply"),
        (chunk(b"data: {not json\n\n"), "not JSON"),
        (b"zz\r\nnonsense", "broke off the answer"),
    ],
)
def test_broken_streams_are_clear_errors(tail, message):
    async def reply(reader, writer, n):
        writer.write(SSE_HEAD + delta("partial ") + tail)
        await writer.drain()
        return "close"

    async def run():
        async with Scripted(reply) as server:
            return await collect(server.url)

    with pytest.raises(llm.ProviderError) as exc:
        asyncio.run(run())
    assert message in exc.value.msg


def test_deltas_are_handed_over_as_they_arrive():
    handed: list[tuple[str, str]] = []

    async def reply(reader, writer, n):
        writer.write(SSE_HEAD)
        for word in ("one ", "two ", "three"):
            writer.write(delta(word))
            await writer.drain()
            await asyncio.sleep(0.01)
        writer.write(FINISH)

    async def run():
        async with Scripted(reply) as server:
            return await collect(server.url, lambda content, reasoning: handed.append((content, reasoning)))

    chunks = asyncio.run(run())
    assert handed == [("one ", ""), ("two ", ""), ("three", "")]
    assert len(chunks) == 1 and chunks[0].content == "" and chunks[0].finish_reason == "stop"
    assert chunks[0].usage.output_tokens > 0  # estimated: this provider sent none


def test_a_caller_that_gives_up_closes_the_connection():
    async def reply(reader, writer, n):
        writer.write(SSE_HEAD)
        try:
            for _ in range(100):
                writer.write(delta("more "))
                await writer.drain()
                await asyncio.sleep(0.01)
        except ConnectionError:
            state["aborted"] = True
            return "close"
        state["aborted"] = await reader.read(1) == b""
        return "close"

    state: dict = {}

    async def run():
        async with Scripted(reply) as server:
            request = llm.ChatRequest(messages=[{"role": "user", "content": "hi"}])
            stream = llm.stream(model(server.url), request)
            async for piece in stream:
                if piece.content:
                    break
            await stream.aclose()
            for _ in range(100):
                if "aborted" in state:
                    break
                await asyncio.sleep(0.02)

    asyncio.run(run())
    assert state == {"aborted": True}


def test_unreachable_and_non_http_urls_are_connect_errors():
    async def run(url):
        await model_http.post(url, b"{}", {}, connect_timeout=1, read_timeout=1)

    with pytest.raises(model_http.ConnectError, match="not an http"):
        asyncio.run(run("ftp://example.com/x"))
