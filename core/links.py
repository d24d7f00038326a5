"""Signed, expiring links to stored files: an HMAC of the file id and the expiry, so a link is made
without a lookup (views sign them) and checked without a session (downloads by link)."""

from __future__ import annotations

import hashlib
import hmac
import time

from core.ids import parse_id
from core.settings import get_settings

LINK_TTL_SECONDS = 3600
FILE_URI_PREFIX = "file:"


def _signature(file_id: int, expires: int) -> str:
    key = hashlib.sha256(b"cozeplus/file-links/v1:" + get_settings().secret_key.encode()).digest()
    return hmac.new(key, f"{file_id}:{expires}".encode(), hashlib.sha256).hexdigest()


def file_url(file_id: int, ttl: int = LINK_TTL_SECONDS) -> str:
    expires = int(time.time()) + ttl
    return f"/api/files/{file_id}/content?expires={expires}&signature={_signature(file_id, expires)}"


def file_uri(file_id: int) -> str:
    return f"{FILE_URI_PREFIX}{file_id}"


def url_of(uri: str) -> str:
    """A displayable URL for a stored uri: `file:<id>` becomes a signed link; others pass through.
    (Stored uris were checked when they were saved: `services/refs.file_uri`.)"""
    if not uri.startswith(FILE_URI_PREFIX):
        return uri
    number = parse_id(uri.removeprefix(FILE_URI_PREFIX))
    return file_url(number) if number is not None else ""


def link_problem(file_id: int, expires: int, signature: str) -> str | None:
    """Why a link is refused (None when it is good)."""
    if not hmac.compare_digest(_signature(file_id, expires), signature):
        return "the download link is not valid"
    if expires < time.time():
        return "the download link has expired"
    return None
