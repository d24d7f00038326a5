"""Workflows at design time (Coze's /api/workflow_api/*): a space's drafts, each a canvas saved as
the console sends it, and their published versions. A draft may be incomplete; it is checked
(services/workflow_canvas) when it is validated, run or published."""

from __future__ import annotations

import json
import re

from core import authz, errors
from core.ids import new_id, parse_id
from models import paging
from models.base import CompiledQuery
from models.db import write_transaction
from models.identity import User
from models.workflow import FLOW_CHATFLOW, FLOW_WORKFLOW, Workflow, WorkflowVersion
from services import (
    projects,
    refs,
    workflow_calls,  # noqa: F401  (registers LLM, Plugin, Knowledge, HTTP, Sub-workflow ...)
    workflow_canvas,
    workflow_code,  # noqa: F401  (registers the Code node)
    workflow_conversations,  # noqa: F401  (registers the conversation and message nodes)
    workflow_database,  # noqa: F401  (registers the Database nodes)
    workflow_engine,
    workflow_nodes,  # noqa: F401  (registers JSON, aggregator, Loop, Batch ...)
    workflow_sql,  # noqa: F401  (registers the SQL node)
    workflow_variables,  # noqa: F401  (registers the Variable assign node)
)

MAX_SCHEMA = 1024 * 1024
NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,99}")
FLOW_MODES = (FLOW_WORKFLOW, FLOW_CHATFLOW)
UNPUBLISHED, PUBLISHED = 1, 2  # workflow_list's status filter


def _invalid(message: str) -> errors.ApiError:
    return errors.WORKFLOW_INVALID_PARAM(message)


def load(user: User, workflow_id, action: str = authz.READ, space_id=None) -> Workflow:
    return refs.one_in_space(user, refs.WORKFLOW, workflow_id, space_id, action)


def default_schema() -> str:
    """A new draft: Start joined to End, so it runs (and publishes) before anything is added."""
    nodes = [
        {
            "id": "100001",
            "type": "1",
            "meta": {"position": {"x": 0, "y": 0}},
            "data": {"nodeMeta": {"title": "Start"}, "outputs": []},
        },
        {
            "id": "900001",
            "type": "2",
            "meta": {"position": {"x": 1000, "y": 0}},
            "data": {
                "nodeMeta": {"title": "End"},
                "inputs": {"terminatePlan": "returnVariables", "inputParameters": []},
            },
        },
    ]
    return json.dumps({"nodes": nodes, "edges": [{"sourceNodeID": "100001", "targetNodeID": "900001"}]})


def _name(raw, where: str = "name") -> str:
    name = (raw or "").strip()
    if not NAME.fullmatch(name):
        raise _invalid(f"{where}: a letter, then letters, digits and _ (at most 100)")
    return name


def _icon(user: User, icon_uri, current: str = "") -> str:
    return refs.file_uri(
        user, icon_uri or "", field="icon_uri", current=current, invalid=errors.WORKFLOW_INVALID_PARAM
    )


def _flow_mode(raw) -> int:
    mode = FLOW_WORKFLOW if raw is None else raw
    if mode not in FLOW_MODES:
        raise _invalid("flow_mode: 0 (workflow) or 3 (chatflow)")
    return mode


def create(
    user: User, space_id, name: str, description: str, *, icon_uri="", flow_mode=None, project_id=None
) -> Workflow:
    space = refs.one(user, refs.SPACE, space_id, "workflow:create", field="space_id")
    project = projects.in_space(user, project_id if project_id not in ("", "0") else None, space.id)
    return Workflow.create(
        space=space.id,
        creator=user.id,
        project_id=project,
        name=_name(name),
        description=description or "",
        icon_uri=_icon(user, icon_uri),
        flow_mode=_flow_mode(flow_mode),
        schema_json=default_schema(),
        commit_id=str(new_id()),
    )


def _schema_text(schema: str) -> str:
    if len(schema.encode()) > MAX_SCHEMA:
        raise _invalid(f"schema: at most {MAX_SCHEMA // 1024} KB")
    try:
        canvas = json.loads(schema)
    except ValueError as exc:
        raise _invalid(f"schema: not JSON ({exc})")
    if not isinstance(canvas, dict) or not isinstance(canvas.get("nodes", []), list):
        raise _invalid("schema: a canvas object ({nodes: [...], edges: [...]})")
    if not isinstance(canvas.get("edges") or [], list):
        raise _invalid("schema.edges: must be a list")
    return schema


