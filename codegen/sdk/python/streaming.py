"""Streamed calls. /v3/chat (and the workflow stream runs) answer JSON or Server-Sent Events, and the
generated methods read JSON, so a stream is started with the method's `*_without_preload_content`
variant and read here, event by event, as the server sends them.

    from cozeplus_sdk import ChatApi, ChatRequest
    from cozeplus_sdk.streaming import stream_chat

    for event in stream_chat(ChatApi(api_client), ChatRequest(bot_id=..., user_id=..., ...)):
        if event.event == "conversation.message.delta":
            print(event.data["content"], end="")
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from cozeplus_sdk.exceptions import ApiException


@dataclass
class Event:
    event: str  # conversation.chat.created, conversation.message.delta, ..., done
    data: Any  # the event's JSON (a chat or a message), or the text "[DONE]"
    id: str | None = None


def events(response) -> Iterator[Event]:
    """The events of a response started with preload_content=False; raises ApiException (with the
    envelope's body) when the server refused the call instead of streaming."""
    try:
        if response.status >= 400:
            raise ApiException(status=response.status, reason=response.reason, body=response.data.decode())
        name, event_id, data = "message", None, []
        for raw in response:  # urllib3 yields the body line by line as it arrives
            line = raw.decode().rstrip("\r\n")
            if line:
                field, _, value = line.partition(":")
                value = value[1:] if value.startswith(" ") else value
                if field == "event":
                    name = value
                elif field == "data":
                    data.append(value)
                elif field == "id":
                    event_id = value
                continue
            if data:
                yield Event(name, _decoded("\n".join(data)), event_id)
            name, event_id, data = "message", None, []
        if data:
            yield Event(name, _decoded("\n".join(data)), event_id)
    finally:
        response.release_conn()


def _decoded(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def stream_chat(chat_api, chat_request, **options) -> Iterator[Event]:
    """ChatApi.chat with `stream` set, as events."""
    chat_request.stream = True
    return events(chat_api.chat_without_preload_content(chat_request, **options))
