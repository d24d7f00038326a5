"""The benchmarks' model: an OpenAI-compatible /v1/chat/completions that streams TOKENS chunks,
one every DELAY_MS, written straight to the socket so that the model costs the machine as little
as possible (the thing measured is the server in front of it).
Run: python -m bench.fake_model PORT DELAY_MS TOKENS"""
from __future__ import annotations

import asyncio
import json
import sys


def _chunk(payload) -> bytes:
    """One HTTP chunk holding one SSE event (payload: a dict, or the text [DONE])."""
    data = b"data: " + (payload.encode() if isinstance(payload, str) else json.dumps(payload).encode()) + b"\n\n"
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


def make_handler(delay: float, tokens: int):
    token = _chunk({"choices": [{"index": 0, "delta": {"content": "tok "}, "finish_reason": None}]})
    tail = (_chunk({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
            + _chunk({"choices": [], "usage": {"prompt_tokens": 10, "completion_tokens": tokens}})
            + _chunk("[DONE]") + b"0\r\n\r\n")
    head = (b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n"
            b"Connection: keep-alive\r\n\r\n")

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:  # keep-alive: one request after another
                headers = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in headers.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                await reader.readexactly(length)
                writer.write(head)
                for _ in range(tokens):
                    await asyncio.sleep(delay)
                    writer.write(token)
                    await writer.drain()
                writer.write(tail)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    return handle


async def serve(port: int, delay_ms: float, tokens: int) -> None:
    server = await asyncio.start_server(make_handler(delay_ms / 1000, tokens), "127.0.0.1", port, backlog=4096)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(serve(int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])))
