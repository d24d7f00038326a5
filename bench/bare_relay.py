"""The baseline for bench/chat_streams.py: a bare Starlette SSE endpoint that relays the same
fake model as /v3/chat does, with the same HTTP client (aiohttp) and event format, and no auth,
OpenAPI routing, validation, database or run bookkeeping. Run: uvicorn --factory
bench.bare_relay:create (the model's address in the request's `bench_model_url`, else
BENCH_MODEL_URL)."""
from __future__ import annotations

import json
import os

import aiohttp
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, StreamingResponse
from starlette.routing import Route


def create():
    model_url = os.environ["BENCH_MODEL_URL"]
    sessions: list[aiohttp.ClientSession] = []

    async def chat(request: Request):
        if not sessions:
            sessions.append(aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)))
        body = await request.json()
        question = body["additional_messages"][-1]["content"]
        url = body.get("bench_model_url") or model_url

        async def events():
            yield b'event:conversation.chat.created\ndata:{"status":"created"}\n\n'
            payload = {"model": "fake", "stream": True, "messages": [{"role": "user", "content": question}]}
            async with sessions[0].post(f"{url}/chat/completions", json=payload) as response:
                pending = b""
                async for block in response.content.iter_any():
                    pending += block
                    *lines, pending = pending.split(b"\n")
                    for line in lines:
                        if not line.startswith(b"data:") or line.endswith(b"[DONE]"):
                            continue
                        for choice in json.loads(line[5:]).get("choices") or []:
                            content = (choice.get("delta") or {}).get("content")
                            if content:
                                data = json.dumps({"id": "1", "type": "answer", "role": "assistant",
                                                   "content": content}, separators=(",", ":"))
                                yield f"event:conversation.message.delta\ndata:{data}\n\n".encode()
            yield b'event:conversation.chat.completed\ndata:{"status":"completed"}\n\n'
            yield b'event:done\ndata:"[DONE]"\n\n'

        return StreamingResponse(events(), media_type="text/event-stream")

    async def me(request: Request):
        return JSONResponse({"code": 0, "msg": "success", "data": {}})

    return Starlette(routes=[Route("/v3/chat", chat, methods=["POST"]), Route("/v1/users/me", me)])