def save(
    user: User, workflow_id, schema: str | None, *, space_id=None, name=None, description=None, icon_uri=None
) -> Workflow:
    workflow = load(user, workflow_id, authz.UPDATE, space_id)
    changes: dict = {"commit_id": str(new_id()), "test_run_passed": False}
    if schema is not None:
        changes["schema_json"] = _schema_text(schema)
    if name not in (None, ""):
        changes["name"] = _name(name)
    if description is not None:
        changes["description"] = description
    if icon_uri is not None:
        changes["icon_uri"] = _icon(user, icon_uri, workflow.icon_uri)
    return workflow.touch(**changes)


def update_meta(
    user: User, workflow_id, *, space_id=None, name=None, description=None, icon_uri=None, flow_mode=None
) -> Workflow:
    workflow = load(user, workflow_id, authz.UPDATE, space_id)
    changes: dict = {}
    if name is not None:
        changes["name"] = _name(name)
    if description is not None:
        changes["description"] = description
    if icon_uri is not None:
        changes["icon_uri"] = _icon(user, icon_uri, workflow.icon_uri)
    if flow_mode is not None:
        changes["flow_mode"] = _flow_mode(flow_mode)
    return workflow.touch(**changes) if changes else workflow


def delete(user: User, workflow_id, space_id=None) -> None:
    workflow = load(user, workflow_id, authz.DELETE, space_id)
    with write_transaction():
        workflow.delete_instance()


_LATEST = CompiledQuery(
    (WorkflowVersion,),
    lambda workflow_id: (
        WorkflowVersion.select()
        .where(WorkflowVersion.workflow == workflow_id)
        .order_by(WorkflowVersion.id.desc())
        .limit(1)
    ),
    workflow_id=-7301233,
)


def version_named(workflow: Workflow, version: str) -> WorkflowVersion | None:
    return WorkflowVersion.get_or_none(
        WorkflowVersion.workflow == workflow.id, WorkflowVersion.version == version
    )


def latest_version(workflow: Workflow) -> WorkflowVersion | None:
    found = _LATEST.first(workflow_id=workflow.id)  # every Open API run asks
    return found[0] if found else None


def space_workflows(
    user: User,
    space_id,
    *,
    page: int = 1,
    size: int = 20,
    name: str = "",
    workflow_ids=None,
    status=None,
    flow_mode=None,
    project_id=None,
    mine_only: bool = False,
) -> tuple[list[Workflow], set[int], int]:
    """(a page of the space's workflows, the ids of those published, the total)."""
    space = refs.one(user, refs.SPACE, space_id, "workflow:read", field="space_id")
    query = Workflow.select().where(Workflow.space == space.id)
    if name:
        query = query.where(Workflow.name.contains(name))
    if workflow_ids:
        query = query.where(Workflow.id.in_([parse_id(w) for w in workflow_ids if parse_id(w)] or [0]))
    if flow_mode is not None:
        query = query.where(Workflow.flow_mode == flow_mode)
    if project_id not in (None, "", "0"):
        query = query.where(Workflow.project_id == projects.in_space(user, project_id, space.id))
    if mine_only:
        query = query.where(Workflow.creator == user.id)
    published = WorkflowVersion.select(WorkflowVersion.workflow).distinct()
    if status == PUBLISHED:
        query = query.where(Workflow.id.in_(published))
    elif status == UNPUBLISHED:
        query = query.where(Workflow.id.not_in(published))
    listed = paging.page(query.order_by(Workflow.id.desc()), page, size, total=True)
    return listed.rows, published_ids(listed.rows), listed.total


def published_ids(rows: list[Workflow]) -> set[int]:
    ids = [w.id for w in rows] or [0]
    return {
        v.workflow_id
        for v in WorkflowVersion.select(WorkflowVersion.workflow).where(WorkflowVersion.workflow.in_(ids))
    }


def version_creators(rows: list[WorkflowVersion]) -> dict[int, User]:
    return {u.id: u for u in User.select().where(User.id.in_([v.creator_id for v in rows] or [0]))}


def creators(rows: list[Workflow]) -> dict[int, User]:
    return {u.id: u for u in User.select().where(User.id.in_([w.creator_id for w in rows] or [0]))}


def bound_to_agents(workflow: Workflow) -> bool:
    from models.agent import Bot

    for bot in Bot.select(Bot.config).where(Bot.space == workflow.space_id):
        if any(
            str(e.get("workflow_id")) == str(workflow.id)
            for e in bot.config.get("workflow_info_list") or []
            if isinstance(e, dict)
        ):
            return True
    return False


def validate(
    user: User, workflow_id, schema: str | None = None, space_id=None
) -> tuple[Workflow, list[workflow_canvas.Problem]]:
    """The workflow, and what would stop its draft (or `schema`, unsaved) from running."""
    workflow = load(user, workflow_id, space_id=space_id)
    return workflow, problems_of(schema if schema not in (None, "") else workflow.schema_json)


