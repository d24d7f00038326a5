"""core/sse.EventStream under a scripted ASGI server: frames written from the pushing callback,
a server that makes writes wait (flow control), order kept, disconnects and keep-alives."""

from __future__ import annotations

import asyncio

import pytest

from core import sse


class Server:
    """An ASGI send/receive pair; while `hold` is set, body sends wait until it is cleared."""

    def __init__(self):
        self.bodies: list[bytes] = []
        self.ended = False
        self.hold: asyncio.Event | None = None
        self.disconnect = asyncio.Event()

    async def send(self, message):
        if message["type"] == "http.response.body":
            if self.hold is not None:
                await self.hold.wait()
            self.bodies.append(message["body"])
            self.ended = not message.get("more_body", False)

    async def receive(self):
        await self.disconnect.wait()
        return {"type": "http.disconnect"}


async def started(stream: sse.EventStream, server: Server) -> asyncio.Task:
    task = asyncio.get_running_loop().create_task(stream({"type": "http"}, server.receive, server.send))
    for _ in range(5):
        await asyncio.sleep(0)
    return task


def test_frames_are_written_from_the_pushing_callback_and_in_order():
    async def run():
        stream, server = sse.EventStream(), Server()
        task = await started(stream, server)
        stream.push(b"one")
        assert server.bodies == [b"one"]  # written before anything else ran
        server.hold = asyncio.Event()
        stream.push(b"two")  # the server makes this write wait
        stream.push(b"three")
        stream.push(b"four")
        await asyncio.sleep(0.01)
        assert server.bodies == [b"one"]
        server.hold.set()
        server.hold = None
        await asyncio.sleep(0.01)
        stream.push(b"five")
        stream.close(b"done")
        await asyncio.wait_for(task, 1)
        return server

    server = asyncio.run(run())
    assert server.bodies == [b"one", b"two", b"threefour", b"five", b"done", b""] and server.ended


@pytest.mark.parametrize(
    "client_leaves, bodies",
    [
        (True, [b"one"]),
        (False, [b"one", b"done", b""]),
    ],
)
def test_on_disconnect_is_called_once_and_only_when_the_client_leaves(client_leaves, bodies):
    async def run():
        stream, server = sse.EventStream(), Server()
        calls = []
        stream.on_disconnect = lambda: calls.append(1)
        task = await started(stream, server)
        stream.push(b"one")
        if client_leaves:
            server.disconnect.set()
        else:
            stream.close(b"done")
        await asyncio.wait_for(task, 1)
        stream.push(b"after")
        return server, calls

    server, calls = asyncio.run(run())
    assert server.bodies == bodies
    assert calls == ([1] if client_leaves else []) and server.ended is not client_leaves


def test_silence_gets_keep_alive_comments():
    async def run():
        stream, server = sse.EventStream(keepalive=0.05), Server()
        task = await started(stream, server)
        await asyncio.sleep(0.13)
        stream.push(b"one")
        stream.close()
        await asyncio.wait_for(task, 1)
        return server

    server = asyncio.run(run())
    assert server.bodies == [sse.KEEP_ALIVE, sse.KEEP_ALIVE, b"one", b""]


def test_no_keep_alive_follows_the_last_event():
    async def run():
        stream, server = sse.EventStream(keepalive=0.05), Server()
        task = await started(stream, server)
        server.hold = asyncio.Event()
        stream.push(b"last")  # its write waits past the keep-alive's due time
        stream.close()
        await asyncio.sleep(0.12)
        server.hold.set()
        await asyncio.wait_for(task, 1)
        return server

    server = asyncio.run(run())
    assert server.bodies == [b"last", b""]
