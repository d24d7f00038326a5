"""The one ownership-checked lookup: every id a request names, at any depth of its body (the
resource it acts on, icons, files in message content, knowledge bases bound to an agent, and the
tables, plugins and workflows the next modules add), is resolved here before it is used or stored.

Space-owned rows are found through the caller's membership (core.authz); user-owned rows (files,
conversations) through their owner. Anything else is simply not found, with the kind's own code
and the field named, so ids of other people's objects reveal nothing. openapi.yaml marks each such
field with `x-reference: <kind>`, and tests/test_references.py walks the spec to prove that
another user's object is refused in every one of them."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable

from core import authz, errors, links
from core.ids import parse_id
from models.agent import Bot
from models.channel import Channel
from models.conversation import ChatRun, Conversation, Message
from models.corporation import Corporation, Department, Employee
from models.files import StoredFile
from models.identity import PersonalAccessToken, Space, User
from models.knowledge import Dataset, Document, Slice
from models.library import PromptResource, ShortcutCommand
from models.memory import MemoryDatabase
from models.plugin import Plugin, PluginTool
from models.project import Project
from models.webhook import WebhookDelivery, WebhookSubscription
from models.workflow import Workflow, WorkflowRun


@dataclasses.dataclass(frozen=True)
class Kind:
    label: str
    not_found: errors.ErrorCode
    model: type | None = None  # None: its module is not built yet, so nothing is found
    space_of: Callable | None = None  # space-owned rows: row -> space id
    owner_of: Callable | None = None  # user-owned rows: row -> user id
    resource: str = ""  # the permission catalogue's resource (core.authz)
    server_wide: bool = False  # rows of the global domain: the permission is asked before the lookup

    def permission(self, action: str) -> str:
        return action if ":" in action else f"{self.resource}:{action}"

    def refused(self, raw_id, field: str) -> errors.ApiError:
        return self.not_found(
            f"{field}: {self.label} {raw_id} not found" if field else f"{self.label} {raw_id} not found"
        )


def _dataset_space(row) -> int:
    return Dataset.by_id(row.dataset_id).space_id


SPACE = Kind("space", errors.SPACE_NOT_FOUND, Space, space_of=lambda row: row.id, resource="workspace")
AGENT = Kind("agent", errors.AGENT_NOT_FOUND, Bot, space_of=lambda row: row.space_id, resource="agent")
DATASET = Kind(
    "knowledge base",
    errors.KNOWLEDGE_NOT_FOUND,
    Dataset,
    space_of=lambda row: row.space_id,
    resource="knowledge",
)
DOCUMENT = Kind(
    "document", errors.DOCUMENT_NOT_FOUND, Document, space_of=_dataset_space, resource="knowledge"
)
SLICE = Kind("slice", errors.SLICE_NOT_FOUND, Slice, space_of=_dataset_space, resource="knowledge")
PROMPT = Kind(
    "prompt", errors.PROMPT_NOT_FOUND, PromptResource, space_of=lambda row: row.space_id, resource="prompt"
)
FILE = Kind("file", errors.FILE_NOT_FOUND, StoredFile, owner_of=lambda row: row.owner_id)
CONVERSATION = Kind(
    "conversation", errors.CONVERSATION_NOT_FOUND, Conversation, owner_of=lambda row: row.creator_id
)
DATABASE = Kind(
    "database",
    errors.DATABASE_NOT_FOUND,
    MemoryDatabase,
    space_of=lambda row: row.space_id,
    resource="database",
)
PLUGIN = Kind("plugin", errors.PLUGIN_NOT_FOUND, Plugin, space_of=lambda row: row.space_id, resource="plugin")
PROJECT = Kind(
    "project", errors.APP_NOT_FOUND, Project, space_of=lambda row: row.space_id, resource="project"
)
PAT = Kind(
    "personal access token", errors.PAT_NOT_FOUND, PersonalAccessToken, owner_of=lambda row: row.user_id
)
# Rows that belong to a parent the caller already holds: resolved with `under`.
MESSAGE = Kind("message", errors.MESSAGE_NOT_FOUND, Message)
CHAT = Kind("chat", errors.CHAT_NOT_FOUND, ChatRun)
SHORTCUT = Kind("shortcut command", errors.SHORTCUT_NOT_FOUND, ShortcutCommand)
PLUGIN_TOOL = Kind("tool", errors.PLUGIN_TOOL_NOT_FOUND, PluginTool)
WORKFLOW = Kind(
    "workflow", errors.WORKFLOW_NOT_FOUND, Workflow, space_of=lambda row: row.space_id, resource="workflow"
)
CHANNEL = Kind(
    "channel", errors.CHANNEL_NOT_FOUND, Channel, space_of=lambda row: row.space_id, resource="channel"
)
WEBHOOK = Kind(
    "webhook",
    errors.WEBHOOK_NOT_FOUND,
    WebhookSubscription,
    space_of=lambda row: row.space_id,
    resource="webhook",
)
WEBHOOK_DELIVERY = Kind(
    "webhook delivery",
    errors.WEBHOOK_DELIVERY_NOT_FOUND,
    WebhookDelivery,
    space_of=lambda row: WebhookSubscription.by_id(row.subscription_id).space_id,
    resource="webhook",
)
WORKFLOW_RUN = Kind(
    "workflow run",
    errors.WORKFLOW_RUN_NOT_FOUND,
    WorkflowRun,
    space_of=lambda row: row.space_id,
    resource="workflow",
)
# The organisation chart is the server's (global domain): whoever holds the cell sees every row,
# and whoever does not is refused before any row is looked up, so ids reveal nothing.
ORGANIZATION = Kind(
    "organization", errors.CORPORATION_NOT_FOUND, Corporation, resource="organization", server_wide=True
)
DEPARTMENT = Kind(
    "department", errors.DEPARTMENT_NOT_FOUND, Department, resource="department", server_wide=True
)
EMPLOYEE = Kind("employee", errors.EMPLOYEE_NOT_FOUND, Employee, resource="employee", server_wide=True)


def _scope(kind: Kind, row) -> int:
    """The user (owner kinds) or space (space kinds) a row belongs to."""
    if kind.owner_of is not None:
        return kind.owner_of(row)
    if kind.space_of is None:
        raise TypeError(f"{kind.label}s are resolved under their parent (refs.under)")
    return kind.space_of(row)


def _check(user: User, kind: Kind, scope: int, raw_id, action: str, field: str) -> None:
    """`action` is one of the resource's actions (`update`), or a whole permission
    (`agent:create`, asked of the space an agent is created in)."""
    if kind.owner_of is not None:
        if scope != user.id:
            raise kind.refused(raw_id, field)
        return
    try:
        authz.require_space(user, scope, kind.permission(action))
    except errors.ApiError as exc:
        if exc.error is errors.SPACE_NOT_FOUND:
            raise kind.refused(raw_id, field)
        raise


def one(user: User, kind: Kind, raw_id, action: str = authz.READ, *, field: str = ""):
    """The row `raw_id` names, if the caller may act on it; else the kind's not-found error."""
    if kind.server_wide:
        authz.require(user, kind.permission(action))
    number = parse_id(raw_id)
    row = kind.model.by_id(number) if number is not None and kind.model is not None else None
    if row is None:
        raise kind.refused(raw_id, field)
    if kind.server_wide:
        return row
    _check(user, kind, _scope(kind, row), raw_id, action, field)
    return row


