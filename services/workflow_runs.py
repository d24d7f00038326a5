"""Workflow runs: an execution of a workflow's canvas (the draft for the console's test runs, the
latest published version for the Open API), recorded as a WorkflowRun whose id is the execute id.

A run is executed by `execute` wherever it was asked for: inside the request for sync and stream
runs, on the task queue for async ones (test_run, `is_async`). The node results, and the outcomes
a resumed run starts from, are saved as each node finishes (async runs, whose progress is polled)
or when the run stops. A run that waits for the user (a Question or Input node) stops as
interrupted with its events; resuming answers one and executes the run again from what was done.
Every status change is a conditional update from running, so a cancel (here or from another
process) wins over whatever the run was about to write. Runs whose process died are resumed from
their last finished node or failed with the reason (services/recovery)."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable

from core import authz, errors
from core.ids import new_id, parse_id
from core.settings import get_settings
from core.tracing import tracer
from models.base import now_s
from models.db import run_db, write_transaction
from models.identity import User
from models.workflow import (
    MODE_ASYNC,
    MODE_STREAM,
    RUN_CANCELLED,
    RUN_FAILED,
    RUN_INTERRUPTED,
    RUN_RUNNING,
    RUN_SUCCEEDED,
    Workflow,
    WorkflowRun,
    WorkflowVersion,
)
from services import (
    cancel_watch,
    recovery,
    refs,
    run_caps,
    webhooks,
    workflow_canvas,
    workflow_conversations,
    workflow_engine,
    workflow_variables,
    workflows,
)
from services.tasks import queue

log = logging.getLogger("cozeplus.workflow")

MAX_ATTEMPTS = 3
STATUS_NAMES = {
    RUN_RUNNING: "running",
    RUN_SUCCEEDED: "success",
    RUN_FAILED: "fail",
    RUN_CANCELLED: "cancel",
    RUN_INTERRUPTED: "interrupted",
}

# What a stream hears as it happens: a node's message (NodeResult, text, finished). How the run
# ended is in its row when execute returns.
Listener = Callable[[workflow_engine.NodeResult, str, bool], None]


def parameters_of(raw, field: str = "parameters") -> dict:
    """The Start node's values: a JSON object, or its text (the SDKs send either)."""
    if raw in (None, ""):
        return {}
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError as exc:
            raise errors.WORKFLOW_INVALID_PARAM(f"{field}: not JSON ({exc})")
    if not isinstance(raw, dict):
        raise errors.WORKFLOW_INVALID_PARAM(f"{field}: must be a JSON object of the Start node's inputs")
    return raw


def _published(workflow: Workflow, version: str | None) -> WorkflowVersion:
    if version:
        found = workflows.version_named(workflow, version)
        if found is None:
            raise errors.WORKFLOW_NOT_PUBLISHED(
                f"version: workflow {workflow.id} has no version {version[:40]!r}"
            )
        return found
    found = workflows.latest_version(workflow)
    if found is None:
        raise errors.WORKFLOW_NOT_PUBLISHED(
            f"workflow_id: workflow {workflow.id} has not been published (publish it, or test_run the draft)"
        )
    return found


def prepare(
    user: User,
    workflow_id,
    parameters: dict,
    *,
    mode: int,
    debug: bool = False,
    version: str | None = None,
    bot_id=None,
    connector_id=None,
    space_id=None,
) -> WorkflowRun:
    """A new run, checked and recorded; `execute` (or the task queue) runs it."""
    workflow = workflows.load(user, workflow_id, authz.EXECUTE, space_id)
    bot = refs.optional(user, refs.AGENT, bot_id, field="bot_id")
    if debug:
        schema, version_name = workflow.schema_json, ""
    else:
        published = _published(workflow, version)
        schema, version_name = published.schema_json, published.version
    workflow_canvas.parse(schema)
    run_caps.admit(user)
    return record(user, workflow, schema, version_name, parameters, mode, debug, bot, parse_id(connector_id))


def record(
    user: User,
    workflow: Workflow,
    schema: str,
    version: str,
    parameters: dict,
    mode: int,
    debug: bool = False,
    bot_id: int | None = None,
    connector_id: int | None = None,
) -> WorkflowRun:
    """A run of `schema` (a version of `workflow`, or its draft), checked by the caller."""
    return WorkflowRun(
        workflow=workflow.id,
        space_id=workflow.space_id,
        creator=user.id,
        version=version,
        schema_json=schema,
        debug=debug,
        run_mode=mode,
        inputs=parameters,
        bot_id=bot_id,
        connector_id=connector_id or 1024,
        state={"commit_id": workflow.commit_id if debug else ""},
        worker_id=None if mode == MODE_ASYNC else recovery.current_id(),
    ).insert_new()


