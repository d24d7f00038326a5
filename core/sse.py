"""Server-Sent Events as both official SDK parsers read them: `event:` then one `data:` line of
JSON, a blank line after each event, no `id:` or `retry:` lines."""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import Callable

from starlette.responses import Response

from core.metrics import OPEN_STREAMS

KEEP_ALIVE = b": keep-alive\n\n"  # a comment: browsers ignore it, cozepy would not (never sent there)


_encode = json.JSONEncoder(
    ensure_ascii=False, separators=(",", ":")
).encode  # built once: dumps() builds one per call
_encode_string = json.encoder.encode_basestring  # a str as a JSON string, non-ASCII kept (C)


def event(name: str, data) -> bytes:
    return f"event:{name}\ndata:{_encode(data)}\n\n".encode()


HOLE = "\x00hole\x00"  # where a Template's values go
_HOLE_JSON = _encode(HOLE)


class Template:
    """An event whose data differs between occurrences only in some string values (stream
    deltas): the JSON around them is rendered once, each event only encodes its values."""

    def __init__(self, name: str, data):
        rendered = event(name, data).decode()
        self.parts = [part.encode() for part in rendered.split(_HOLE_JSON)]

    def fill(self, *values: str) -> bytes:
        out = [self.parts[0]]
        for value, part in zip(values, self.parts[1:]):
            out.append(_encode_string(value).encode())
            out.append(part)
        return b"".join(out)


class _Rest:
    """Awaits the rest of a coroutine that was started by hand and suspended on `pending`."""

    def __init__(self, coroutine, pending):
        self.coroutine, self.pending = coroutine, pending

    def __await__(self):
        pending = self.pending
        while True:
            try:
                value = yield pending
            except BaseException as exc:  # cancellation, thrown into the awaiting task
                step = functools.partial(self.coroutine.throw, exc)
            else:
                step = functools.partial(self.coroutine.send, value)
            try:
                pending = step()
            except StopIteration as stop:
                return stop.value


class EventStream(Response):
    """A text/event-stream response written to by push() from plain callbacks: the producer (a
    chat run, or the model's network reads themselves) formats frames and they are written at
    once, from the callback, when the server's send completes without waiting (the usual case:
    the socket takes the bytes). Otherwise, or while a write is under way, frames pile up and the
    response's task sends them in one write. After `keepalive` seconds of silence it sends a
    comment; when the client goes away (or the response ends before close()) it calls
    on_disconnect."""

    media_type = "text/event-stream"

    def __init__(self, keepalive: float | None = None, ping: Callable[[], bytes] | None = None):
        """`ping` makes the keep-alive frame (a stream whose parser refuses comments); a comment otherwise."""
        self.status_code = 200
        self.ping = ping
        self.background = None
        self.init_headers({"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
        self.keepalive = keepalive
        self.on_disconnect: Callable[[], None] | None = None
        self._frames: list[bytes] = []
        self._closed = False
        self._gone = False
        self._waiter: asyncio.Future | None = None
        self._last_write = 0.0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._send = None
        self._unfinished: _Rest | None = None
        self._timer: asyncio.TimerHandle | None = None

    def push(self, frame: bytes) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done() and not self._gone:
            self._write_now(frame)  # the task is idle: nothing queued, no write under way
        else:
            self._frames.append(frame)
        self._wake()

    def _write_now(self, frame: bytes) -> None:
        """Write without a task switch: a task switch per token cost more than the write."""
        coroutine = self._send({"type": "http.response.body", "body": frame, "more_body": True})
        try:
            pending = coroutine.send(None)
        except StopIteration:
            self._last_write = self._loop.time()
            return
        except OSError:  # the client went away
            self._gone = True
            return
        self._unfinished = _Rest(coroutine, pending)  # the server waits (flow control): the task finishes it

    def close(self, last_frame: bytes = b"") -> None:
        if last_frame:
            self._frames.append(last_frame)
        self._closed = True
        self._wake()

    def _wake(self) -> None:
        if self._frames or self._closed or self._gone or self._unfinished:
            waiter = self._waiter
            if waiter is not None and not waiter.done():
                waiter.set_result(None)

    async def _watch(self, receive) -> None:
        while (await receive())["type"] != "http.disconnect":
            pass
        self._gone = True
        self._wake()

    def _keep_alive(self) -> None:
        # one timer per silent period, not one per write
        if self._closed:  # a ping after the last event would break parsers that stop at Done
            return
        loop = asyncio.get_running_loop()
        due = self._last_write + self.keepalive
        if loop.time() >= due and not self._frames:
            self.push(self.ping() if self.ping is not None else KEEP_ALIVE)
            due = loop.time() + self.keepalive
        self._timer = loop.call_at(due, self._keep_alive)

    async def __call__(self, scope, receive, send) -> None:
        # Frames are written from a task of their own: a task is resumed through its whole stack
        # of awaits on every wake, and this response sits some twenty awaits deep under the ASGI
        # middleware; that resumption cost more than the rest of a token's relay.
        await asyncio.get_running_loop().create_task(self._pump(receive, send))

    async def _pump(self, receive, send) -> None:
        loop = self._loop = asyncio.get_running_loop()
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        OPEN_STREAMS.inc()
        self._send = send
        watcher = loop.create_task(self._watch(receive))
        self._last_write = loop.time()
        self._timer = (
            loop.call_at(self._last_write + self.keepalive, self._keep_alive) if self.keepalive else None
        )
        try:
            while not self._gone:
                if self._unfinished is not None:
                    unfinished, self._unfinished = self._unfinished, None
                    await unfinished
                    self._last_write = loop.time()
                elif self._frames:
                    body, self._frames = b"".join(self._frames), []
                    await send({"type": "http.response.body", "body": body, "more_body": True})
                    self._last_write = loop.time()
                elif self._closed:
                    await send({"type": "http.response.body", "body": b"", "more_body": False})
                    break
                else:
                    self._waiter = loop.create_future()
                    await self._waiter
        except OSError:  # the client went away mid-write
            self._gone = True
        finally:
            OPEN_STREAMS.dec()
            watcher.cancel()
            if self._timer is not None:
                self._timer.cancel()
            if not self._closed and self.on_disconnect is not None:
                self.on_disconnect()
