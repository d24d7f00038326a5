"""The benchmarks' model: an OpenAI-compatible /v1/chat/completions that streams TOKENS chunks,
one every DELAY_MS, built to cost the machine as little as possible (the thing measured is the
server in front of it): uvloop, a bare protocol instead of streams, and one clock for all streams
(streams are kept in one slot per millisecond of the delay, and each tick writes to the streams
of the slots it passed) instead of a timer per token.
Run: python -m bench.fake_model PORT DELAY_MS TOKENS"""

from __future__ import annotations

import asyncio
import json
import sys

import uvloop


def _chunk(payload) -> bytes:
    """One HTTP chunk holding one SSE event (payload: a dict, or the text [DONE])."""
    data = (
        b"data: " + (payload.encode() if isinstance(payload, str) else json.dumps(payload).encode()) + b"\n\n"
    )
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


HEAD = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n"
    b"Connection: keep-alive\r\n\r\n"
)
TOKEN = _chunk({"choices": [{"index": 0, "delta": {"content": "tok "}, "finish_reason": None}]})


class Clock:
    """Writes a token to every open stream once per delay, from a single ticking task."""

    def __init__(self, delay_ms: float, tokens: int):
        self.slots: list[dict] = [{} for _ in range(max(1, int(delay_ms)))]
        self.tokens = tokens
        self.tail = (
            _chunk({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
            + _chunk({"choices": [], "usage": {"prompt_tokens": 10, "completion_tokens": tokens}})
            + _chunk("[DONE]")
            + b"0\r\n\r\n"
        )
        self.loop = asyncio.get_running_loop()
        self.position = self._now()
        self.arrived: list[tuple[int, object]] = []

    def _now(self) -> int:
        return int(self.loop.time() * 1000)

    def start(self, transport) -> None:
        # slotted after the next tick, so that the first token comes one delay later
        self.arrived.append((self._now(), transport))

    def forget(self, transport) -> None:
        self.arrived = [(stamp, other) for stamp, other in self.arrived if other is not transport]
        for slot in self.slots:
            slot.pop(transport, None)

    async def run(self) -> None:
        while True:
            await asyncio.sleep(0.001)
            now = self._now()
            for position in range(max(self.position + 1, now - len(self.slots) + 1), now + 1):
                slot = self.slots[position % len(self.slots)]
                for transport, left in list(slot.items()):
                    if transport.is_closing():
                        del slot[transport]
                    elif left > 1:
                        transport.write(TOKEN)
                        slot[transport] = left - 1
                    else:
                        transport.write(TOKEN + self.tail)
                        del slot[transport]
            self.position = now
            for stamp, transport in self.arrived:
                self.slots[stamp % len(self.slots)][transport] = self.tokens
            self.arrived.clear()


class ModelProtocol(asyncio.Protocol):
    """One connection; requests one after another (keep-alive), each answered by the clock."""

    def __init__(self, clock: Clock):
        self.clock, self.buffer, self.transport = clock, b"", None

    def connection_made(self, transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return
        length = 0
        for line in self.buffer[:end].split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        if len(self.buffer) < end + 4 + length:
            return
        self.buffer = self.buffer[end + 4 + length :]
        self.transport.write(HEAD)
        self.clock.start(self.transport)

    def connection_lost(self, exc) -> None:
        self.clock.forget(self.transport)


async def serve(port: int, delay_ms: float, tokens: int) -> None:
    clock = Clock(delay_ms, tokens)
    server = await asyncio.get_running_loop().create_server(
        lambda: ModelProtocol(clock), "127.0.0.1", port, backlog=4096
    )
    async with server:
        await clock.run()


if __name__ == "__main__":
    uvloop.run(serve(int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])))