def node_debug(
    user: User, workflow_id, node_id: str, values: dict, *, space_id=None, bot_id=None
) -> WorkflowRun:
    """A test run of one node of the draft: its inputs given by name (in place of what it refers
    to), Start joined to it and it to an End returning its outputs."""
    workflow = workflows.load(user, workflow_id, authz.EXECUTE, space_id)
    bot = refs.optional(user, refs.AGENT, bot_id, field="bot_id")
    canvas = json.loads(workflow.schema_json or "{}")
    found = next(
        (n for n in canvas.get("nodes") or [] if isinstance(n, dict) and str(n.get("id")) == str(node_id)),
        None,
    )
    if found is None or found.get("type") in (workflow_canvas.START, workflow_canvas.END):
        raise errors.WORKFLOW_INVALID_PARAM(
            f"node_id: the draft has no node {str(node_id)[:40]!r} to debug alone"
        )
    alone = json.loads(json.dumps(found))
    inputs = alone.setdefault("data", {}).setdefault("inputs", {}) or {}
    for parameter in inputs.get("inputParameters") or []:
        if isinstance(parameter, dict) and parameter.get("name") in values:
            block = parameter.setdefault("input", {})
            block["value"] = {"type": "literal", "content": values[parameter["name"]]}
    outputs = [o for o in (alone["data"].get("outputs") or []) if isinstance(o, dict) and o.get("name")]
    end_inputs = [
        {
            "name": o["name"],
            "input": {
                "type": o.get("type") or "string",
                "value": {
                    "type": "ref",
                    "content": {"blockID": alone["id"], "name": o["name"], "source": "block-output"},
                },
            },
        }
        for o in outputs
    ]
    schema = json.dumps(
        {
            "nodes": [
                {"id": workflow_canvas.START_ID, "type": workflow_canvas.START, "data": {"outputs": []}},
                alone,
                {
                    "id": workflow_canvas.END_ID,
                    "type": workflow_canvas.END,
                    "data": {"inputs": {"terminatePlan": "returnVariables", "inputParameters": end_inputs}},
                },
            ],
            "edges": [
                {"sourceNodeID": workflow_canvas.START_ID, "targetNodeID": alone["id"]},
                {"sourceNodeID": alone["id"], "targetNodeID": workflow_canvas.END_ID},
            ],
        }
    )
    workflow_canvas.parse(schema)
    run = record(user, workflow, schema, "", values, MODE_ASYNC, debug=True, bot_id=bot)
    run.state = {**(run.state or {}), "commit_id": "", "node_id": str(node_id)}  # it does not test the draft
    WorkflowRun.update_where(run.id, {}, state=run.state)
    return run


CHAT_INPUT = "USER_INPUT"  # what a chatflow's Start node calls the user's message


def chat_turn(
    user: User, workflow_id, query: str, raw_parameters, *, bot_id=None, conversation_id=None
) -> tuple[WorkflowRun, str]:
    """A chatflow's turn in a conversation: the run waiting there for the user (a question it
    asked) resumed with `query` as the answer, or a new run with `query` as its USER_INPUT.
    The workflow is found before its parameters are read, as for every run (404 before 400)."""
    workflow = workflows.load(user, workflow_id, authz.EXECUTE)
    parameters = parameters_of(raw_parameters)
    chat = workflow_conversations.for_chat(user, workflow, conversation_id)
    conversation = str(chat.id)
    workflow_conversations.record(chat.id, "user", query)
    waiting = (
        WorkflowRun.select()
        .where(
            WorkflowRun.workflow == workflow.id,
            WorkflowRun.creator == user.id,
            WorkflowRun.status == RUN_INTERRUPTED,
        )
        .order_by(WorkflowRun.id.desc())
        .limit(20)
    )
    for run in waiting:
        events = pending_events(run)
        if (run.state or {}).get("conversation_id") == conversation and events:
            return resume(user, run, events[0]["id"], query, mode=MODE_STREAM), conversation
    run = prepare(user, workflow.id, {**parameters, CHAT_INPUT: query}, mode=MODE_STREAM, bot_id=bot_id)
    run.state = {**(run.state or {}), "conversation_id": conversation}
    WorkflowRun.update_where(run.id, {}, state=run.state)
    return run, conversation


