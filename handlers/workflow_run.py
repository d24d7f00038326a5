"""Running published workflows through the Open API (/v1/workflow/*, /v1/workflows/*): what
cozepy's and @coze/api's `workflows.runs` call."""

from __future__ import annotations

import asyncio
import itertools

from core import errors, sse
from core.envelope import SUCCESS_MSG, ok
from models.db import run_db
from models.workflow import (
    MODE_ASYNC,
    MODE_STREAM,
    MODE_SYNC,
    RUN_CANCELLED,
    RUN_FAILED,
    RUN_INTERRUPTED,
    RUN_SUCCEEDED,
)
from services import workflow_conversations, workflow_runs, workflows
from views.workflow import (
    chat_message_view,
    chat_turn_view,
    debug_url,
    open_workflow_view,
    run_history_view,
    version_view,
)

PING_SECONDS = 15.0
_streams: set[asyncio.Task] = set()


def _prepare(user, body, mode: int):
    return workflow_runs.prepare(
        user,
        body["workflow_id"],
        workflow_runs.parameters_of(body.get("parameters")),
        mode=mode,
        version=body.get("version"),
        bot_id=body.get("bot_id"),
        connector_id=body.get("connector_id"),
    )


# a failed sync run answers with its own code when the request is at fault or time ran out
_OWN_CODES = {e.code: e for e in (errors.WORKFLOW_TIMEOUT, errors.WORKFLOW_INVALID_PARAM)}


def _failure(run) -> errors.ApiError:
    """A failed sync run as an error answer; else 'the workflow failed' with the cause."""
    if run.error_code in _OWN_CODES:
        return _OWN_CODES[run.error_code](run.error_msg)
    if run.status == RUN_CANCELLED:
        return errors.WORKFLOW_CANCELLED(f"run {run.id} was cancelled")
    return errors.WORKFLOW_EXECUTION_FAILED(f"the workflow failed: {run.error_msg}")


async def open_workflow_run(token_info, body):
    user = token_info["user"]
    is_async = bool(body.get("is_async"))
    run = await run_db(_prepare, user, body, MODE_ASYNC if is_async else MODE_SYNC)
    if is_async:
        await run_db(workflow_runs.enqueue, run)
        return {"code": 0, "msg": SUCCESS_MSG, "execute_id": str(run.id), "debug_url": debug_url(run)}
    run = await workflow_runs.Execution(run, user=user).execute()
    if run.status == RUN_INTERRUPTED:
        await run_db(workflow_runs.fail_waiting, run, errors.WORKFLOW_SYNC_INTERRUPT)
        raise errors.WORKFLOW_SYNC_INTERRUPT(
            "the workflow waits for the user (a Question or Input node): run it with stream_run"
        )
    if run.status != RUN_SUCCEEDED:
        raise _failure(run)
    return {
        "code": 0,
        "msg": SUCCESS_MSG,
        "data": run.output,
        "execute_id": str(run.id),
        "debug_url": debug_url(run),
        "token": run.tokens,
        "cost": "0.00000",
        "usage": {"token_count": run.tokens, "input_count": 0, "output_count": 0},
    }


async def open_workflow_stream_run(token_info, body):
    user = token_info["user"]
    return _stream(await run_db(_prepare, user, body, MODE_STREAM), user)


async def open_workflow_stream_resume(token_info, body):
    user = token_info["user"]
    execute_id, _, event_id = body["event_id"].partition("/")

    def resume():
        run = workflow_runs.load(user, execute_id, body["workflow_id"], field="event_id")
        return workflow_runs.resume(user, run, event_id, body["resume_data"], mode=MODE_STREAM)

    return _stream(await run_db(resume), user)


def _in_background(stream: sse.EventStream, work) -> sse.EventStream:
    """The stream, with `work` (what writes to it) running as a task the client's leaving cancels."""
    task = asyncio.get_running_loop().create_task(work)
    _streams.add(task)
    task.add_done_callback(_streams.discard)
    stream.on_disconnect = task.cancel
    return stream


def _stream(run, user) -> sse.EventStream:
    """The run executed here, its events written as they happen; the client leaving cancels it."""
    numbers = itertools.count()

    def frame(name: str, data) -> bytes:
        return f"id: {next(numbers)}\n".encode() + sse.event(name, data)

    stream = sse.EventStream(PING_SECONDS, ping=lambda: frame("PING", {}))
    seq: dict[str, int] = {}

    def on_message(result, text: str, finished: bool) -> None:
        count = seq[result.node_id] = seq.get(result.node_id, -1) + 1
        message = {
            "content": text,
            "content_type": "text",
            "node_title": result.title,
            "node_seq_id": str(count),
            "node_is_finish": finished,
            "node_id": result.node_id,
            "node_type": result.node_type,
            "node_execute_uuid": "",
        }
        stream.push(frame("Message", message))

    async def main() -> None:
        ended = False
        try:
            final = await workflow_runs.Execution(run, listener=on_message, user=user).execute()
            for name, data in _ending(final):
                stream.push(frame(name, data))
            ended = True
        finally:
            stream.close(b"" if ended else b"event: error\ndata: the stream broke off\n\n")

    return _in_background(stream, main())


