"""The baseline for bench/chat_streams.py: a bare Starlette SSE endpoint that relays the same
fake model as /v3/chat does, with the same model client (services/llm_openai.py over
services/model_http.py) and event format, and no auth, OpenAPI routing, validation, database or
run bookkeeping: the plain way to write a relay, a StreamingResponse over the model's chunks.
Run: uvicorn --factory bench.bare_relay:create (the model's address in the request's
`bench_model_url`, else BENCH_MODEL_URL)."""

from __future__ import annotations

import json
import os

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, StreamingResponse
from starlette.routing import Route

from models.llm import PROTOCOL_OPENAI, LlmModel
from services import llm, llm_openai


def create():
    default_url = os.environ["BENCH_MODEL_URL"]

    async def chat(request: Request):
        body = await request.json()
        question = body["additional_messages"][-1]["content"]
        model = LlmModel(
            name="fake",
            model_name="fake",
            protocol=PROTOCOL_OPENAI,
            base_url=body.get("bench_model_url") or default_url,
        )

        async def events():
            yield b'event:conversation.chat.created\ndata:{"status":"created"}\n\n'
            request = llm.ChatRequest(messages=[{"role": "user", "content": question}])
            async for chunk in llm_openai.stream(model, request):
                if chunk.content:
                    data = json.dumps(
                        {"id": "1", "type": "answer", "role": "assistant", "content": chunk.content},
                        separators=(",", ":"),
                    )
                    yield f"event:conversation.message.delta\ndata:{data}\n\n".encode()
            yield b'event:conversation.chat.completed\ndata:{"status":"completed"}\n\n'
            yield b'event:done\ndata:"[DONE]"\n\n'

        return StreamingResponse(events(), media_type="text/event-stream")

    async def me(request: Request):
        return JSONResponse({"code": 0, "msg": "success", "data": {}})

    return Starlette(routes=[Route("/v3/chat", chat, methods=["POST"]), Route("/v1/users/me", me)])
