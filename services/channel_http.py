"""What every channel platform's API calls share: JSON over the SSRF guard (services/webfetch),
and the platform's access token, kept on the channel so every worker uses the same one."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from urllib.parse import urlencode

from core import crypto
from core.settings import get_settings
from models.channel import Channel
from services import webfetch

MAX_RESPONSE = 256 * 1024
EARLY_REFRESH_SECONDS = 300  # a token this close to expiring is fetched again


class ChannelSendError(Exception):
    """The platform could not be reached, or refused the call (the message says which)."""


def url(base: str, path: str, **query) -> str:
    return base.rstrip("/") + path + (("?" + urlencode(query)) if query else "")


def call(method: str, target: str, payload: dict | None = None, headers: dict | None = None) -> dict:
    """The platform's JSON answer to one call; any transport failure, non-2xx status or non-JSON
    answer is a ChannelSendError."""
    body = json.dumps(payload, ensure_ascii=False).encode() if payload is not None else b""
    sent_headers = {"Content-Type": "application/json; charset=utf-8", **(headers or {})}
    try:
        sent = webfetch.send(
            method,
            target,
            headers=sent_headers,
            body=body,
            max_bytes=MAX_RESPONSE,
            timeout=get_settings().plugin_timeout_seconds,
            user_agent="cozeplus-channel/1.0",
        )
    except webfetch.FetchError as exc:
        raise ChannelSendError(str(exc)) from None
    excerpt = sent.response_body[:300].decode("utf-8", "replace")
    if not 200 <= sent.status < 300:
        raise ChannelSendError(f"the platform answered HTTP {sent.status}: {excerpt}")
    try:
        answer = json.loads(sent.response_body)
    except ValueError:
        raise ChannelSendError(f"the platform's answer is not JSON: {excerpt}") from None
    if not isinstance(answer, dict):
        raise ChannelSendError(f"the platform's answer is not a JSON object: {excerpt}")
    return answer


def access_token(channel: Channel, fetch: Callable[[], tuple[str, int]], *, fresh: bool = False) -> str:
    """The channel's platform token: the stored one while it is good, else `fetch()`'s
    (token, seconds it lasts), stored encrypted."""
    now = int(time.time())
    if not fresh and channel.access_token_expires_at > now + EARLY_REFRESH_SECONDS:
        stored = crypto.decrypt(channel.access_token_encrypted)
        if stored:
            return stored
    token, lasts = fetch()
    channel.touch(access_token_encrypted=crypto.encrypt(token), access_token_expires_at=now + int(lasts))
    return token


def forget_token(channel: Channel) -> None:
    channel.touch(access_token_encrypted="", access_token_expires_at=0)