def _ending(run):
    if run.status == RUN_INTERRUPTED:
        for event in workflow_runs.pending_events(run):
            interrupt = {"event_id": f"{run.id}/{event['id']}", "type": event["type"], "data": event["data"]}
            yield (
                "Interrupt",
                {
                    "interrupt_data": interrupt,
                    "node_title": event.get("title") or "",
                    "node_id": event["node_id"],
                },
            )
    elif run.status in (RUN_FAILED, RUN_CANCELLED):
        yield "Error", {"error_code": errors.open_code(run.error_code), "error_message": run.error_msg}
    yield "Done", {"debug_url": debug_url(run)}


def _history(user, workflow_id, execute_id) -> dict:
    return ok([run_history_view(workflow_runs.load(user, execute_id, workflow_id))])


def open_workflow_run_history(token_info, workflow_id, execute_id):
    return _history(token_info["user"], workflow_id, execute_id)


def open_workflow_run_histories(token_info, workflow_id, execute_id):  # the ids in the path
    return _history(token_info["user"], workflow_id, execute_id)


def open_get_workflow(token_info, workflow_id, include_input_output=False):
    workflow = workflows.load(token_info["user"], workflow_id)
    creator = workflows.creators([workflow])[workflow.creator_id]
    return ok(open_workflow_view(workflow, creator, with_io=include_input_output))


# --- chatflows: POST /v1/workflows/chat ----------------------------------------------------------


async def open_workflow_chat(token_info, body):
    user = token_info["user"]
    query = next(
        (m.get("content") or "" for m in reversed(body["additional_messages"]) if m.get("role") == "user"), ""
    )

    def prepare():
        return workflow_runs.chat_turn(
            user,
            body["workflow_id"],
            query,
            body.get("parameters"),
            bot_id=body.get("bot_id"),
            conversation_id=body.get("conversation_id"),
        )

    run, conversation_id = await run_db(prepare)
    return _chat_stream(run, conversation_id, user)


def _chat_stream(run, conversation_id: str, user) -> sse.EventStream:
    """The chatflow's run as a chat: what its Output and End nodes say is the answer; a question
    it asks is the answer too, and the conversation's next message answers it."""
    stream = sse.EventStream()  # as /v3/chat: no keep-alive (cozepy reads every line as an event)
    chat = chat_turn_view(run, conversation_id)
    message = {**chat_message_view(run, conversation_id), "content": ""}
    said: list[str] = []

    def on_message(result, text: str, finished: bool) -> None:
        said.append(text)
        stream.push(sse.event("conversation.message.delta", {**message, "content": text}))

    async def main() -> None:
        ended = False
        try:
            stream.push(sse.event("conversation.chat.created", {**chat, "status": "created"}))
            stream.push(sse.event("conversation.chat.in_progress", {**chat, "status": "in_progress"}))
            final = await workflow_runs.Execution(run, listener=on_message, user=user).execute()
            if final.status == RUN_INTERRUPTED:
                for event in workflow_runs.pending_events(final)[:1]:
                    on_message(None, workflow_runs.question_text(event), True)
            if said:
                answer = "\n".join(said)
                await run_db(workflow_conversations.record, int(conversation_id), "assistant", answer, run.id)
                stream.push(sse.event("conversation.message.completed", {**message, "content": answer}))
            if final.status in (RUN_SUCCEEDED, RUN_INTERRUPTED):
                stream.push(sse.event("conversation.chat.completed", {**chat, "status": "completed"}))
            else:
                failure = {"code": errors.open_code(final.error_code), "msg": final.error_msg}
                stream.push(
                    sse.event("conversation.chat.failed", {**chat, "status": "failed", "last_error": failure})
                )
            ended = True
        finally:
            stream.close(sse.event("done", "[DONE]") if ended else b"event: error\ndata: {}\n\n")

    return _in_background(stream, main())


def open_list_workflows(
    token_info, workspace_id="", workflow_mode="", app_id="", publish_status="", page_num=1, page_size=100
):
    user = token_info["user"]
    rows, more = workflows.open_list(
        user,
        workspace_id,
        mode=workflow_mode,
        project_id=app_id,
        status=publish_status,
        page=page_num,
        size=page_size,
    )
    people = workflows.creators(rows)
    items = [open_workflow_view(w, people[w.creator_id])["workflow_detail"] for w in rows]
    return ok({"items": items, "has_more": more})


def open_list_workflow_versions(token_info, workflow_id, publish_status="", page_size=10, page_token=""):
    user = token_info["user"]
    if publish_status == "unpublished_draft":
        found, more = [], False  # a draft is not a version
    else:
        found, more = workflows.versions(user, workflow_id, size=page_size, after=page_token)
    people = workflows.version_creators(found)
    items = [version_view(v, people[v.creator_id]) for v in found]
    return ok({"items": items, "has_more": more, "next_page_token": str(found[-1].id) if more else ""})