def problems_of(schema: str) -> list[workflow_canvas.Problem]:
    try:
        graph = workflow_canvas.parse(schema)
    except errors.ApiError as exc:
        return [workflow_canvas.Problem(exc.msg)]
    found = workflow_canvas.problems(graph)
    for node in workflow_canvas.every_node(graph):
        if node.type != workflow_canvas.COMMENT and not workflow_engine.supported(node.type):
            found.append(
                workflow_canvas.Problem(
                    f"node {node.id} ({node.title}): node type {node.type} is not supported yet", node.id
                )
            )
    return found


_VERSION = re.compile(r"v(\d{1,6})\.(\d{1,6})\.(\d{1,6})")


def _version_key(name: str) -> tuple[int, int, int]:
    found = _VERSION.fullmatch(name)
    if not found:
        raise errors.WORKFLOW_VERSION_INVALID(f"workflow_version: vX.Y.Z (got {name[:40]!r})")
    return tuple(int(g) for g in found.groups())


def publish(
    user: User,
    workflow_id,
    *,
    space_id=None,
    version: str | None = None,
    description: str = "",
    force: bool = False,
) -> WorkflowVersion:
    workflow = load(user, workflow_id, authz.PUBLISH, space_id)
    found = problems_of(workflow.schema_json)
    if found:
        raise _invalid(f"schema: {found[0].message} (validate_tree lists every problem)")
    if not workflow.test_run_passed and not force:
        raise _invalid(
            "the draft has not run to its end since it was saved: test_run it, or publish with force"
        )
    last = latest_version(workflow)
    if version in (None, ""):
        major, minor, patch = _version_key(last.version) if last else (1, 0, -1)
        version = f"v{major}.{minor}.{patch + 1}"
    wanted = _version_key(version)
    if last is not None and wanted <= _version_key(last.version):
        raise errors.WORKFLOW_VERSION_INVALID(f"workflow_version: must be greater than {last.version}")
    return WorkflowVersion.create(
        workflow=workflow.id,
        creator=user.id,
        version=version,
        description=description or "",
        schema_json=workflow.schema_json,
        commit_id=workflow.commit_id,
    )


def copy(user: User, workflow_id, space_id=None) -> Workflow:
    source = load(user, workflow_id, space_id=space_id)
    refs.one(user, refs.SPACE, source.space_id, "workflow:create", field="workflow_id")
    return Workflow.create(
        space=source.space_id,
        creator=user.id,
        project_id=source.project_id,
        name=f"{source.name[:95]}_copy",
        description=source.description,
        icon_uri=source.icon_uri,
        flow_mode=source.flow_mode,
        schema_json=source.schema_json,
        commit_id=str(new_id()),
    )


def delete_many(user: User, workflow_ids: list, space_id) -> int:
    """Delete several of a space's workflows at once: all of them, or (one refused) none."""
    found = _many_in_space(user, workflow_ids, space_id, authz.DELETE, "workflow_id_list")
    with write_transaction():
        return Workflow.delete().where(Workflow.id.in_([w.id for w in found])).execute()


DRAFT_SCHEMA, SUBMITTED_SCHEMA, PUBLISHED_SCHEMA = 0, 1, 2  # history_schema's type (Coze's OperateType)


def history_schema(
    user: User, workflow_id, space_id, kind: int, *, commit_id="", version="", execute_id=""
) -> tuple[Workflow, str, str]:
    """(the workflow, a canvas it had, that canvas's commit id): the one a run ran, a published
    version (by name or commit id; the latest for type 2), or the draft."""
    workflow = load(user, workflow_id, space_id=space_id)
    if execute_id:
        from services import workflow_runs

        run = workflow_runs.load(user, execute_id, workflow.id)
        return workflow, run.schema_json, (run.state or {}).get("commit_id") or ""
    published = None
    if version:
        published = version_named(workflow, version)
    elif commit_id and commit_id != workflow.commit_id:
        published = WorkflowVersion.get_or_none(
            WorkflowVersion.workflow == workflow.id, WorkflowVersion.commit_id == commit_id
        )
    elif kind == PUBLISHED_SCHEMA:
        published = latest_version(workflow)
    else:
        return workflow, workflow.schema_json, workflow.commit_id
    if published is None:
        raise errors.WORKFLOW_VERSION_INVALID(
            f"workflow {workflow.id} has no version {version or commit_id or '(none is published)'}"
        )
    return workflow, published.schema_json, published.commit_id


def references(user: User, workflow_id, space_id=None) -> list[Workflow]:
    """The space's workflows whose draft or latest version calls this one as a sub-workflow."""
    workflow = load(user, workflow_id, space_id=space_id)
    target = str(workflow.id)
    found = []
    for other in Workflow.select().where(Workflow.space == workflow.space_id, Workflow.id != workflow.id):
        canvases = [other.schema_json]
        latest = latest_version(other)
        if latest is not None:
            canvases.append(latest.schema_json)
        if any(target in text and _calls(text, target) for text in canvases):
            found.append(other)
    return found


