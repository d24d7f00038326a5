"""Chat turns, prepared: one user turn (a chat run) checked and recorded before any byte is
streamed, so bad input is a plain JSON error. The console's and the Open API's requests become a
Turn here (prepare_web, prepare_open), as does a run resumed with tool outputs; services/chat_runs.py
executes it."""

from __future__ import annotations

import base64
import copy
import dataclasses
import logging
import time

from core import authz, errors
from core.ids import new_id
from models.agent import Bot
from models.base import now_s
from models.conversation import (
    CONNECTOR_WEB,
    IN_PROGRESS,
    REQUIRES_ACTION,
    SCENE_OPENAPI,
    SCENE_PLAYGROUND,
    ChatRun,
    ChatRunWait,
    Conversation,
    Message,
)
from models.db import db
from models.identity import User
from models.llm import LlmModel
from services import agents, conversations, files, llm, model_registry, recovery, refs, run_caps
from services import content as message_content
from services import variables as memory_variables

log = logging.getLogger("cozeplus.chat")

SUGGEST_DISABLED = 2  # suggest_reply_mode: 0 default, 1 custom prompt, 2 off


@dataclasses.dataclass
class Turn:
    user: User
    bot: Bot
    conversation: Conversation
    run: ChatRun
    question: Message
    config: dict
    model: LlmModel
    messages: list[dict]  # the prompt, in Chat Completions form
    suggest: bool
    interrupt_as_verbose: bool = False  # the console shows "requires action" as a verbose message
    params: dict = dataclasses.field(default_factory=dict)  # temperature, max_tokens ...
    resumed: bool = False  # continuing after submit_tool_outputs or an authorization
    rerun_calls: list[dict] = dataclasses.field(default_factory=list)  # calls that waited for one
    started: float = dataclasses.field(default_factory=time.monotonic)
    usage: llm.Usage = dataclasses.field(default_factory=llm.Usage)

    def reply(self, type_: str, content: str = "", **fields) -> Message:
        """A message of the agent's in this turn, not yet saved."""
        return Message(
            id=new_id(),
            conversation=self.conversation.id,
            run=self.run.id,
            turn_id=self.run.id,
            section_id=self.run.section_id,
            bot=self.bot.id,
            creator=self.user.id,
            role="assistant",
            type=type_,
            content=content,
            content_type="text",
            reply_id=self.question.id,
            created_at=now_s(),
            updated_at=now_s(),
            **fields,
        )


def _turn(user, bot, conversation, run, question, config: dict, model: LlmModel, messages, **rest) -> Turn:
    return Turn(user, bot, conversation, run, question, config, model, messages, suggests(config), **rest)


# --- preparing a turn (blocking; before the response starts) -----------------------------------


def suggests(config: dict) -> bool:
    return (config.get("suggest_reply_info") or {}).get("suggest_reply_mode", 0) != SUGGEST_DISABLED


def model_of(config: dict, override=None) -> LlmModel:
    model_id = override or (config.get("model_info") or {}).get("model_id")
    return model_registry.usable(model_id)


MAX_INLINE_IMAGE_BYTES = 10 * 1024 * 1024
MAX_INLINE_TEXT_CHARS = 20_000


def user_content(text: str, parts: list[dict], model: LlmModel):
    """A user message for the model. Uploaded images go inline (a data URL: the provider cannot
    reach our links) to models that can see; uploaded text files go inline as text; anything
    else is named."""
    if not parts:
        return text
    vision = (model.capabilities or {}).get("vision")
    content = [{"type": "text", "text": text}] if text else []
    for part in parts:
        stored = part["stored"]
        if part["type"] == "image" and vision and (part["url"] or stored.size <= MAX_INLINE_IMAGE_BYTES):
            url = part["url"] or (
                f"data:{stored.content_type};base64," + base64.b64encode(files.read(stored)).decode()
            )
            content.append({"type": "image_url", "image_url": {"url": url}})
        elif stored is not None and (
            stored.content_type.startswith("text/") or stored.content_type in ("application/json", "text/csv")
        ):
            body = files.read(stored).decode("utf-8", "replace")[:MAX_INLINE_TEXT_CHARS]
            content.append({"type": "text", "text": f"[file {part['name']}]\n{body}"})
        else:
            label = " ".join(filter(None, (part["type"], part["name"], part["url"])))
            content.append({"type": "text", "text": f"[{label}]"})
    return content


