"""Chat runs: the console's streaming chat and the Open API's /v3/chat family."""

from __future__ import annotations

import asyncio
import json

from core import errors, sse
from core.envelope import ok
from handlers.conversation import message_input
from models.conversation import COMPLETED, FAILED, SCENE_PLAYGROUND
from models.db import run_db
from services import agents, conversations
from services import chat as runtime
from services import chat_runs as runs
from views.chat import agent_model_view, chat_view, completion_chunk, completion_view
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


def open_event(event: runs.Event) -> tuple[str, dict] | None:
    """A run's event as /v3/chat names and shapes it (the stream and the WebSocket both send it)."""
    if isinstance(event, runs.RunStatus):
        return f"conversation.chat.{event.run.status}", chat_view(event.run)
    if isinstance(event, runs.Delta):
        return "conversation.message.delta", open_message_view(
            event.message, delta=(event.content, event.reasoning)
        )
    if isinstance(event, runs.Completed):
        return "conversation.message.completed", open_message_view(event.message)
    return None


def _open_renderer():
    delta_templates: dict[int, sse.Template] = {}

    def render(event: runs.Event) -> bytes:
        if isinstance(event, runs.Delta):
            message = event.message
            template = delta_templates.get(message.id)
            if template is None:  # a delta differs from the next only by its text
                template = delta_templates[message.id] = sse.Template(
                    "conversation.message.delta", open_message_view(message, delta=(sse.HOLE, sse.HOLE))
                )
            return template.fill(event.content, event.reasoning)
        rendered = open_event(event)
        return sse.event(*rendered) if rendered is not None else b""

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


# --- the OpenAI Chat Completions facade: /v1/chat/completions, /v1/models ------------------------


def _openai_messages(items: list[dict]) -> list[conversations.MessageInput]:
    """The turn's messages: user and assistant ones, text only; system ones give way to the
    agent's persona."""
    found = []
    for index, item in enumerate(items):
        if item["role"] in ("system", "developer"):
            continue
        content = item.get("content")
        if isinstance(content, list):
            texts = []
            for part_index, part in enumerate(content):
                if part.get("type") != "text":
                    raise errors.CONVERSATION_INVALID_PARAM(
                        f"messages[{index}].content[{part_index}].type: only text parts are taken,"
                        f" not {part.get('type')!r}"
                    )
                texts.append(part.get("text") or "")
            content = "".join(texts)
        found.append(conversations.MessageInput(role=item["role"], content=content or ""))
    if not found or found[-1].role != "user":
        raise errors.CONVERSATION_INVALID_PARAM("messages: the last message must be the user's (role user)")
    return found


def _openai_frame(chunk: dict) -> bytes:
    return b"data: " + json.dumps(chunk, ensure_ascii=False, separators=(",", ":")).encode() + b"\n\n"


def _openai_renderer(turn: runtime.Turn, include_usage: bool):
    started = False

    def render(event: runs.Event) -> bytes:
        nonlocal started
        frames = b""
        if isinstance(event, runs.Delta) and event.message.type == "answer" and event.content:
            if not started:
                started = True
                frames += _openai_frame(completion_chunk(turn.run, {"role": "assistant", "content": ""}))
            return frames + _openai_frame(completion_chunk(turn.run, {"content": event.content}))
        if isinstance(event, runs.RunStatus) and event.run.status == COMPLETED:
            frames = _openai_frame(completion_chunk(event.run, {}, "stop"))
            if include_usage:
                frames += _openai_frame(completion_chunk(event.run, None, usage=event.run.usage or {}))
            return frames
        if isinstance(event, runs.RunStatus) and event.run.status == FAILED:
            failure = event.run.last_error or {}
            error = {"message": failure.get("msg") or "the agent run failed", "type": "agent_run_failed"}
            return _openai_frame({"error": {**error, "code": failure.get("code", 0)}})
        return b""

    return render


def _completion_turn(user, body) -> runtime.Turn:
    agents.load(user, body["model"], "execute")  # an unknown agent is 404 whatever the messages
    return runtime.prepare_open(
        user,
        body["model"],
        end_user=body.get("user") or "",
        messages=_openai_messages(body["messages"]),
        stream=True,  # each call is a turn of its own: nothing to poll, nothing kept
        save_history=False,
    )


async def chat_completions(token_info, body):
    turn = await run_db(lambda: _completion_turn(token_info["user"], body))
    if body.get("stream"):
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        return _stream(turn, _openai_renderer(turn, include_usage), b"data: [DONE]\n\n")
    done = asyncio.get_running_loop().create_future()
    outcome: dict = {"answer": "", "run": turn.run}

    def subscriber(event: runs.Event | None) -> None:
        if event is None:
            if not done.done():
                done.set_result(None)
        elif isinstance(event, runs.Completed) and event.message.type == "answer":
            outcome["answer"] = event.message.content
        elif isinstance(event, runs.RunStatus):
            outcome["run"] = event.run

    live = runs.LiveRun(turn, subscriber)
    try:
        await done
    except asyncio.CancelledError:  # the client went away: so does the run
        live.cancel()
        raise
    run = outcome["run"]
    if run.status != COMPLETED:
        failure = run.last_error or {}
        raise errors.AGENT_RUN_FAILED(f"the agent run failed: {failure.get('msg') or run.status}")
    return completion_view(run, outcome["answer"]), 200, {"Content-Type": "application/json"}


def list_agent_models(token_info):
    return {"object": "list", "data": [agent_model_view(b) for b in agents.chattable(token_info["user"])]}
