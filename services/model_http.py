"""HTTP/1.1 POSTs to model providers whose reply bodies are handed to a listener as the bytes
arrive, with pooled keep-alive connections, TLS, a connect timeout and a read timeout.

Why not aiohttp or httpx: a process relays tens of thousands of streamed tokens a second, and the
cost per token decides how many chats it holds. Reading a token cost 200-360 us of CPU with httpx
and 48 us with aiohttp; parsing with httptools (uvicorn's parser) in a bare protocol, which calls
the listener from the read itself with no task switch, costs 23 us (docs/benchmarks-history.md)."""

from __future__ import annotations

import asyncio
import socket
import ssl
import weakref
from typing import Protocol
from urllib.parse import urlsplit

import httptools

from services import webfetch

IDLE_SECONDS = 30.0  # a pooled connection unused this long is closed


class Listener(Protocol):
    def data(self, block: bytes) -> None: ...
    def end(self, error: BaseException | None) -> None: ...


class ConnectError(ConnectionError):
    """No reply started: the request can be retried."""


class ReadTimeout(asyncio.TimeoutError):
    pass


class Forbidden(Exception):
    """The SSRF guard refuses the host's address: no point in retrying."""


_tls: ssl.SSLContext | None = None


def _tls_context() -> ssl.SSLContext:
    global _tls
    if _tls is None:
        _tls = ssl.create_default_context()
    return _tls


class Reply:
    """One reply: status and headers (names lower-case) once they are in, then the body, given
    to a listener as it arrives (or buffered until one is attached)."""

    def __init__(self, connection: _Connection):
        self.status = 0
        self.headers: dict[str, str] = {}
        self._connection = connection
        self._early: list[bytes] = []
        self._listener: Listener | None = None
        self._ended: tuple[BaseException | None] | None = None

    def listen(self, listener: Listener) -> None:
        self._listener = listener
        early, self._early = self._early, []
        for block in early:
            listener.data(block)
        if self._ended is not None:
            listener.end(self._ended[0])

    async def read(self) -> bytes:
        """The whole body."""
        collected = _Collector()
        self.listen(collected)
        return await collected.result

    def close(self) -> None:
        """Done with the reply: the connection goes back to the pool if the reply ended cleanly,
        else it is dropped (which also stops the provider's generation)."""
        self._connection.release(self)

    def _data(self, block: bytes) -> None:
        if self._listener is None:
            self._early.append(block)
        else:
            self._listener.data(block)

    def _end(self, error: BaseException | None) -> None:
        if self._ended is not None:
            return
        self._ended = (error,)
        if self._listener is not None:
            self._listener.end(error)


class _Collector:
    def __init__(self):
        self.blocks: list[bytes] = []
        self.result: asyncio.Future = asyncio.get_running_loop().create_future()

    def data(self, block: bytes) -> None:
        self.blocks.append(block)

    def end(self, error: BaseException | None) -> None:
        if self.result.done():
            return
        if error is None:
            self.result.set_result(b"".join(self.blocks))
        else:
            self.result.set_exception(error)