def many(user: User, kind: Kind, raw_ids, action: str = authz.READ, *, field: str = "") -> list:
    """The rows named, in order and without repeats, in one query; the first refused id fails all.
    `field` names the list ("dataset_ids" gives "dataset_ids[2]") or each item's place in it
    ("knowledge_info[{}].id")."""
    if kind.server_wide:
        authz.require(user, kind.permission(action))
    numbers = [parse_id(raw) for raw in raw_ids]
    found = {}
    if kind.model is not None:
        wanted = list({n for n in numbers if n is not None})
        found = (
            {row.id: row for row in kind.model.select().where(kind.model.id.in_(wanted))} if wanted else {}
        )
    spaces = {}  # rows that belong to a space through their knowledge base: all of them in one query
    if kind.space_of is _dataset_space and found:
        dataset_ids = {row.dataset_id for row in found.values()}
        spaces = dict(Dataset.select(Dataset.id, Dataset.space).where(Dataset.id.in_(dataset_ids)).tuples())
    rows, seen, allowed = [], set(), set()
    for index, (raw, number) in enumerate(zip(raw_ids, numbers)):
        where = (field.format(index) if "{}" in field else f"{field}[{index}]") if field else ""
        row = found.get(number)
        if row is None:
            raise kind.refused(raw, where)
        scope = None if kind.server_wide else spaces[row.dataset_id] if spaces else _scope(kind, row)
        if scope is not None and scope not in allowed:
            _check(user, kind, scope, raw, action, where)
            allowed.add(scope)
        if number not in seen:
            seen.add(number)
            rows.append(row)
    return rows


def one_in_space(
    user: User,
    kind: Kind,
    raw_id,
    space_id,
    action: str = authz.READ,
    *,
    field: str = "",
    space_field: str = "space_id",
):
    """`one`, for requests that also name the row's space (Coze's bodies send both): that space
    must be one the caller may see, and hold the row."""
    row = one(user, kind, raw_id, action, field=field)
    if space_id not in (None, ""):
        space = one(user, SPACE, space_id, field=space_field)
        if kind.space_of(row) != space.id:
            raise kind.refused(raw_id, field) from None
    return row


def optional(user: User, kind: Kind, raw_id, *, field: str) -> int | None:
    """The id of an optional reference that Coze sends as 0 or "" when there is none."""
    if raw_id in (None, "", "0", 0):
        return None
    return one(user, kind, raw_id, field=field).id


def under(kind: Kind, raw_id, *conditions, field: str = "", where: str = ""):
    """A row named under a parent the caller already holds (a message of a conversation, a
    shortcut of an agent): `conditions` tie it to that parent."""
    row = kind.model.requested(raw_id, *conditions)
    if row is None:
        raise kind.not_found(
            " ".join(
                filter(None, (f"{field}:" if field else "", kind.label, str(raw_id), "not found", where))
            )
        )
    return row


_FILE_URI = re.compile(r"^file:([0-9]{1,19})$")


def file_uri(
    user: User, uri: str | None, *, field: str, current=(), invalid: errors.ErrorCode = errors.BAD_REQUEST
) -> str:
    """An icon or image reference to store: "" (none), an http(s) URL, or `file:<id>` of one of the
    caller's own uploads. Values the resource already holds (`current`: one or several) are kept
    as they are, so a teammate's icon survives an edit that resends it."""
    uri = (uri or "").strip()
    kept = (current,) if isinstance(current, str) else tuple(current)
    if not uri or uri in kept or uri.startswith(("https://", "http://")):
        return uri
    match = _FILE_URI.match(uri)
    if match is None:
        raise invalid(f"{field}: expected file:<id> of an upload or an http(s) URL, got {uri[:80]!r}")
    return links.file_uri(one(user, FILE, match.group(1), field=field).id)