def question_text(event: dict) -> str:
    """What a waiting event asks, as text (an option question lists its options)."""
    try:
        data = json.loads(event.get("data") or "{}")
    except ValueError:
        return ""
    message = (data.get("messages") or [{}])[0]
    content = message.get("content")
    if isinstance(content, dict):
        options = ", ".join(o.get("name", "") for o in content.get("options") or [])
        return f"{content.get('question', '')} ({options})" if options else str(content.get("question", ""))
    return str(content or data.get("content") or "")


def load(
    user: User,
    execute_id,
    workflow_id=None,
    space_id=None,
    action: str = authz.READ,
    field: str = "execute_id",
) -> WorkflowRun:
    """The run, checked like any space-owned row; with `workflow_id`, that workflow's (checked first)."""
    workflow = workflows.load(user, workflow_id, space_id=space_id) if workflow_id not in (None, "") else None
    run = refs.one_in_space(user, refs.WORKFLOW_RUN, execute_id, space_id, action, field=field)
    if workflow is not None and run.workflow_id != workflow.id:
        raise refs.WORKFLOW_RUN.refused(execute_id, field)
    return run


def latest_test_run(user: User, workflow_id, space_id=None) -> WorkflowRun:
    workflow = workflows.load(user, workflow_id, space_id=space_id)
    run = (
        WorkflowRun.select()
        .where(WorkflowRun.workflow == workflow.id, WorkflowRun.creator == user.id, WorkflowRun.debug == True)  # noqa: E712
        .order_by(WorkflowRun.id.desc())
        .first()
    )
    if run is None:
        raise errors.WORKFLOW_RUN_NOT_FOUND(f"workflow_id: workflow {workflow.id} has no test run of yours")
    return run


# --- executing -----------------------------------------------------------------------------------

_live: dict[int, tuple[asyncio.AbstractEventLoop, asyncio.Task]] = {}
_cancelling: dict[int, bool] = {}  # runs whose task is cancelled because the run was


def _node_record(result: workflow_engine.NodeResult) -> dict:
    return {
        "type": result.node_type,
        "title": result.title,
        "status": result.status,
        "inputs": result.inputs,
        "outputs": result.outputs,
        "error": result.error,
        "elapsed_ms": result.elapsed_ms,
        "attempts": result.attempts,
        "tokens": result.tokens,
    }


