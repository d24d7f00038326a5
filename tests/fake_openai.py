"""A local OpenAI-compatible Chat Completions server for tests and benchmarks: it streams text,
reasoning and tool calls, and can be told to fail. What it does depends on the last user message:

  "tool:<name>:<json>"    stream a tool call to <name> (arguments split over several chunks)
  "reason:<text>"         stream <text> as reasoning_content first, then answer
  "status:<code>"         answer HTTP <code> with an OpenAI-style error body
  "flaky:<code>:<n>"      answer <code> to the first <n> requests with this text, then stream
  "nousage"               leave usage out of the stream
  anything else           stream "fake: <message>" word by word

After a tool result (role "tool") it answers "fake tool result: <content>". It counts requests
and streams whose client went away (`GET /stats`).

A user message with an image gets "fake caption: a <media type> picture of <n> characters".
It also embeds (`/v1/embeddings`: words hashed into 64 dimensions, after mapping a few synonyms
to one concept, so "refund" and "money back" land together where full-text cannot see it; any
input containing "embedfail" answers 500) and reranks (`/v1/rerank`: the share of the query's
words a document contains). (The benchmarks use bench/fake_model.py, which
costs the machine less.)
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import socket
import threading
import time

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, StreamingResponse
from starlette.routing import Route


class FakeModel:
    def __init__(self, delay_ms: float = 0):
        self.delay = delay_ms / 1000
        self.requests: list[dict] = []
        self.aborted = 0
        self.completed = 0
        self.attempts: dict[str, int] = {}
        self.embedded = 0

    def _chunk(self, delta: dict, finish=None, usage=None) -> bytes:
        body = {
            "id": "chatcmpl-fake",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": "fake",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }
        if usage is not None:
            body["usage"] = usage
        return b"data: " + json.dumps(body).encode() + b"\n\n"

    def _plan(self, payload: dict) -> tuple[list[dict], str | None]:
        messages = payload.get("messages") or []
        last = messages[-1] if messages else {}
        if last.get("role") == "tool":
            return [{"content": f"fake tool result: {last.get('content')}"}], "stop"
        images = [
            part["image_url"]["url"]
            for part in last.get("content") or []
            if isinstance(last.get("content"), list) and part.get("type") == "image_url"
        ]
        if images:  # a vision request: describe the image by its media type and size
            media, _, data = images[0].removeprefix("data:").partition(";base64,")
            return [
                {"content": piece}
                for piece in _pieces(f"fake caption: a {media} picture of {len(data)} characters")
            ], "stop"
        text = (
            last.get("content") if isinstance(last.get("content"), str) else json.dumps(last.get("content"))
        )
        if text.startswith("tool:"):
            _, name, arguments = text.split(":", 2)
            half = len(arguments) // 2
            return [
                {
                    "tool_calls": [
                        {
                            "index": 0,
                            "id": "call_fake_1",
                            "type": "function",
                            "function": {"name": name, "arguments": arguments[:half]},
                        }
                    ]
                },
                {"tool_calls": [{"index": 0, "function": {"arguments": arguments[half:]}}]},
            ], "tool_calls"
        deltas = []
        if text.startswith("reason:"):
            text = text[len("reason:") :]
            deltas += [{"reasoning_content": w + " "} for w in text.split()]
        deltas += [{"content": piece} for piece in _pieces(f"fake: {text}")]
        return deltas, "stop"

    async def completions(self, request: Request):
        payload = await request.json()
        self.requests.append(payload)
        last = (payload.get("messages") or [{}])[-1]
        text = last.get("content") if isinstance(last.get("content"), str) else ""
        if text.startswith("status:"):
            code = int(text.split(":")[1])
            return JSONResponse(
                {"error": {"message": f"fake refusal {code}", "type": "fake"}}, status_code=code
            )
        if text.startswith("flaky:"):
            _, code, times = text.split(":")[:3]
            seen = self.attempts[text] = self.attempts.get(text, 0) + 1
            if seen <= int(times):
                return JSONResponse(
                    {"error": {"message": "try again"}}, status_code=int(code), headers={"Retry-After": "0"}
                )
        deltas, finish = self._plan(payload)
        usage = (
            None
            if "nousage" in text
            else {"prompt_tokens": 11, "completion_tokens": len(deltas), "total_tokens": 11 + len(deltas)}
        )

        async def body():
            done = False
            try:
                for delta in deltas:
                    if self.delay:
                        await asyncio.sleep(self.delay)
                    yield self._chunk(delta)
                yield self._chunk({}, finish)
                if usage:
                    yield b"data: " + json.dumps({"choices": [], "usage": usage}).encode() + b"\n\n"
                yield b"data: [DONE]\n\n"
                done = True
                self.completed += 1
            finally:
                if not done:
                    self.aborted += 1

        return StreamingResponse(body(), media_type="text/event-stream")

    async def stats(self, request: Request):
        return JSONResponse(
            {"requests": len(self.requests), "aborted": self.aborted, "completed": self.completed}
        )

    async def embeddings(self, request: Request):
        payload = await request.json()
        texts = payload["input"] if isinstance(payload["input"], list) else [payload["input"]]
        self.embedded += len(texts)
        if any("embedfail" in t for t in texts):
            return JSONResponse({"error": {"message": "embedding backend down"}}, status_code=500)
        return JSONResponse(
            {
                "object": "list",
                "model": payload.get("model"),
                "data": [
                    {"object": "embedding", "index": i, "embedding": fake_embedding(t)}
                    for i, t in enumerate(texts)
                ],
            }
        )

    async def rerank(self, request: Request):
        payload = await request.json()
        wanted = set(_words(payload["query"]))
        scores = [len(wanted & set(_words(d))) / max(len(wanted), 1) for d in payload["documents"]]
        order = sorted(range(len(scores)), key=lambda i: -scores[i])
        return JSONResponse({"results": [{"index": i, "relevance_score": scores[i]} for i in order]})

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/v1/chat/completions", self.completions, methods=["POST"]),
                Route("/v1/embeddings", self.embeddings, methods=["POST"]),
                Route("/v1/rerank", self.rerank, methods=["POST"]),
                Route("/stats", self.stats),
            ]
        )


EMBEDDING_DIMENSIONS = 64
_CONCEPTS = {
    "refund": "money",
    "refunds": "money",
    "reimburse": "money",
    "repay": "money",
    "money": "money",
    "kettle": "boiler",
    "boiler": "boiler",
    "teapot": "boiler",
}


def _words(text: str) -> list[str]:
    return [w for w in "".join(c.lower() if c.isalnum() else " " for c in text).split() if len(w) > 2]


def fake_embedding(text: str) -> list[float]:
    vector = [0.0] * EMBEDDING_DIMENSIONS
    for word in _words(text):
        concept = _CONCEPTS.get(word, word)
        digest = hashlib.sha256(concept.encode()).digest()
        vector[digest[0] % EMBEDDING_DIMENSIONS] += 1.0 if digest[1] % 2 else -1.0
    return vector


def _pieces(text: str) -> list[str]:
    words = text.split(" ")
    return [w + (" " if i < len(words) - 1 else "") for i, w in enumerate(words)]


# Model endpoints live on their own loopback address, which the tests' outbound allow-list admits
# (COZEPLUS_OUTBOUND_ALLOW); 127.0.0.1 stays private, as the SSRF tests need.
MODEL_HOST = "127.0.0.3"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((MODEL_HOST, 0))
        return sock.getsockname()[1]


class AppThread:
    """An ASGI app served by uvicorn on a thread of this process, on the test hosts' address."""

    def __init__(self, app, lifespan: str = "off"):
        self.port = free_port()
        config = uvicorn.Config(app, host=MODEL_HOST, port=self.port, log_level="warning", lifespan=lifespan)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self):
        self.thread.start()
        deadline = time.time() + 10
        while not self.server.started:
            if time.time() > deadline:
                raise RuntimeError("the test server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc):
        self.server.should_exit = True
        self.thread.join(timeout=5)


class ServerThread(AppThread):
    """The fake model, for the duration of a test session."""

    def __init__(self, model: FakeModel):
        self.model = model
        super().__init__(model.app())

    @property
    def base_url(self) -> str:
        return f"http://{MODEL_HOST}:{self.port}/v1"
