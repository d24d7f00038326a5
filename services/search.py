"""Listing and searching a space's resources: agents (intelligence list, recently edited) and
the resource library (prompts now; workflows, knowledge and plugins as their modules land)."""

from __future__ import annotations

import dataclasses

from peewee import fn

from core import authz, errors
from core.ids import parse_id
from models import paging
from models.agent import Bot, BotPublication
from models.identity import SpaceMember, User
from models.library import PromptResource
from models.project import Project
from services import refs

TYPE_BOT, TYPE_APP = 1, 2
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


def _space(user: User, space_id, *permissions: str) -> int:
    """The space a listing names; the caller must hold each of `permissions` (`<resource>:read` of
    the kinds it lists) there."""
    number = refs.one(user, refs.SPACE, space_id, field="space_id").id
    for permission in permissions:
        authz.require_space(user, number, permission)
    return number


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


def _agents(user: User, space_id: int, criteria: AgentQuery):
    query = Bot.select(Bot, User).join(User, on=(Bot.creator == User.id)).where(Bot.space == space_id)
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
        return query.order_by(Bot.created_at.desc(), Bot.id.desc())
    if criteria.order == 2:
        last_publish = BotPublication.select(fn.MAX(BotPublication.updated_at)).where(
            BotPublication.bot == Bot.id
        )
        return query.order_by(fn.COALESCE(last_publish, 0).desc(), Bot.id.desc())
    return query.order_by(Bot.updated_at.desc(), Bot.id.desc())


def _projects(user: User, space_id: int, criteria: AgentQuery):
    """Projects are never published here, so a list of published ones holds none."""
    query = (
        Project.select(Project, User)
        .join(User, on=(Project.creator == User.id))
        .where(Project.space == space_id if criteria.published is not True else Project.id == -1)
    )
    if criteria.name:
        query = query.where(
            Project.name.contains(criteria.name) | Project.description.contains(criteria.name)
        )
    if criteria.mine_only:
        query = query.where(Project.creator == user.id)
    if criteria.order == 1:
        return query.order_by(Project.created_at.desc(), Project.id.desc())
    if criteria.order == 2:
        return query.order_by(Project.id.desc())
    return query.order_by(Project.updated_at.desc(), Project.id.desc())


def intelligences(user: User, criteria: AgentQuery) -> tuple[list[tuple], int, int | None]:
    """A space's agents and projects filtered and sorted as the console asks: ((row, last
    published, type) ..., total, next offset)."""
    types = criteria.types or (TYPE_BOT,)
    readable = {TYPE_BOT: "agent:read", TYPE_APP: "project:read"}
    space_id = _space(user, criteria.space_id, *(readable[t] for t in types if t in readable))
    offset, size = _offset(criteria.cursor), min(criteria.size or 20, MAX_SIZE)
    sources = [(TYPE_BOT, _agents), (TYPE_APP, _projects)]
    queries = [(kind, make(user, space_id, criteria)) for kind, make in sources if kind in types]
    if len(queries) == 1:
        kind, query = queries[0]
        listed = paging.window(query, offset, size, total=True)
        rows, total, more = [(row, kind) for row in listed.rows], listed.total, listed.has_more
    else:  # both kinds: the first offset + size of each, merged in the order asked for
        rows = [(row, kind) for kind, query in queries for row in query.limit(offset + size + 1)]
        total = sum(query.count() for _, query in queries)
        more = offset + size < total
    bots = [row.id for row, kind in rows if kind == TYPE_BOT]
    published = BotPublication.last_published_at(bots)
    found = [(row, published.get(row.id) if kind == TYPE_BOT else None, kind) for row, kind in rows]
    if len(queries) > 1:
        found.sort(key=lambda item: _sort_key(item, criteria.order), reverse=True)
        found = found[offset : offset + size]
    return found, total, offset + len(found) if more else None


def intelligence(user: User, raw_id, kind: int, *, field: str = "intelligence_id") -> tuple:
    """One agent or project as the list shows it: (row with its creator, last published)."""
    model, ref = (Bot, refs.AGENT) if kind == TYPE_BOT else (Project, refs.PROJECT)
    found = refs.one(user, ref, raw_id, field=field)
    row = (
        model.select(model, User).join(User, on=(model.creator == User.id)).where(model.id == found.id).get()
    )
    published = BotPublication.last_published_at([row.id]).get(row.id) if kind == TYPE_BOT else None
    return row, published


def _sort_key(item: tuple, order: int) -> tuple:
    row, published_at, _ = item
    if order == 1:
        return row.created_at, row.id
    if order == 2:
        return published_at or 0, row.id
    return row.updated_at, row.id


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
    space_id = _space(user, criteria.space_id, "prompt:read")
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
