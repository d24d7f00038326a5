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


HOLE = "\x00hole\x00"  # where a Template's values go
_HOLE_JSON = json.dumps(HOLE)


class Template:
    """An event whose data differs between occurrences only in some string values (stream
    deltas): the JSON around them is rendered once, each event only encodes its values."""

    def __init__(self, name: str, data):
        rendered = event(name, data).decode()
        self.parts = [part.encode() for part in rendered.split(_HOLE_JSON)]

    def fill(self, *values: str) -> bytes:
        out = [self.parts[0]]
        for value, part in zip(values, self.parts[1:]):
            out.append(json.dumps(value, ensure_ascii=False).encode())
            out.append(part)
        return b"".join(out)


def response(body: AsyncIterator[bytes]) -> StreamingResponse:
    return StreamingResponse(body, media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
