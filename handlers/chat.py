"""Chat runs: the console's streaming chat and the Open API's /v3/chat family."""

from __future__ import annotations

from core import sse
from core.envelope import ok
from handlers.conversation import message_input
from models.conversation import FAILED, SCENE_PLAYGROUND
from models.db import run_db
from services import chat as runtime
from services import chat_runs as runs
from services import conversations
from views.chat import chat_view
from views.conversation import open_message_view, web_message_view

WEB_KEEPALIVE_SECONDS = 15.0


# --- the console: POST /api/conversation/chat ---------------------------------------------------


async def agent_chat(token_info, body):
    turn = await run_db(
        lambda: runtime.prepare_web(
            token_info["user"],
            body["bot_id"],
            query=body["query"],
            content_type=body.get("content_type") or "text",
            scene=body.get("scene", SCENE_PLAYGROUND),
            draft_mode=body.get("draft_mode"),
            conversation_id=body.get("conversation_id"),
            regen_message_id=body.get("regen_message_id"),
            variables=body.get("custom_variables"),
            local_message_id=body.get("local_message_id") or "",
        )
    )
    return _stream(turn, _web_renderer(turn), sse.event("done", {}), keepalive=WEB_KEEPALIVE_SECONDS)


def _stream(turn: runtime.Turn, render, last_frame: bytes, keepalive: float | None = None) -> sse.EventStream:
    """The run's events rendered as they happen into an SSE response; the client leaving stops
    the run."""
    stream = sse.EventStream(keepalive)

    def subscriber(event: runs.Event | None) -> None:
        if event is None:
            stream.close(last_frame)
        else:
            frame = render(event)
            if frame:
                stream.push(frame)

    stream.on_disconnect = runs.LiveRun(turn, subscriber).cancel
    return stream


def _web_renderer(turn: runtime.Turn):
    conversation_id = str(turn.conversation.id)
    seq = 0

    def frame(message_view: dict, is_finish: bool) -> bytes:
        nonlocal seq
        seq += 1
        return sse.event(
            "message",
            {
                "message": message_view,
                "is_finish": is_finish,
                "index": 0,
                "conversation_id": conversation_id,
                "seq_id": seq,
            },
        )

    def render(event: runs.Event) -> bytes:
        if isinstance(event, runs.Acked):
            return frame(web_message_view(event.message, type_="ack"), True)
        if isinstance(event, runs.Delta):
            return frame(web_message_view(event.message, delta=(event.content, event.reasoning)), False)
        if isinstance(event, runs.Completed):
            message = event.message  # an answer's final chunk is empty: the client joined the deltas
            return frame(
                web_message_view(message, delta=("", "") if message.type == "answer" else None), True
            )
        if isinstance(event, runs.RunStatus) and event.run.status == FAILED:
            failure = turn.reply(
                "answer", f"Something error: {event.run.last_error.get('msg', '')}", extra_info={}
            )
            failure.id = event.run.id  # the console shows the failed run in the answer's place
            return frame(web_message_view(failure), True)
        return b""

    return render


# --- the Open API: /v3/chat ---------------------------------------------------------------------


async def chat(token_info, body, conversation_id=None):
    model_config = (body.get("custom_config") or {}).get("model_config") or {}
    turn = await run_db(
        lambda: runtime.prepare_open(
            token_info["user"],
            body["bot_id"],
            end_user=body["user_id"],
            messages=[message_input(m) for m in body["additional_messages"]],
            conversation_id=conversation_id,
            connector_id=body.get("connector_id"),
            stream=bool(body.get("stream")),
            save_history=body.get("auto_save_history") is not False,
            variables=body.get("custom_variables"),
            meta_data=body.get("meta_data"),
            model_override=model_config.get("model_id"),
        )
    )
    return _respond(turn, bool(body.get("stream")))


def _respond(turn: runtime.Turn, stream: bool):
    if stream:
        return _stream(turn, _open_renderer(), sse.event("done", "[DONE]"))
    runs.LiveRun(turn)
    return ok(chat_view(turn.run)), 200, {"Content-Type": "application/json"}  # the spec offers two types


def _open_renderer():
    delta_templates: dict[int, sse.Template] = {}

    def render(event: runs.Event) -> bytes:
        if isinstance(event, runs.RunStatus):
            return sse.event(f"conversation.chat.{event.run.status}", chat_view(event.run))
        if isinstance(event, runs.Delta):
            message = event.message
            template = delta_templates.get(message.id)
            if template is None:  # a delta differs from the next only by its text
                template = delta_templates[message.id] = sse.Template(
                    "conversation.message.delta", open_message_view(message, delta=(sse.HOLE, sse.HOLE))
                )
            return template.fill(event.content, event.reasoning)
        if isinstance(event, runs.Completed):
            return sse.event("conversation.message.completed", open_message_view(event.message))
        return b""

    return render


def retrieve_chat(token_info, conversation_id, chat_id):
    return ok(chat_view(runtime.load_run(token_info["user"], conversation_id, chat_id)))


def get_chat(token_info, conversation_id, chat_id):
    """The same chat by GET, as @coze/api polls it."""
    return retrieve_chat(token_info, conversation_id, chat_id)


def list_chat_messages(token_info, conversation_id, chat_id):
    run = runtime.load_run(token_info["user"], conversation_id, chat_id)
    return ok([open_message_view(m) for m in conversations.run_messages(run)])


async def cancel_chat(token_info, body):
    run = await run_db(runtime.load_run, token_info["user"], body["conversation_id"], body["chat_id"])
    return ok(chat_view(await runs.cancel(run)))


async def submit_tool_outputs(token_info, body, conversation_id, chat_id):
    user = token_info["user"]

    def resume():
        return runtime.resume(user, runtime.load_run(user, conversation_id, chat_id), body["tool_outputs"])

    turn = await run_db(resume)
    return _respond(turn, bool(body.get("stream")))
