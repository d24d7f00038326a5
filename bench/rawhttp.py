"""A load generator's HTTP/1.1 client on bare asyncio protocols: keep-alive connections from a
pool, bodies by Content-Length, chunked or read to the close. On two cores the generator shares
the machine with the server it measures, so it must cost far less than the server does (httpx
costs more CPU per request than cozeplus's read path)."""

from __future__ import annotations

import asyncio
import json
import time

# uvicorn closes a connection idle for 5 s; one reused as it closes is reset under the request
IDLE_LIMIT = 4.0


class ResponseError(ConnectionError):
    pass


def _dechunk(data: bytes) -> bytes | None:
    """The body of a complete chunked message, or None while it is incomplete."""
    body, at = bytearray(), 0
    while True:
        line_end = data.find(b"\r\n", at)
        if line_end < 0:
            return None
        size = int(data[at:line_end].split(b";", 1)[0], 16)
        if size == 0:
            return bytes(body) if data.find(b"\r\n\r\n", line_end) >= 0 else None
        start = line_end + 2
        if len(data) < start + size + 2:
            return None
        body += data[start : start + size]
        at = start + size + 2


class Connection(asyncio.Protocol):
    def __init__(self):
        self.transport = None
        self.buffer = bytearray()
        self.waiter: asyncio.Future | None = None
        self.closed = False
        self.keep_alive = True
        self.idle_since = 0.0

    def connection_made(self, transport) -> None:
        self.transport = transport

    def send(self, request: bytes) -> asyncio.Future:
        self.buffer.clear()
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(request)
        return self.waiter

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        self._complete(at_close=False)

    def connection_lost(self, exc) -> None:
        self.closed = True
        self._complete(at_close=True)
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ResponseError(f"connection lost: {exc}"))

    def _complete(self, at_close: bool) -> None:
        if self.waiter is None or self.waiter.done():
            return
        head_end = self.buffer.find(b"\r\n\r\n")
        if head_end < 0:
            return
        lines = bytes(self.buffer[:head_end]).decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        rest = bytes(self.buffer[head_end + 4 :])
        if "content-length" in headers:
            length = int(headers["content-length"])
            if len(rest) < length:
                return
            body = rest[:length]
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            if not rest.endswith(b"\r\n\r\n") or (body := _dechunk(rest)) is None:
                return
        elif at_close:
            body = rest
        else:
            return
        self.keep_alive = headers.get("connection", "").lower() != "close"
        self.waiter.set_result((status, body))


class Pool:
    """Connections to one server, reused one request at a time; as many as requests in flight."""

    def __init__(self, base: str, headers: dict[str, str], timeout: float = 30):
        self.host, port = base.split("//", 1)[1].rstrip("/").split(":")
        self.port, self.timeout = int(port), timeout
        self.head = "".join(f"{k}: {v}\r\n" for k, v in {"Host": f"{self.host}:{port}", **headers}.items())
        self.idle: list[Connection] = []
        self.opened = 0

    async def request(self, method: str, path: str, body=None) -> tuple[int, bytes]:
        payload = b"" if body is None else json.dumps(body).encode()
        extra = (
            f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n"
            if body is not None
            else ""
        )
        raw = f"{method} {path} HTTP/1.1\r\n{self.head}{extra}\r\n".encode() + payload
        now = time.monotonic()
        while self.idle:
            connection = self.idle.pop()
            if not connection.closed and now - connection.idle_since < IDLE_LIMIT:
                break
            connection.transport.close()
        else:
            loop = asyncio.get_running_loop()
            _, connection = await loop.create_connection(Connection, self.host, self.port)
            self.opened += 1
        try:
            answer = await asyncio.wait_for(connection.send(raw), self.timeout)
        except BaseException:
            connection.transport.close()
            raise
        if connection.keep_alive and not connection.closed:
            connection.idle_since = time.monotonic()
            self.idle.append(connection)
        else:
            connection.transport.close()
        return answer

    def close(self) -> None:
        for connection in self.idle:
            connection.transport.close()
        self.idle.clear()
