"""Uploads: size limit, names made safe, the declared type checked against the bytes, local
storage under the data directory, and signed, expiring download links."""

from __future__ import annotations

import hashlib
import hmac
import io
import os
import re
import time
import unicodedata
from pathlib import Path

from core import errors, links
from core.ids import new_id, parse_id
from core.settings import get_settings
from models.files import StoredFile
from models.identity import User
from services import refs

_TEXT = "text"
_ZIP = b"PK\x03\x04"
# extension -> (media type, what the bytes must look like: a magic prefix, _TEXT, or None)
KNOWN_TYPES = {
    "png": ("image/png", b"\x89PNG\r\n\x1a\n"),
    "jpg": ("image/jpeg", b"\xff\xd8\xff"),
    "jpeg": ("image/jpeg", b"\xff\xd8\xff"),
    "gif": ("image/gif", b"GIF8"),
    "webp": ("image/webp", b"RIFF"),
    "pdf": ("application/pdf", b"%PDF-"),
    "docx": ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", _ZIP),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", _ZIP),
    "pptx": ("application/vnd.openxmlformats-officedocument.presentationml.presentation", _ZIP),
    "zip": ("application/zip", _ZIP),
    "txt": ("text/plain", _TEXT),
    "md": ("text/markdown", _TEXT),
    "csv": ("text/csv", _TEXT),
    "json": ("application/json", _TEXT),
    "html": ("text/html", _TEXT),
    "htm": ("text/html", _TEXT),
    "xml": ("application/xml", _TEXT),
    "yaml": ("application/yaml", _TEXT),
    "yml": ("application/yaml", _TEXT),
    "mp3": ("audio/mpeg", None),
    "wav": ("audio/wav", b"RIFF"),
    "mp4": ("video/mp4", None),
}
INLINE_TYPES = {
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "application/pdf",
    "audio/mpeg",
    "audio/wav",
    "video/mp4",
}


def safe_name(name: str | None) -> str:
    """A display name that cannot be a path: last component, no control characters, bounded."""
    name = re.split(r"[\\/]", name or "")[-1]
    name = "".join(c for c in unicodedata.normalize("NFC", name) if unicodedata.category(c)[0] != "C")
    name = name.strip().lstrip(".") or "file"
    stem, dot, ext = name.rpartition(".")
    return (stem[:200] + dot + ext[:20]) if dot else name[:220]


def _media_type(file_name: str, content: bytes) -> str:
    ext = file_name.rpartition(".")[2].lower() if "." in file_name else ""
    media, expected = KNOWN_TYPES.get(ext, ("application/octet-stream", None))
    if expected is _TEXT:
        try:
            text = content.decode("utf-8")
        except UnicodeDecodeError:
            raise errors.UNSUPPORTED_FILE_TYPE(f"{file_name} is not UTF-8 text, as .{ext} must be")
        if "\x00" in text:
            raise errors.UNSUPPORTED_FILE_TYPE(f"{file_name} contains binary data, not .{ext} text")
    elif expected is not None and not content.startswith(expected):
        raise errors.UNSUPPORTED_FILE_TYPE(f"the bytes of {file_name} are not a .{ext} file")
    if ext == "webp" and content[8:12] != b"WEBP":
        raise errors.UNSUPPORTED_FILE_TYPE(f"the bytes of {file_name} are not a .webp file")
    return media


def _root() -> Path:
    root = get_settings().data_dir / "files"
    root.mkdir(parents=True, exist_ok=True)
    return root


def store(
    user: User, file_name: str | None, stream, biz_type: int = 0, file_id: int | None = None
) -> StoredFile:
    limit = get_settings().max_upload_bytes
    content = stream.read(limit + 1)
    if not content:
        raise errors.NO_FILE("the file is empty")
    if len(content) > limit:
        raise errors.FILE_TOO_LARGE(f"the file is over the limit of {limit} bytes")
    name = safe_name(file_name)
    media_type = _media_type(name, content)
    file_id = file_id or new_id()
    key = f"{time.strftime('%Y/%m')}/{file_id}"
    target = _root() / key
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".part")
    partial.write_bytes(content)
    os.replace(partial, target)
    return StoredFile.create(
        id=file_id,
        owner=user.id,
        file_name=name,
        content_type=media_type,
        size=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
        storage_key=key,
        biz_type=biz_type,
    )