def history(
    user: User, conversation: Conversation, section_id: int, rounds: int, model: LlmModel
) -> list[dict]:
    """The last `rounds` turns of the current section, as context; files in it are resolved as
    `user`'s (a stored message naming anyone else's upload is read as its text only)."""
    if rounds <= 0:
        return []
    turn_ids = [
        r.turn_id
        for r in Message.select(Message.turn_id)
        .distinct()
        .where((Message.conversation == conversation.id) & (Message.section_id == section_id))
        .order_by(Message.turn_id.desc())
        .limit(rounds)
    ]
    rows = (
        Message.select()
        .where(
            (Message.conversation == conversation.id)
            & (Message.turn_id.in_(turn_ids or [0]))
            & (Message.type.in_(("question", "answer")))
        )
        .order_by(Message.id)
    )
    context = []
    for row in rows:
        if row.role == "user":
            try:
                text, parts = message_content.parse(row.content, row.content_type, field="history", user=user)
            except errors.ApiError:
                text, parts = row.content, []
            context.append({"role": "user", "content": user_content(text, parts, model)})
        elif row.content:
            context.append({"role": "assistant", "content": row.content})
    return context


def prepare(
    user: User,
    bot: Bot,
    config: dict,
    conversation: Conversation,
    *,
    query: str,
    content_type: str,
    connector_id: int,
    bot_version: int | None = None,
    end_user: str = "",
    context: list[conversations.MessageInput] | None = None,
    variables: dict | None = None,
    meta_data: dict | None = None,
    save_history: bool = True,
    model_override=None,
    local_message_id: str = "",
    interrupt_as_verbose: bool = False,
    new_conversation: bool = False,
) -> Turn:
    """Check the request and record the run with its question (and any context messages); a new
    conversation (unsaved) is saved with them. The run starts in progress: "created" lasts only
    until the task starts, so it is announced but never stored."""
    model = model_of(config, model_override)
    text, parts = message_content.parse(query, content_type, field="query", user=user)
    if not text.strip() and not parts:
        raise errors.CONVERSATION_INVALID_PARAM("query: the question is empty")
    context = context or []
    model_info = config.get("model_info") or {}
    rounds = int(((model_info.get("short_memory_policy") or {}).get("history_round")) or 3)
    holder = memory_variables.Holder(end_user or str(user.id), connector_id)
    values = memory_variables.chat_values(bot.id, config, holder, conversation.id, variables)
    persona = memory_variables.persona(config, values)
    prompt = [{"role": "system", "content": persona}] if persona else []
    if not new_conversation:
        prompt += history(user, conversation, conversation.last_section_id, rounds, model)
    for index, item in enumerate(context):
        field = f"additional_messages[{index}]"
        item_text, item_parts = message_content.parse(
            item.content or "", item.content_type or "text", field=field, user=user
        )
        prompt.append(
            {
                "role": item.role,
                "content": user_content(item_text, item_parts, model) if item.role == "user" else item_text,
            }
        )
    prompt.append({"role": "user", "content": user_content(text, parts, model)})
    run_caps.admit(user, bot.id)
    with db.atomic():
        if new_conversation:
            conversation.insert_new()
        run = ChatRun(
            conversation=conversation.id,
            bot=bot.id,
            creator=user.id,
            section_id=conversation.last_section_id,
            bot_version=bot_version,
            connector_id=connector_id,
            end_user=end_user,
            meta_data=meta_data or {},
            save_history=save_history,
            status=IN_PROGRESS,
            worker_id=recovery.current_id(),
        ).insert_new()
        for item in context:
            conversations.add_message(conversation, user, item, run=run)
        question = conversations.add_message(
            conversation,
            user,
            conversations.MessageInput("user", query, content_type or "text", "question"),
            run=run,
            extra_info={"local_message_id": local_message_id} if local_message_id else None,
        )
        if not new_conversation:
            conversations.touch_conversation(conversation.id)
    from services import webhooks  # it reaches chat's modules through refs

    if new_conversation:
        webhooks.emit_safely(bot.space_id, "conversation.created", _event_data(conversation, bot))
    received = {
        **_event_data(conversation, bot),
        "chat_id": str(run.id),
        "message_id": str(question.id),
        "content": query,
    }
    webhooks.emit_safely(bot.space_id, "message.received", received)
    params = {
        k: model_info.get(k)
        for k in ("temperature", "max_tokens", "top_p", "frequency_penalty", "presence_penalty")
    }
    used = {k: v for k, v in params.items() if v is not None}
    shown = {"interrupt_as_verbose": interrupt_as_verbose, "params": used}
    return _turn(user, bot, conversation, run, question, config, model, prompt, **shown)


