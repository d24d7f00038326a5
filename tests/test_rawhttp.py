"""bench/rawhttp, the load generators' client: bodies by length, chunked and to the close, and
connections reused while fresh but not once the server may have closed them."""

from __future__ import annotations

import asyncio

from bench import rawhttp

ANSWERS = {
    b"/length": b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
    b"/chunked": b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
    b"/close": b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nto the end",
}


async def serve(connections: list) -> asyncio.AbstractServer:
    async def answer(reader, writer):
        connections.append(writer)
        while line := await reader.readline():
            path = line.split(b" ")[1]
            while (await reader.readline()) not in (b"\r\n", b""):
                pass
            writer.write(ANSWERS[path])
            await writer.drain()
            if path == b"/close":
                writer.close()
                return

    return await asyncio.start_server(answer, "127.0.0.1", 0)


def run_against_server(client):
    async def main():
        connections: list = []
        server = await serve(connections)
        port = server.sockets[0].getsockname()[1]
        pool = rawhttp.Pool(f"http://127.0.0.1:{port}", {"Authorization": "Bearer x"})
        try:
            return await client(pool), pool.opened, len(connections)
        finally:
            pool.close()
            server.close()

    return asyncio.run(main())


def test_bodies_by_length_chunked_and_to_the_close_on_reused_connections():
    async def client(pool):
        return [await pool.request("GET", path) for path in ("/length", "/chunked", "/length", "/close")]

    answers, opened, accepted = run_against_server(client)
    assert answers == [(200, b"hello"), (201, b"abcde"), (200, b"hello"), (200, b"to the end")]
    assert opened == accepted == 1


def test_a_connection_idle_past_the_limit_is_not_reused(monkeypatch):
    monkeypatch.setattr(rawhttp, "IDLE_LIMIT", 0.05)

    async def client(pool):
        first = await pool.request("GET", "/length")
        await asyncio.sleep(0.1)
        return [first, await pool.request("GET", "/length")]

    answers, opened, accepted = run_against_server(client)
    assert answers == [(200, b"hello")] * 2 and opened == accepted == 2
