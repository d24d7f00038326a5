"""Listing and searching a space's resources: agents (intelligence list, recently edited) and
the resource library (prompts now; workflows, knowledge and plugins as their modules land)."""

from __future__ import annotations

import dataclasses

from peewee import fn

from core import errors
from core.ids import parse_id
from models import paging
from models.agent import Bot, BotPublication
from models.identity import SpaceMember, User
from models.library import PromptResource
from services import refs

TYPE_BOT = 1
RES_PROMPT = 6
MAX_SIZE = 100


def _offset(cursor) -> int:
    """Cursors are opaque to clients; here they are the offset of the next item."""
    if cursor in (None, "", "0"):
        return 0
    number = parse_id(cursor)
    if number is None or number > 10_000_000:
        raise errors.SEARCH_INVALID_PARAM(f"cursor {cursor!r} is not one this server gave out")
    return number


def _space(user: User, space_id) -> int:
    return refs.one(user, refs.SPACE, space_id, field="space_id").id


@dataclasses.dataclass(frozen=True)
class SpaceListing:
    """What every listing of a space's resources is asked: whose, and which page (by cursor)."""

    space_id: object
    mine_only: bool = False
    cursor: object = None
    size: int = 20


@dataclasses.dataclass(frozen=True)
class AgentQuery(SpaceListing):
    types: tuple = (TYPE_BOT,)
    name: str = ""
    published: bool | None = None  # True: published ones only, False: never published, None: all
    order: int = 0  # 0 last edited, 1 created, 2 last published


def intelligences(user: User, criteria: AgentQuery) -> tuple[list[tuple[Bot, int | None]], int, int | None]:
    """A space's agents filtered and sorted as the console asks; (rows, total, next offset)."""
    space_id = _space(user, criteria.space_id)
    types = criteria.types or (TYPE_BOT,)
    query = (
        Bot.select(Bot, User)
        .join(User, on=(Bot.creator == User.id))
        .where(Bot.space == space_id if TYPE_BOT in types else Bot.id == -1)
    )
    if criteria.name:
        query = query.where(Bot.name.contains(criteria.name) | Bot.description.contains(criteria.name))
    if criteria.mine_only:
        query = query.where(Bot.creator == user.id)
    published_ids = BotPublication.select(BotPublication.bot).distinct()
    if criteria.published is True:
        query = query.where(Bot.id.in_(published_ids))
    elif criteria.published is False:
        query = query.where(Bot.id.not_in(published_ids))
    if criteria.order == 1:
        query = query.order_by(Bot.created_at.desc(), Bot.id.desc())
    elif criteria.order == 2:
        last_publish = BotPublication.select(fn.MAX(BotPublication.updated_at)).where(
            BotPublication.bot == Bot.id
        )
        query = query.order_by(fn.COALESCE(last_publish, 0).desc(), Bot.id.desc())
    else:
        query = query.order_by(Bot.updated_at.desc(), Bot.id.desc())
    listed = paging.window(query, _offset(criteria.cursor), min(criteria.size or 20, MAX_SIZE), total=True)
    published = BotPublication.last_published_at([b.id for b in listed.rows])
    return [(b, published.get(b.id)) for b in listed.rows], listed.total, listed.next_offset


def recently_edited(user: User, size: int) -> list[tuple[Bot, int | None]]:
    """Agents across the caller's spaces, last edited first."""
    spaces = SpaceMember.select(SpaceMember.space).where(SpaceMember.user == user.id)
    bots = list(
        Bot.select(Bot, User)
        .join(User, on=(Bot.creator == User.id))
        .where(Bot.space.in_(spaces))
        .order_by(Bot.updated_at.desc(), Bot.id.desc())
        .limit(min(size, MAX_SIZE))
    )
    published = BotPublication.last_published_at([b.id for b in bots])
    return [(b, published.get(b.id)) for b in bots]


@dataclasses.dataclass(frozen=True)
class LibraryQuery(SpaceListing):
    types: tuple = (RES_PROMPT,)
    keyword: str = ""
    unpublished_only: bool = False


def library(user: User, criteria: LibraryQuery) -> tuple[list[PromptResource], int | None]:
    """The space's library resources of the requested types (prompts, so far), creators joined."""
    space_id = _space(user, criteria.space_id)
    if RES_PROMPT not in (criteria.types or (RES_PROMPT,)):
        return [], None
    query = PromptResource.select(PromptResource, User).join(User).where(PromptResource.space == space_id)
    keyword = criteria.keyword
    if keyword:
        query = query.where(
            PromptResource.name.contains(keyword) | PromptResource.description.contains(keyword)
        )
    if criteria.mine_only:
        query = query.where(PromptResource.creator == user.id)
    if criteria.unpublished_only:  # prompts have no publishing: all are "published"
        query = query.where(PromptResource.id == -1)
    query = query.order_by(PromptResource.updated_at.desc(), PromptResource.id.desc())
    listed = paging.window(query, _offset(criteria.cursor), min(criteria.size or 20, MAX_SIZE))
    return list(listed.rows), listed.next_offset
