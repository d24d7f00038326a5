"""The baseline for bench/chat_streams.py: a bare Starlette SSE endpoint that relays the same
fake model as /v3/chat does, in the same event format, with no auth, routing by OpenAPI,
validation, database or run bookkeeping. Run: uvicorn --factory bench.bare_relay:create
(the model's address in BENCH_MODEL_URL)."""
from __future__ import annotations

import json
import os

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import StreamingResponse
from starlette.routing import Route


def create():
    model_url = os.environ["BENCH_MODEL_URL"]
    client: httpx.AsyncClient | None = None

    async def chat(request: Request):
        nonlocal client
        if client is None:
            client = httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=None))
        body = await request.json()
        question = body["additional_messages"][-1]["content"]

        async def events():
            yield b'event:conversation.chat.created\ndata:{"status":"created"}\n\n'
            payload = {"model": "fake", "stream": True, "messages": [{"role": "user", "content": question}]}
            async with client.stream("POST", f"{model_url}/chat/completions", json=payload) as response:
                async for line in response.aiter_lines():
                    if not line.startswith("data:") or line.endswith("[DONE]"):
                        continue
                    chunk = json.loads(line[5:])
                    for choice in chunk.get("choices") or []:
                        content = (choice.get("delta") or {}).get("content")
                        if content:
                            data = json.dumps({"id": "1", "type": "answer", "role": "assistant", "content": content},
                                              separators=(",", ":"))
                            yield f"event:conversation.message.delta\ndata:{data}\n\n".encode()
            yield b'event:conversation.chat.completed\ndata:{"status":"completed"}\n\n'
            yield b'event:done\ndata:"[DONE]"\n\n'

        return StreamingResponse(events(), media_type="text/event-stream")

    async def me(request: Request):
        from starlette.responses import JSONResponse
        return JSONResponse({"code": 0, "msg": "success", "data": {}})

    return Starlette(routes=[Route("/v3/chat", chat, methods=["POST"]), Route("/v1/users/me", me)])