class _Connection(asyncio.Protocol):
    def __init__(self, pool: _Pool, key: tuple):
        self.pool, self.key = pool, key
        self.loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None
        self.parser: httptools.HttpResponseParser | None = None
        self.reply: Reply | None = None
        self.head: asyncio.Future | None = None
        self.read_timeout = 0.0
        self.last_read = 0.0
        self.timer: asyncio.TimerHandle | None = None
        self.lost = False
        self.complete = False
        self.keep_alive = False
        self.close_delimited = False

    # -- asyncio.Protocol
    def connection_made(self, transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.last_read = self.loop.time()
        if self.parser is None:  # nothing asked: a server talking out of turn
            self.transport.abort()
            return
        try:
            self.parser.feed_data(data)
        except Exception as exc:  # a malformed reply, or the listener refused a block
            cause = (
                exc.__context__
                if isinstance(exc, httptools.HttpParserCallbackError) and exc.__context__
                else exc
            )
            self._fail(cause)

    def connection_lost(self, exc) -> None:
        self.lost = True
        self.pool.forget(self)
        if self.reply is not None and not self.complete:
            if self.close_delimited and self.head is not None and self.head.done():
                self.on_message_complete()  # the body ran to the end of the connection
            else:
                self._fail(ConnectionError(f"the connection closed mid-reply{f': {exc}' if exc else ''}"))
        self._stop_timer()

    # -- httptools callbacks
    def on_header(self, name: bytes, value: bytes) -> None:
        self.reply.headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def on_headers_complete(self) -> None:
        self.reply.status = self.parser.get_status_code()
        headers = self.reply.headers
        self.close_delimited = (
            "content-length" not in headers and "chunked" not in headers.get("transfer-encoding", "").lower()
        )
        if not self.head.done():
            self.head.set_result(self.reply)

    def on_body(self, body: bytes) -> None:
        self.reply._data(body)

    def on_message_complete(self) -> None:
        self.complete = True
        self.keep_alive = self.parser.should_keep_alive()
        self._stop_timer()
        self.reply._end(None)

    # -- requests
    def send(self, request: bytes, read_timeout: float) -> asyncio.Future:
        self.parser = httptools.HttpResponseParser(self)
        self.reply = Reply(self)
        self.head = self.loop.create_future()
        self.complete, self.keep_alive, self.close_delimited = False, False, False
        self.read_timeout, self.last_read = read_timeout, self.loop.time()
        self.timer = self.loop.call_at(self.last_read + read_timeout, self._check_reading)
        self.transport.write(request)
        return self.head

    def _check_reading(self) -> None:
        # one timer per read-timeout period rather than one rescheduled per block received
        due = self.last_read + self.read_timeout
        if self.loop.time() >= due:
            self.timer = None
            self._fail(ReadTimeout(f"nothing received for {self.read_timeout:g} s"))
        else:
            self.timer = self.loop.call_at(due, self._check_reading)

    def _stop_timer(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def _fail(self, error: BaseException) -> None:
        self._stop_timer()
        if self.head is not None and not self.head.done():
            self.head.set_exception(error)
        elif self.reply is not None:
            self.reply._end(error)
        self.complete = False
        self.transport.abort()

    def release(self, reply: Reply) -> None:
        if reply is not self.reply:
            return
        self.reply, self.parser, self.head = None, None, None
        if self.complete and self.keep_alive and not self.lost:
            self.pool.put(self)
        else:
            self._stop_timer()
            self.transport.abort()


class _Pool:
    """Idle keep-alive connections of one event loop, by scheme, host and port."""

    def __init__(self):
        self.idle: dict[tuple, list[_Connection]] = {}
        self.timers: dict[_Connection, asyncio.TimerHandle] = {}

    def take(self, key: tuple) -> _Connection | None:
        idle = self.idle.get(key)
        while idle:
            connection = idle.pop()
            timer = self.timers.pop(connection, None)
            if timer is not None:
                timer.cancel()
            if not connection.lost and not connection.transport.is_closing():
                return connection
        return None

    def put(self, connection: _Connection) -> None:
        self.idle.setdefault(connection.key, []).append(connection)
        self.timers[connection] = connection.loop.call_later(IDLE_SECONDS, connection.transport.close)

    def forget(self, connection: _Connection) -> None:
        idle = self.idle.get(connection.key)
        if idle and connection in idle:
            idle.remove(connection)
        timer = self.timers.pop(connection, None)
        if timer is not None:
            timer.cancel()

    def close(self) -> None:
        for idle in self.idle.values():
            for connection in idle:
                connection.transport.close()
        for timer in self.timers.values():
            timer.cancel()
        self.idle.clear()
        self.timers.clear()


_pools: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Pool] = weakref.WeakKeyDictionary()


def _pool() -> _Pool:
    loop = asyncio.get_running_loop()
    pool = _pools.get(loop)
    if pool is None:
        pool = _pools[loop] = _Pool()
    return pool


def close_pool() -> None:
    """Close this event loop's idle connections (the app does it at shutdown)."""
    pool = _pools.pop(asyncio.get_running_loop(), None)
    if pool is not None:
        pool.close()


def _request_bytes(method: str, target: str, host: str, headers: dict, body: bytes) -> bytes:
    lines = [
        f"{method} {target} HTTP/1.1",
        f"Host: {host}",
        "Connection: keep-alive",
        f"Content-Length: {len(body)}",
        *(f"{name}: {value}" for name, value in headers.items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


async def post(url: str, body: bytes, headers: dict, *, connect_timeout: float, read_timeout: float) -> Reply:
    """Send a POST; returns once the reply's status and headers are in. Raises ConnectError when
    the server cannot be reached or no reply started, ReadTimeout when it stays silent."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConnectError(f"not an http(s) URL: {url}")
    secure = parts.scheme == "https"
    port = parts.port or (443 if secure else 80)
    key = (parts.scheme, parts.hostname, port)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    host = parts.hostname if parts.port is None else f"{parts.hostname}:{parts.port}"
    request = _request_bytes("POST", target, host, headers, body)
    pool = _pool()
    connection = pool.take(key)
    reused = connection is not None
    if connection is None:
        connection = await _connect(pool, key, secure, connect_timeout)
    try:
        return await _send(connection, request, read_timeout)
    except ConnectionError as exc:
        if not reused:
            raise ConnectError(str(exc)) from exc
    # the server had closed the idle connection: once more on a fresh one
    connection = await _connect(pool, key, secure, connect_timeout)
    try:
        return await _send(connection, request, read_timeout)
    except ConnectionError as exc:
        raise ConnectError(str(exc)) from exc


async def _send(connection: _Connection, request: bytes, read_timeout: float) -> Reply:
    try:
        return await connection.send(request, read_timeout)
    except asyncio.CancelledError:
        connection.transport.abort()  # the caller gave up: so does the provider
        raise


async def _connect(pool: _Pool, key: tuple, secure: bool, timeout: float) -> _Connection:
    """A new connection to the address the SSRF guard vetted (resolved here, on every new
    connection, so a changed DNS answer cannot turn a public host inward)."""
    scheme, host, port = key
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(timeout):
            infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
            try:
                address = webfetch.vet(host, port, [info[4][0] for info in infos], allow_private=False)
            except webfetch.FetchError as exc:
                raise Forbidden(str(exc)) from None
            _, connection = await loop.create_connection(
                lambda: _Connection(pool, key),
                address,
                port,
                ssl=_tls_context() if secure else None,
                server_hostname=host if secure else None,
            )
    except TimeoutError:
        raise ConnectError(f"connecting to {host}:{port} took more than {timeout:g} s") from None
    except (OSError, ssl.SSLError) as exc:  # socket.gaierror too: the host does not resolve
        raise ConnectError(f"cannot connect to {host}:{port}: {exc}") from exc
    return connection
