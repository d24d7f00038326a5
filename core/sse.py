"""Server-Sent Events as both official SDK parsers read them: `event:` then one `data:` line of
JSON, a blank line after each event, no `id:` or `retry:` lines."""
from __future__ import annotations

import json
from typing import AsyncIterator

from starlette.responses import StreamingResponse

KEEP_ALIVE = b": keep-alive\n\n"  # a comment: browsers ignore it, cozepy would not (never sent there)


def event(name: str, data) -> bytes:
    payload = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return f"event:{name}\ndata:{payload}\n\n".encode()


def response(body: AsyncIterator[bytes]) -> StreamingResponse:
    return StreamingResponse(body, media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