def _calls(schema: str, target: str) -> bool:
    try:
        graph = workflow_canvas.parse(schema)
    except errors.ApiError:
        return False
    return any(
        node.type == workflow_canvas.SUB_WORKFLOW and str(node.inputs.get("workflowId")) == target
        for node in workflow_canvas.every_node(graph)
    )


def node_types(user: User, workflow_id, space_id=None) -> tuple[list[str], list[str]]:
    """(the node types the draft uses, those its sub-workflows' latest versions use)."""
    workflow = load(user, workflow_id, space_id=space_id)
    try:
        graph = workflow_canvas.parse(workflow.schema_json)
    except errors.ApiError:
        return [], []
    nodes = list(workflow_canvas.every_node(graph))
    inner: set[str] = set()
    for node in nodes:
        if node.type == workflow_canvas.SUB_WORKFLOW:
            child = Workflow.get_or_none(
                Workflow.id == parse_id(node.inputs.get("workflowId")), Workflow.space == workflow.space_id
            )
            latest = latest_version(child) if child else None
            if latest is not None:
                try:
                    inner |= {
                        n.type for n in workflow_canvas.every_node(workflow_canvas.parse(latest.schema_json))
                    }
                except errors.ApiError:
                    continue
    return sorted({n.type for n in nodes}, key=int), sorted(inner, key=int)


def released(user: User, space_id, *, page: int, size: int, name: str = "", flow_mode=None):
    """(a page of the space's published workflows with their latest versions, the total)."""
    space = refs.one(user, refs.SPACE, space_id, "workflow:read", field="space_id")
    query = Workflow.select().where(
        Workflow.space == space.id, Workflow.id.in_(WorkflowVersion.select(WorkflowVersion.workflow))
    )
    if name:
        query = query.where(Workflow.name.contains(name))
    if flow_mode is not None:
        query = query.where(Workflow.flow_mode == flow_mode)
    listed = paging.page(query.order_by(Workflow.id.desc()), page, size, total=True)
    latest: dict[int, WorkflowVersion] = {}
    ids = [w.id for w in listed.rows] or [0]
    for version in (
        WorkflowVersion.select().where(WorkflowVersion.workflow.in_(ids)).order_by(WorkflowVersion.id)
    ):
        latest[version.workflow_id] = version  # one query for the page; the last one wins
    return [(w, latest[w.id]) for w in listed.rows], listed.total


def details(user: User, workflow_ids: list, space_id=None) -> list[Workflow]:
    return _many_in_space(user, workflow_ids, space_id, authz.READ, "workflow_ids")


def _many_in_space(user: User, workflow_ids: list, space_id, action: str, field: str) -> list[Workflow]:
    """The workflows named, each of which must be one the caller may act on in `space_id` (when given)."""
    found = refs.many(user, refs.WORKFLOW, workflow_ids, action, field=field)
    if space_id not in (None, ""):
        space = refs.one(user, refs.SPACE, space_id, "workflow:read", field="space_id")
        for workflow in found:
            if workflow.space_id != space.id:
                raise refs.WORKFLOW.refused(workflow.id, field)
    return found


OPEN_STATUS = {
    "all": None,
    "published_online": PUBLISHED,
    "published_draft": PUBLISHED,
    "unpublished_draft": UNPUBLISHED,
}


def open_list(user: User, space_id, *, mode: str = "", project_id="", status: str = "", page: int, size: int):
    """The Open API's workflow list: (a page of the space's workflows, whether more follow);
    without a workspace, the caller's personal one."""
    space = space_id or str(user.personal_space().id)
    flow_mode = {"workflow": FLOW_WORKFLOW, "chatflow": FLOW_CHATFLOW}.get(mode) if mode else None
    rows, _, total = space_workflows(
        user,
        space,
        page=page,
        size=size,
        status=OPEN_STATUS.get(status or "all"),
        flow_mode=flow_mode,
        project_id=project_id or None,
    )
    return rows, page * size < total


def versions(user: User, workflow_id, *, size: int, after=None) -> tuple[list[WorkflowVersion], bool]:
    """A workflow's published versions, newest first, after the version id `after` (the page token)."""
    workflow = load(user, workflow_id)
    query = WorkflowVersion.select().where(WorkflowVersion.workflow == workflow.id)
    if parse_id(after):
        query = query.where(WorkflowVersion.id < parse_id(after))
    found = list(query.order_by(WorkflowVersion.id.desc()).limit(size + 1))
    return found[:size], len(found) > size
