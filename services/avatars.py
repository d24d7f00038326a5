"""Avatars: images checked by their bytes, stored under the data directory, served publicly."""

from __future__ import annotations

import os

from core import errors
from core.ids import new_id
from core.settings import get_settings
from models.identity import User

# Magic bytes -> (extension, media type). The name and declared type of an upload are ignored.
_SIGNATURES = [
    (b"\xff\xd8\xff", "jpg", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "png", "image/png"),
    (b"GIF87a", "gif", "image/gif"),
    (b"GIF89a", "gif", "image/gif"),
]
MEDIA_TYPES = {"jpg": "image/jpeg", "png": "image/png", "gif": "image/gif", "webp": "image/webp"}


def sniff_image(head: bytes) -> str | None:
    for magic, ext, _ in _SIGNATURES:
        if head.startswith(magic):
            return ext
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    return None


def _avatar_dir():
    path = get_settings().data_dir / "avatars"
    path.mkdir(parents=True, exist_ok=True)
    return path


def store_avatar(user: User, stream, max_bytes: int) -> str:
    content = stream.read(max_bytes + 1)
    if not content:
        raise errors.NO_FILE("the avatar file is empty")
    if len(content) > max_bytes:
        raise errors.FILE_TOO_LARGE(f"the avatar is over the limit of {max_bytes} bytes")
    ext = sniff_image(content[:16])
    if ext is None:
        raise errors.UNSUPPORTED_FILE_TYPE("avatar must be a JPEG, PNG, GIF or WebP image")
    key = f"{new_id()}.{ext}"
    target = _avatar_dir() / key
    tmp = target.with_suffix(".part")
    tmp.write_bytes(content)
    os.replace(tmp, target)
    old_key = user.avatar_key
    user.touch(avatar_key=key)
    if old_key:
        (_avatar_dir() / old_key).unlink(missing_ok=True)
    return f"/api/user/avatar/{key}"


def read_avatar(key: str) -> tuple[bytes, str]:
    # The spec's pattern admits only "<digits>.<ext>", so the key cannot leave the directory.
    path = _avatar_dir() / key
    if not path.is_file():
        raise errors.FILE_NOT_FOUND(f"avatar {key} not found")
    return path.read_bytes(), MEDIA_TYPES[key.rsplit(".", 1)[1]]