class Execution:
    """Runs a recorded run from where it stands, saving what it does."""

    def __init__(
        self,
        run: WorkflowRun,
        *,
        listener: Listener | None = None,
        save_each_node: bool = False,
        user: User | None = None,
    ):
        """`user`: the run's creator, when the caller holds it already (saves a query a run)."""
        self.run = run
        self.user = user
        self.listener = listener
        self.save_each_node = save_each_node
        self.nodes: dict[str, dict] = dict(run.nodes or {})
        self.state: dict = dict(run.state or {})
        self.engine: workflow_engine.Run | None = None
        self.stopped = False  # a cancel (seen when saving) ended it

    def _save_node(self, result: workflow_engine.NodeResult) -> None:
        self.nodes[result.node_id] = _node_record(result)
        if self.save_each_node:  # polled (get_process): a node shows as running while it runs
            self._update({"nodes": self.nodes, "state": self._state()})

    def _state(self) -> dict:
        done = self.engine.done if self.engine is not None else self.state.get("done") or {}
        return {**self.state, "done": done}

    def _update(self, changes: dict, final: bool = False) -> bool:
        """Save changes while the run is still running; False (and the run stops) once it is not."""
        saved = WorkflowRun.update_where(self.run.id, {"status": RUN_RUNNING}, **changes, updated_at=now_s())
        if saved:
            for name, value in changes.items():
                setattr(self.run, name, value)
        elif not self.stopped:
            self.stopped = True
            live = _live.get(self.run.id)
            if live is not None and not final:
                live[1].cancel()
        return bool(saved)

    async def execute(self) -> WorkflowRun:
        attributes = {"workflow.id": str(self.run.workflow_id), "workflow.execute_id": str(self.run.id)}
        with tracer.start_as_current_span("workflow.run", attributes=attributes):
            return await self._execute()

    async def _execute(self) -> WorkflowRun:
        run = self.run
        creator = self.user if self.user is not None else await run_db(User.by_id, run.creator_id)
        self.engine = workflow_engine.Run(
            workflow_canvas.parse(run.schema_json),
            run.inputs or {},
            variables=await run_db(workflow_variables.values_for, creator, run),
            on_node=self._save_node,
            on_message=self.listener,
            done=self.state.get("done"),
            answers=self.state.get("answers"),
            context={"user": creator, "space_id": run.space_id, "run": run},
        )
        _live[run.id] = (asyncio.get_running_loop(), asyncio.current_task())
        cancel_watch.watch("workflow", run.id, lambda: _stop_live(run.id))  # cancelled elsewhere
        started = time.monotonic()
        try:
            try:
                output = await asyncio.wait_for(
                    self.engine.execute(), get_settings().workflow_timeout_seconds
                )
            finally:
                _live.pop(run.id, None)
                cancel_watch.unwatch("workflow", run.id)
        except workflow_engine.RunInterrupted as stop:
            await self._interrupted(stop.waiting)
        except (workflow_engine.NodeError, errors.ApiError) as exc:
            code = exc.error.code if isinstance(exc, errors.ApiError) else exc.code
            await self._failed(code, exc.msg if isinstance(exc, errors.ApiError) else str(exc))
        except TimeoutError:
            limit = get_settings().workflow_timeout_seconds
            await self._failed(errors.WORKFLOW_TIMEOUT.code, f"the workflow did not finish within {limit} s")
        except asyncio.CancelledError:
            await run_db(self._cancelled)
            if not self.stopped and _cancelling.pop(run.id, None) is None:
                raise  # not a cancel of the run but of its task (shutdown, a client gone)
        else:
            await self._succeeded(output, time.monotonic() - started)
        if self.stopped or self.run.status == RUN_RUNNING:  # another process (or a cancel) ended it
            self.run = await run_db(WorkflowRun.get_by_id, run.id)
        return self.run

    def _announce(self, event: str) -> None:
        """The run's end as a webhook event of its space."""
        run = self.run
        data = {
            "workflow_id": str(run.workflow_id),
            "execute_id": str(run.id),
            "status": STATUS_NAMES.get(run.status, ""),
            "output": run.output,
            "error_code": run.error_code,
            "error_message": run.error_msg,
        }
        webhooks.emit_safely(run.space_id, event, data)

    def _totals(self) -> dict:
        return {
            "nodes": self.nodes,
            "state": self._state(),
            "tokens": sum(n["tokens"] for n in self.nodes.values()),
        }

    async def _succeeded(self, output: dict, seconds: float) -> None:
        answer = self.engine.answer
        if answer is not None:
            data = json.dumps({"content_type": 1, "data": answer, "type_for_model": 2}, ensure_ascii=False)
        else:
            data = json.dumps(output, ensure_ascii=False)
        changes = {**self._totals(), "status": RUN_SUCCEEDED, "output": data, "worker_id": None}
        changes["state"] = {**changes["state"], "seconds": round(seconds, 3)}

        def save() -> bool:
            # one transaction: a poller that sees the run succeeded also sees the draft tested
            with write_transaction():
                saved = self._update(changes, final=True)
                if saved and self.run.debug and self.state.get("commit_id"):
                    Workflow.update(test_run_passed=True).where(
                        Workflow.id == self.run.workflow_id, Workflow.commit_id == self.state["commit_id"]
                    ).execute()
            return saved

        if await run_db(save):
            await run_db(self._announce, "workflow.completed")

    async def _failed(self, code: int, message: str) -> None:
        changes = {**self._totals(), "status": RUN_FAILED, "error_code": code, "error_msg": message[:2000]}
        if await run_db(self._update, {**changes, "worker_id": None}, True):
            await run_db(self._announce, "workflow.completed")

    async def _interrupted(self, waiting: list[workflow_engine.Waiting]) -> None:
        events = [e for e in self.state.get("events") or [] if e.get("answered")]
        open_events = {e["node_id"]: e for e in self.state.get("events") or [] if not e.get("answered")}
        for stop in waiting:
            event = open_events.get(stop.node_id) or {
                "id": str(new_id()),
                "node_id": stop.node_id,
                "title": stop.title,
                "type": stop.kind,
                "data": json.dumps(stop.data, ensure_ascii=False),
                "answered": False,
            }
            events.append(event)
        self.state["events"] = events
        changes = {**self._totals(), "status": RUN_INTERRUPTED, "worker_id": None}
        if await run_db(self._update, changes, True):
            await run_db(self._announce, "workflow.interrupted")

    def _cancelled(self) -> None:
        WorkflowRun.update(
            status=RUN_CANCELLED,
            nodes=self.nodes,
            worker_id=None,
            error_code=errors.WORKFLOW_CANCELLED.code,
            error_msg="cancelled",
            updated_at=now_s(),
        ).where(WorkflowRun.id == self.run.id, WorkflowRun.status.in_((RUN_RUNNING, RUN_CANCELLED))).execute()


def pending_events(run: WorkflowRun) -> list[dict]:
    return [e for e in (run.state or {}).get("events") or [] if not e.get("answered")]


# --- the task queue ------------------------------------------------------------------------------