def load_run(user: User, conversation_id, chat_id) -> ChatRun:
    conversation = conversations.load(user, conversation_id)
    return refs.under(
        refs.CHAT,
        chat_id,
        ChatRun.conversation == conversation.id,
        where=f"in conversation {conversation_id}",
    )


def resume(user: User, run: ChatRun, outputs: list[dict]) -> Turn:
    """A requires_action run continues with the caller's tool outputs."""
    if run.status != REQUIRES_ACTION or not run.state:
        raise errors.CHAT_NOT_AWAITING_TOOLS(f"chat {run.id} is {run.status}, not requires_action")
    calls = run.required_action["submit_tool_outputs"]["tool_calls"]
    pending = [c["id"] for c in calls]
    given = {o["tool_call_id"]: o.get("output") or "" for o in outputs}
    missing = [c for c in pending if c not in given]
    unknown = [c for c in given if c not in pending]
    if missing or unknown:
        raise errors.CONVERSATION_INVALID_PARAM(
            "tool_outputs must answer exactly the pending tool calls: "
            + "; ".join(
                filter(
                    None,
                    [
                        missing and f"missing {', '.join(missing)}",
                        unknown and f"unknown {', '.join(unknown)}",
                    ],
                )
            )
        )
    state = copy.deepcopy(run.state)
    names = {c["id"]: c["function"]["name"] for c in calls}
    turn = _resumed_turn(user, run, state)
    with db.atomic():
        for call_id in pending:
            extra = {"tool_name": names[call_id], "call_id": call_id}
            turn.reply("tool_response", given[call_id], extra_info=extra).insert_new()
            state["messages"].append({"role": "tool", "tool_call_id": call_id, "content": given[call_id]})
        if not _claim(run):  # another submit (or an authorization) resumed it first
            raise errors.CHAT_NOT_AWAITING_TOOLS(f"chat {run.id} is no longer requires_action")
    return turn


def resume_authorized(plugin_id: int, holder: str) -> list[Turn]:
    """The runs that waited for this plugin's authorization by this holder continue: the calls
    that waited run again (a call still unauthorized makes the run wait again)."""
    run_ids = {
        w.run_id
        for w in ChatRunWait.select(ChatRunWait.run).where(
            (ChatRunWait.plugin_id == plugin_id) & (ChatRunWait.holder == holder)
        )
    }
    turns = []
    for run in ChatRun.select().where(ChatRun.id.in_(run_ids)) if run_ids else ():
        if run.status != REQUIRES_ACTION or not run.state:
            ChatRunWait.delete().where(ChatRunWait.run == run.id).execute()
            continue
        try:
            turn = _resumed_turn(User.get_by_id(run.creator_id), run, copy.deepcopy(run.state))
        except errors.ApiError as exc:  # its model went away: it waits for submit_tool_outputs
            log.warning("run not resumed", extra={"chat_id": run.id, "error": exc.msg})
            continue
        turn.rerun_calls = run.required_action["submit_tool_outputs"]["tool_calls"]
        with db.atomic():
            if _claim(run):
                turns.append(turn)
    return turns


def _resumed_turn(user: User, run: ChatRun, state: dict) -> Turn:
    conversation = Conversation.get_by_id(run.conversation_id)
    bot = Bot.get_by_id(run.bot_id)
    question = Message.get((Message.run == run.id) & (Message.type == "question"))
    config = _config_of_run(run, bot)
    usage = run.usage or {}
    counted = llm.Usage(usage.get("input_count", 0), usage.get("output_count", 0))
    resumed = {"params": state.get("params") or {}, "resumed": True, "usage": counted}
    return _turn(
        user, bot, conversation, run, question, config, model_of(config), state["messages"], **resumed
    )