def owned(user: User, file_id, field: str = "") -> StoredFile:
    return refs.one(user, refs.FILE, file_id, field=field)


def read(stored: StoredFile) -> bytes:
    return (_root() / stored.storage_key).read_bytes()


def by_link(file_id, expires: int | None, signature: str | None) -> StoredFile:
    """The file a signed link names, if the signature is right and the link has not expired."""
    number = parse_id(file_id)
    if number is None or expires is None or not signature:
        raise errors.FILE_NOT_FOUND(f"file {file_id} not found")
    problem = links.link_problem(number, expires, signature)
    if problem:
        raise errors.FILE_LINK_INVALID(problem)
    stored = StoredFile.get_or_none(StoredFile.id == number)
    if stored is None:
        raise errors.FILE_NOT_FOUND(f"file {file_id} not found")
    return stored


# --- the console's ImageX-style upload: apply, upload the bytes, commit ------------------------
# The session is a signed token (user, file id, extension, expiry): nothing is stored until the
# bytes arrive, and only the user who applied can commit.

SESSION_TTL_SECONDS = 900


def _session_signature(payload: str) -> str:
    key = hashlib.sha256(b"cozeplus/upload-sessions/v1:" + get_settings().secret_key.encode()).digest()
    return hmac.new(key, payload.encode(), hashlib.sha256).hexdigest()


def apply_upload(user: User, extension: str) -> tuple[str, str]:
    """(store_uri, session key) for one file the user may now upload."""
    ext = extension.lstrip(".").lower()
    store_uri = f"{new_id()}.{ext}"
    payload = f"{user.id}:{store_uri}:{int(time.time()) + SESSION_TTL_SECONDS}"
    return store_uri, f"{payload}:{_session_signature(payload)}"


def _open_session(session_key: str | None) -> tuple[int, str]:
    """(user id, store_uri) of a valid, unexpired session key."""
    parts = (session_key or "").removeprefix("Bearer ").strip().split(":")
    if len(parts) != 4:
        raise errors.FILE_LINK_INVALID("the upload session is not valid")
    payload = ":".join(parts[:3])
    if not hmac.compare_digest(_session_signature(payload), parts[3]):
        raise errors.FILE_LINK_INVALID("the upload session is not valid")
    if int(parts[2]) < time.time():
        raise errors.FILE_LINK_INVALID("the upload session has expired; apply again")
    return int(parts[0]), parts[1]


def upload_to_session(session_key: str | None, store_uri: str, content: bytes) -> StoredFile:
    user_id, expected_uri = _open_session(session_key)
    if store_uri != expected_uri:
        raise errors.FILE_LINK_INVALID("the upload session is for another store_uri")
    file_id, _, ext = store_uri.partition(".")
    if StoredFile.get_or_none(StoredFile.id == int(file_id)) is not None:
        raise errors.UPLOAD_ALREADY_DONE(f"{store_uri} was already uploaded")
    owner = User.get_by_id(user_id)
    return store(owner, f"upload.{ext}", io.BytesIO(content), file_id=int(file_id))


def commit_upload(user: User, session_key: str) -> StoredFile:
    user_id, store_uri = _open_session(session_key)
    if user_id != user.id:
        raise errors.FILE_NOT_FOUND("no such upload session")
    stored = StoredFile.get_or_none(StoredFile.id == int(store_uri.partition(".")[0]))
    if stored is None:
        raise errors.FILE_NOT_FOUND(f"nothing was uploaded to {store_uri}")
    return stored
