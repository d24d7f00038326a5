"""Chat runs: the console's streaming chat and the Open API's /v3/chat family."""

from __future__ import annotations

from core import errors, sse
from core.envelope import ok
from handlers.views import chat_view, open_message_view, web_message_view
from models.conversation import CONNECTOR_WEB, FAILED, SCENE_OPENAPI, SCENE_PLAYGROUND, Message
from models.db import run_db
from services import agents, conversations
from services import chat as runtime

WEB_KEEPALIVE_SECONDS = 15.0


# --- the console: POST /api/conversation/chat ---------------------------------------------------


def _prepare_web(user, body: dict) -> runtime.Turn:
    bot = agents.load(user, body["bot_id"])
    scene = body.get("scene", SCENE_PLAYGROUND)
    if body.get("draft_mode", scene == SCENE_PLAYGROUND):
        config, version_id = agents.bot_info(bot), None
    else:
        version = agents.published(bot)
        if version is None:
            raise errors.AGENT_NOT_AVAILABLE(
                f"agent {bot.id} has not been published; chat with its draft (scene 4 or draft_mode true)"
            )
        config, version_id = version.snapshot, version.id
    conversation = conversations.web_conversation(user, bot, scene, body.get("conversation_id"))
    if body.get("regen_message_id"):
        conversations.delete_turn(conversations.load_message(user, conversation.id, body["regen_message_id"]))
    return runtime.prepare(
        user,
        bot,
        config,
        conversation,
        query=body["query"],
        content_type=body.get("content_type") or "text",
        connector_id=CONNECTOR_WEB,
        bot_version=version_id,
        variables=body.get("custom_variables"),
        local_message_id=body.get("local_message_id") or "",
        interrupt_as_verbose=True,
    )


async def agent_chat(token_info, body):
    turn = await run_db(_prepare_web, token_info["user"], body)
    return _stream(turn, _web_renderer(turn), sse.event("done", {}), keepalive=WEB_KEEPALIVE_SECONDS)


def _stream(turn: runtime.Turn, render, last_frame: bytes, keepalive: float | None = None) -> sse.EventStream:
    """The run's events rendered as they happen into an SSE response; the client leaving stops
    the run."""
    stream = sse.EventStream(keepalive)

    def subscriber(event: tuple | None) -> None:
        if event is None:
            stream.close(last_frame)
        else:
            frame = render(event)
            if frame:
                stream.push(frame)

    stream.on_disconnect = runtime.LiveRun(turn, subscriber).cancel
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

    def render(event: tuple) -> bytes:
        kind = event[0]
        if kind == "ack":
            return frame(web_message_view(event[1], type_="ack"), True)
        if kind == "delta":
            return frame(web_message_view(event[1], delta=(event[2], event[3])), False)
        if kind == "message":  # an answer's final chunk is empty: the client joined the deltas
            message = event[1]
            return frame(
                web_message_view(message, delta=("", "") if message.type == "answer" else None), True
            )
        if kind == "chat" and event[1].status == FAILED:
            failure = Message(
                id=event[1].id,
                conversation=turn.conversation.id,
                run=turn.run.id,
                section_id=turn.run.section_id,
                bot=turn.bot.id,
                role="assistant",
                type="answer",
                content=f"Something error: {event[1].last_error.get('msg', '')}",
                reply_id=turn.question.id,
                created_at=event[1].updated_at,
                extra_info={},
            )
            return frame(web_message_view(failure), True)
        if kind == "error":
            return sse.event("error", {"code": event[1], "msg": event[2]})
        return b""

    return render


# --- the Open API: /v3/chat ---------------------------------------------------------------------


def _prepare_open(user, body: dict, conversation_id) -> runtime.Turn:
    bot = agents.load(user, body["bot_id"])
    connector_id = conversations.open_connector(body.get("connector_id"))
    version = agents.published(bot, connector_id)
    if version is None:
        raise errors.AGENT_NOT_AVAILABLE(
            f"agent {bot.id} is not published to connector {connector_id}; publish it with /v1/bot/publish"
        )
    stream = bool(body.get("stream"))
    save_history = body.get("auto_save_history") is not False
    if not stream and not save_history:
        raise errors.CONVERSATION_INVALID_PARAM(
            "auto_save_history: false needs stream: true (a chat you poll must be kept to be read)"
        )
    messages = body["additional_messages"]
    if messages[-1]["role"] != "user":
        raise errors.CONVERSATION_INVALID_PARAM(
            "additional_messages: the last message must be the user's question (role user)"
        )
    if conversation_id:
        conversation = conversations.load(user, conversation_id)
        if conversation.bot_id != bot.id:
            raise errors.CONVERSATION_INVALID_PARAM(
                f"conversation_id: conversation {conversation_id} is with another agent than {bot.id}"
            )
    else:
        conversation = conversations.new(user, bot, scene=SCENE_OPENAPI, connector_id=connector_id)
    question = messages[-1]
    model_override = (((body.get("custom_config") or {}).get("model_config")) or {}).get("model_id")
    return runtime.prepare(
        user,
        bot,
        version.snapshot,
        conversation,
        query=question.get("content") or "",
        content_type=question.get("content_type") or "text",
        connector_id=connector_id,
        bot_version=version.id,
        end_user=body["user_id"],
        context=messages[:-1],
        variables=body.get("custom_variables"),
        meta_data=body.get("meta_data"),
        save_history=save_history,
        model_override=model_override,
        new_conversation=not conversation_id,
    )


async def chat(token_info, body, conversation_id=None):
    turn = await run_db(_prepare_open, token_info["user"], body, conversation_id)
    return _respond(turn, bool(body.get("stream")))


def _respond(turn: runtime.Turn, stream: bool):
    if stream:
        return _stream(turn, _open_renderer(), sse.event("done", "[DONE]"))
    runtime.LiveRun(turn)
    return ok(chat_view(turn.run)), 200, {"Content-Type": "application/json"}  # the spec offers two types


def _open_renderer():
    delta_templates: dict[int, sse.Template] = {}

    def render(event: tuple) -> bytes:
        kind = event[0]
        if kind == "chat":
            return sse.event(f"conversation.chat.{event[1].status}", chat_view(event[1]))
        if kind == "delta":
            message = event[1]
            template = delta_templates.get(message.id)
            if template is None:  # a delta differs from the next only by its text
                template = delta_templates[message.id] = sse.Template(
                    "conversation.message.delta", open_message_view(message, delta=(sse.HOLE, sse.HOLE))
                )
            return template.fill(event[2], event[3])
        if kind == "message":
            return sse.event("conversation.message.completed", open_message_view(event[1]))
        if kind == "error":
            return sse.event("error", {"code": event[1], "msg": event[2]})
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
    return ok(chat_view(await runtime.cancel(run)))


async def submit_tool_outputs(token_info, body, conversation_id, chat_id):
    user = token_info["user"]

    def resume():
        return runtime.resume(user, runtime.load_run(user, conversation_id, chat_id), body["tool_outputs"])

    turn = await run_db(resume)
    return _respond(turn, bool(body.get("stream")))