def _claim(run: ChatRun) -> bool:
    """The run leaves requires_action for this resumption, unless another took it first."""
    fields = {
        "status": IN_PROGRESS,
        "required_action": None,
        "state": None,
        "worker_id": recovery.current_id(),
        "updated_at": now_s(),
    }
    claimed = (
        ChatRun.update(fields).where((ChatRun.id == run.id) & (ChatRun.status == REQUIRES_ACTION)).execute()
    )
    if not claimed:
        return False
    for name, value in fields.items():
        setattr(run, name, value)
    ChatRunWait.delete().where(ChatRunWait.run == run.id).execute()
    return True


def _config_of_run(run: ChatRun, bot: Bot) -> dict:
    from models.agent import BotVersion

    if run.bot_version:
        version = BotVersion.get_or_none(BotVersion.id == run.bot_version)
        if version is not None:
            return version.snapshot
    return agents.bot_info(bot)


# --- the two ways a turn is asked for ----------------------------------------------------------


def prepare_web(
    user: User,
    bot_id,
    *,
    query: str,
    content_type: str = "text",
    scene: int = SCENE_PLAYGROUND,
    draft_mode: bool | None = None,
    conversation_id=None,
    regen_message_id=None,
    variables: dict | None = None,
    local_message_id: str = "",
) -> Turn:
    """The console's turn: the draft in the playground (or with draft_mode), else the published
    agent; the user's current conversation unless one is named; a regenerated turn replaced."""
    bot = agents.load(user, bot_id, authz.EXECUTE)
    if draft_mode if draft_mode is not None else scene == SCENE_PLAYGROUND:
        config, version_id = agents.bot_info(bot), None
    else:
        version = agents.published(bot)
        if version is None:
            raise errors.AGENT_NOT_AVAILABLE(
                f"agent {bot.id} has not been published; chat with its draft (scene 4 or draft_mode true)"
            )
        config, version_id = version.snapshot, version.id
    conversation = conversations.web_conversation(user, bot, scene, conversation_id)
    if regen_message_id:
        conversations.delete_turn(conversations.load_message(user, conversation.id, regen_message_id))
    return prepare(
        user,
        bot,
        config,
        conversation,
        query=query,
        content_type=content_type or "text",
        connector_id=CONNECTOR_WEB,
        bot_version=version_id,
        variables=variables,
        local_message_id=local_message_id or "",
        interrupt_as_verbose=True,
    )


def prepare_open(
    user: User,
    bot_id,
    *,
    end_user: str,
    messages: list[conversations.MessageInput],
    conversation_id=None,
    connector_id=None,
    stream: bool = False,
    save_history: bool = True,
    variables: dict | None = None,
    meta_data: dict | None = None,
    model_override=None,
) -> Turn:
    """A /v3/chat turn: the agent as published to the connector; the last message is the question
    and the earlier ones context; a new conversation unless one is named."""
    bot = agents.load(user, bot_id, authz.EXECUTE)
    connector = conversations.open_connector(connector_id)
    version = agents.published(bot, connector)
    if version is None:
        raise errors.AGENT_NOT_AVAILABLE(
            f"agent {bot.id} is not published to connector {connector}; publish it with /v1/bot/publish"
        )
    if not stream and not save_history:
        raise errors.CONVERSATION_INVALID_PARAM(
            "auto_save_history: false needs stream: true (a chat you poll must be kept to be read)"
        )
    if messages[-1].role != "user":
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
        conversation = conversations.new(user, bot, scene=SCENE_OPENAPI, connector_id=connector)
    question = messages[-1]
    return prepare(
        user,
        bot,
        version.snapshot,
        conversation,
        query=question.content or "",
        content_type=question.content_type or "text",
        connector_id=connector,
        bot_version=version.id,
        end_user=end_user,
        context=messages[:-1],
        variables=variables,
        meta_data=meta_data,
        save_history=save_history,
        model_override=model_override,
        new_conversation=not conversation_id,
    )


def _event_data(conversation, bot) -> dict:
    return {"conversation_id": str(conversation.id), "bot_id": str(bot.id)}
