"""Personal access tokens: creation with an expiry, listing, renaming, deletion (owner only)."""

from __future__ import annotations

import time

from core import errors
from core.security import new_personal_access_token
from models import paging
from models.identity import NEVER, PersonalAccessToken, User
from services import refs

DEFAULT_DURATION_DAYS = 30
MAX_DURATION_DAYS = 3650


def _expiry(duration_day: str | None, expire_at: int | None) -> int:
    now = int(time.time())
    if duration_day == "permanent":
        return NEVER
    if duration_day == "customize" or (duration_day is None and expire_at is not None):
        if expire_at is None:
            raise errors.PERMISSION_INVALID_PARAM('expire_at is required when duration_day is "customize"')
        if expire_at <= now:
            raise errors.PERMISSION_INVALID_PARAM("expire_at must be in the future")
        if expire_at > now + MAX_DURATION_DAYS * 86400:
            raise errors.PERMISSION_INVALID_PARAM(f"expire_at must be within {MAX_DURATION_DAYS} days")
        return expire_at
    days = int(duration_day) if duration_day else DEFAULT_DURATION_DAYS
    if days > MAX_DURATION_DAYS:
        raise errors.PERMISSION_INVALID_PARAM(f"duration_day must be at most {MAX_DURATION_DAYS}")
    return now + days * 86400


def create(
    user: User, name: str, duration_day: str | None, expire_at: int | None
) -> tuple[PersonalAccessToken, str]:
    expiry = _expiry(duration_day, expire_at)
    plaintext, token_hash = new_personal_access_token()
    pat = PersonalAccessToken.create(user=user.id, name=name.strip(), token_hash=token_hash, expire_at=expiry)
    return pat, plaintext


def page(user: User, page_no: int, size: int) -> paging.Page:
    query = PersonalAccessToken.owned(user.id).order_by(PersonalAccessToken.id.desc())
    return paging.page(query, page_no, size, total=True)


def owned(user: User, token_id) -> PersonalAccessToken:
    return refs.one(user, refs.PAT, token_id, field="id")


def rename(user: User, token_id, name: str) -> PersonalAccessToken:
    return owned(user, token_id).touch(name=name.strip())


def delete(user: User, token_id) -> None:
    owned(user, token_id).delete_instance()