@queue.task(retries=0)
def run_task(run_id: int) -> None:
    execute_claimed(run_id)


def execute_claimed(run_id: int) -> None:
    """Run an async run here, unless another worker has it or it is no longer running."""
    claimed = (
        WorkflowRun.update(
            worker_id=recovery.current_id(), attempts=WorkflowRun.attempts + 1, updated_at=now_s()
        )
        .where(WorkflowRun.id == run_id, WorkflowRun.status == RUN_RUNNING, WorkflowRun.worker_id.is_null())
        .execute()
    )
    run = WorkflowRun.get_or_none(WorkflowRun.id == run_id)
    if not claimed or run is None:
        return
    try:
        asyncio.run(Execution(run, save_each_node=True).execute())
    except Exception:
        log.exception("workflow run failed", extra={"execute_id": run_id})
        WorkflowRun.update(
            status=RUN_FAILED,
            worker_id=None,
            error_code=errors.WORKFLOW_EXECUTION_FAILED.code,
            error_msg="internal error while running the workflow",
            updated_at=now_s(),
        ).where(WorkflowRun.id == run_id, WorkflowRun.status == RUN_RUNNING).execute()


def enqueue(run: WorkflowRun) -> None:
    run_task(run.id)


# --- resuming and cancelling ---------------------------------------------------------------------


def resume(user: User, run: WorkflowRun, event_id: str, answer: str, *, mode: int) -> WorkflowRun:
    """Answer one waiting event; the run is running again (the caller executes or enqueues it)."""
    if run.status != RUN_INTERRUPTED:
        raise errors.WORKFLOW_RUN_NOT_RESUMABLE(
            f"execute_id: run {run.id} is {STATUS_NAMES[run.status]}, not waiting for the user"
        )
    state = dict(run.state or {})
    events = [dict(e) for e in state.get("events") or []]
    event = next((e for e in events if e["id"] == str(event_id) and not e.get("answered")), None)
    if event is None:
        raise errors.WORKFLOW_RUN_NOT_RESUMABLE(f"event_id: run {run.id} is not waiting for event {event_id}")
    event["answered"] = True
    state["events"] = events
    state["answers"] = {**(state.get("answers") or {}), event["node_id"]: answer}
    resumed = (
        WorkflowRun.update(
            status=RUN_RUNNING,
            state=state,
            run_mode=mode,
            worker_id=None if mode == MODE_ASYNC else recovery.current_id(),
            updated_at=now_s(),
        )
        .where(WorkflowRun.id == run.id, WorkflowRun.status == RUN_INTERRUPTED)
        .execute()
    )
    if not resumed:
        raise errors.WORKFLOW_RUN_NOT_RESUMABLE(f"execute_id: run {run.id} was resumed or ended meanwhile")
    return WorkflowRun.get_by_id(run.id)


def fail_waiting(run: WorkflowRun, error: errors.ErrorCode) -> None:
    """A run that may not wait for the user (a synchronous one) fails instead."""
    WorkflowRun.update(
        status=RUN_FAILED, error_code=error.code, error_msg=error.message, updated_at=now_s()
    ).where(WorkflowRun.id == run.id, WorkflowRun.status == RUN_INTERRUPTED).execute()


def cancel(run: WorkflowRun) -> WorkflowRun:
    if run.status not in (RUN_RUNNING, RUN_INTERRUPTED):
        raise errors.WORKFLOW_RUN_NOT_RESUMABLE(
            f"execute_id: run {run.id} is {STATUS_NAMES[run.status]}; "
            "only a running or waiting run can be cancelled"
        )
    WorkflowRun.update(
        status=RUN_CANCELLED,
        error_code=errors.WORKFLOW_CANCELLED.code,
        error_msg="cancelled by the user",
        updated_at=now_s(),
    ).where(WorkflowRun.id == run.id, WorkflowRun.status.in_((RUN_RUNNING, RUN_INTERRUPTED))).execute()
    _stop_live(run.id)
    return WorkflowRun.get_by_id(run.id)


def _stop_live(run_id: int) -> None:
    """Cancel the run's task if this process executes it (from any thread)."""
    live = _live.get(run_id)
    if live is not None and not live[0].is_closed():
        _cancelling[run_id] = True
        live[0].call_soon_threadsafe(live[1].cancel)


def _cancelled_among(ids: list[int]) -> list[int]:
    query = WorkflowRun.select(WorkflowRun.id).where(
        WorkflowRun.id.in_(ids) & (WorkflowRun.status == RUN_CANCELLED)
    )
    return [row.id for row in query]


cancel_watch.register("workflow", _cancelled_among)
