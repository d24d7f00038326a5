"""The agent runtime: one chat run (a user turn) from question to answer.

`prepare` checks everything and records the run and its question before any byte is streamed, so
bad input is a plain JSON error. `LiveRun` then executes the turn as an asyncio task that emits
events; a streaming response relays them, and a client that goes away cancels the task (and with
it the upstream model call). Events are tuples: ("chat", ChatRun), ("ack", Message),
("delta", Message, content, reasoning), ("message", Message), ("error", code, msg).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import copy
import dataclasses
import json
import logging
import re
import time
from collections.abc import Callable

from core import errors, jsonsafe
from core.ids import new_id, parse_id
from core.settings import get_settings
from models.agent import Bot
from models.base import now_s
from models.conversation import (
    AVAILABLE,
    BROKEN,
    CANCELED,
    COMPLETED,
    CREATED,
    FAILED,
    IN_PROGRESS,
    LIVE_STATUSES,
    REQUIRES_ACTION,
    ChatRun,
    Conversation,
    Message,
)
from models.db import db, run_db
from models.identity import User
from models.llm import LlmModel
from services import agent_knowledge, conversations, files, llm, model_registry, recovery, refs, tools
from services import content as message_content

log = logging.getLogger("cozeplus.chat")

SUGGEST_DISABLED = 2  # suggest_reply_mode: 0 default, 1 custom prompt, 2 off
_COMPACT = {"separators": (",", ":"), "ensure_ascii": False}
FINISH_VERBOSE = json.dumps(
    {
        "msg_type": "generate_answer_finish",
        "data": json.dumps({"finish_reason": 0, "fin_data": ""}, **_COMPACT),
        "from_unit": "",
    },
    **_COMPACT,
)
_VARIABLE = re.compile(r"\{\{\s*([A-Za-z_][\w.-]*)\s*\}\}")

Emit = Callable[[tuple], None]


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
    interrupt_as_verbose: bool  # the console shows "requires action" as a verbose message
    params: dict = dataclasses.field(default_factory=dict)  # temperature, max_tokens ...
    resumed: bool = False  # continuing after submit_tool_outputs
    started: float = dataclasses.field(default_factory=time.monotonic)
    usage: llm.Usage = dataclasses.field(default_factory=llm.Usage)


# --- preparing a turn (blocking; before the response starts) -----------------------------------


def suggests(config: dict) -> bool:
    return (config.get("suggest_reply_info") or {}).get("suggest_reply_mode", 0) != SUGGEST_DISABLED


def model_of(config: dict, override=None) -> LlmModel:
    model_id = override or (config.get("model_info") or {}).get("model_id")
    return model_registry.usable(model_id)


def render_persona(config: dict, variables: dict) -> str:
    """The persona prompt with {{name}} replaced by the chat's variables or the agent's defaults."""
    defaults = {
        v.get("key"): v.get("default_value", "")
        for v in config.get("variable_list") or []
        if isinstance(v, dict)
    }
    values = {**defaults, **{k: str(v) for k, v in (variables or {}).items()}}
    prompt = (config.get("prompt_info") or {}).get("prompt") or ""
    return _VARIABLE.sub(lambda m: values.get(m.group(1), m.group(0)), prompt)


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
    context: list[dict] | None = None,
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
    persona = render_persona(config, variables)
    prompt = [{"role": "system", "content": persona}] if persona else []
    if not new_conversation:
        prompt += history(user, conversation, conversation.last_section_id, rounds, model)
    for index, item in enumerate(context):
        field = f"additional_messages[{index}]"
        item_text, item_parts = message_content.parse(
            item.get("content") or "", item.get("content_type") or "text", field=field, user=user
        )
        prompt.append(
            {
                "role": item["role"],
                "content": user_content(item_text, item_parts, model)
                if item["role"] == "user"
                else item_text,
            }
        )
    prompt.append({"role": "user", "content": user_content(text, parts, model)})
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
            {"role": "user", "type": "question", "content": query, "content_type": content_type or "text"},
            run=run,
            extra_info={"local_message_id": local_message_id} if local_message_id else None,
        )
        if not new_conversation:
            conversations.touch_conversation(conversation.id)
    params = {
        k: model_info.get(k)
        for k in ("temperature", "max_tokens", "top_p", "frequency_penalty", "presence_penalty")
    }
    return Turn(
        user=user,
        bot=bot,
        conversation=conversation,
        run=run,
        question=question,
        config=config,
        model=model,
        messages=prompt,
        suggest=suggests(config),
        interrupt_as_verbose=interrupt_as_verbose,
        params={k: v for k, v in params.items() if v is not None},
    )


# --- executing a turn (async) ------------------------------------------------------------------


class Runner:
    def __init__(self, turn: Turn, emit: Emit):
        self.turn = turn
        self.emit = emit
        self.answer: Message | None = None
        self.answer_text: list[str] = []
        self.answer_reasoning: list[str] = []

    def _new_message(self, type_: str, content: str = "", **fields) -> Message:
        turn = self.turn
        return Message(
            id=new_id(),
            conversation=turn.conversation.id,
            run=turn.run.id,
            turn_id=turn.run.id,
            section_id=turn.run.section_id,
            bot=turn.bot.id,
            creator=turn.user.id,
            role="assistant",
            type=type_,
            content=content,
            content_type="text",
            reply_id=turn.question.id,
            created_at=now_s(),
            updated_at=now_s(),
            **fields,
        )

    async def _record(self, message: Message) -> Message:
        await run_db(message.insert_new)
        self.emit(("message", message))
        return message

    async def _set_status(self, status: str, **fields) -> None:
        run = self.turn.run
        run.status = status
        run.updated_at = now_s()
        for name, value in fields.items():
            setattr(run, name, value)
        names = ["status", "updated_at", *fields]

        def save():
            # a run cancelled from elsewhere keeps that outcome
            query = ChatRun.update({ChatRun._meta.fields[n]: getattr(run, n) for n in names}).where(
                ChatRun.id == run.id
            )
            if status != CANCELED:
                query = query.where(ChatRun.status.in_([*LIVE_STATUSES, REQUIRES_ACTION]))
            return query.execute()

        if await run_db(save) or status == CANCELED:
            self.emit(("chat", run))

    async def execute(self) -> None:
        turn = self.turn
        try:
            if not turn.resumed:
                self.emit(("chat", ChatRun(**{**turn.run.__data__, "status": CREATED})))
                self.emit(("ack", turn.question))
            self.emit(("chat", turn.run))
            await self._rounds()
        except asyncio.CancelledError:
            await self._stopped()
        except llm.ProviderError as exc:
            await self._failed(errors.AGENT_RUN_FAILED.code, f"the model failed: {exc.msg}")
        except Exception:  # a bug must end the run visibly, not leave it in progress
            log.exception("chat run crashed", extra={"chat_id": turn.run.id})
            await self._failed(errors.INTERNAL.code, "internal error while running the agent")

    async def _recall(self) -> None:
        """Bound knowledge recalled for this turn (auto mode) into the prompt and the stream."""
        turn = self.turn
        settings = agent_knowledge.settings_of(turn.config)
        if settings is None or not settings.auto:
            return
        question = llm.text_of(turn.messages[-1]["content"])
        searched = question
        if settings.use_rewrite:
            searched = await llm.rewrite_query(turn.model, turn.messages[:-1], question)
        hits = await agent_knowledge.recall_async(turn.bot.space_id, settings, searched)
        await self._record(
            self._new_message("verbose", agent_knowledge.recall_verbose(hits, question, searched))
        )
        agent_knowledge.add_to_prompt(turn.messages, hits, settings)

    async def _rounds(self) -> None:
        turn = self.turn
        if not turn.resumed:
            await self._recall()
        offered = tools.tools_for(turn.config)
        request = llm.ChatRequest(
            messages=turn.messages, tools=[t.schema() for t in offered.values()], params=turn.params
        )
        for round_ in range(get_settings().chat_max_tool_rounds + 1):
            if round_ or turn.resumed:
                await self._check_not_cancelled()
            calls = await self._generate(request)
            if not calls:
                await self._finish()
                return
            for call in calls:
                await self._record(
                    self._new_message(
                        "function_call",
                        json.dumps(call.as_openai(), ensure_ascii=False),
                        extra_info={"tool_name": call.name, "call_id": call.id},
                    )
                )
            request.messages.append(
                {
                    "role": "assistant",
                    "content": "".join(self.answer_text) or None,
                    "tool_calls": [c.as_openai() for c in calls],
                }
            )
            self._reset_answer()
            if not all(c.name in offered for c in calls):
                await self._require_action(calls, request)
                return
            outputs = await asyncio.gather(*(self._run_tool(offered[c.name], c) for c in calls))
            for call, output in zip(calls, outputs):
                await self._record(
                    self._new_message(
                        "tool_response", output, extra_info={"tool_name": call.name, "call_id": call.id}
                    )
                )
                request.messages.append({"role": "tool", "tool_call_id": call.id, "content": output})
        raise llm.ProviderError(
            f"the agent called tools more than {get_settings().chat_max_tool_rounds} "
            f"times in one turn (COZEPLUS_CHAT_MAX_TOOL_ROUNDS)"
        )

    async def _generate(self, request: llm.ChatRequest) -> list[llm.ToolCall]:
        turn = self.turn
        if self.answer is None:
            self.answer = self._new_message("answer")
        calls: list[llm.ToolCall] = []
        async with contextlib.aclosing(llm.stream(turn.model, request, self._delta)) as chunks:
            async for chunk in chunks:
                if chunk.usage:
                    turn.usage.add(chunk.usage)
                calls = chunk.tool_calls or calls
        return calls

    def _delta(self, content: str, reasoning: str) -> None:
        self.answer_text.append(content)
        self.answer_reasoning.append(reasoning)
        self.emit(("delta", self.answer, content, reasoning))

    def _reset_answer(self) -> None:
        self.answer, self.answer_text, self.answer_reasoning = None, [], []

    async def _run_tool(self, tool: tools.Tool, call: llm.ToolCall) -> str:
        turn = self.turn
        try:
            arguments = jsonsafe.loads(call.arguments or "{}")
        except ValueError:
            return f"error: the arguments are not JSON: {call.arguments[:200]}"
        context = tools.ToolContext(
            user_id=turn.user.id,
            bot_id=turn.bot.id,
            conversation_id=turn.conversation.id,
            chat_id=turn.run.id,
            end_user=turn.run.end_user,
        )
        try:
            return await tool.run(arguments, context)
        except Exception as exc:  # a failing tool is reported to the model, which can recover
            log.warning("tool failed", extra={"tool": call.name, "error": str(exc)})
            return f"error: the tool {call.name} failed: {exc}"

    def _usage_info(self) -> dict:
        usage = self.turn.usage
        return {
            "input_tokens": str(usage.input_tokens),
            "output_tokens": str(usage.output_tokens),
            "token": str(usage.input_tokens + usage.output_tokens),
            "time_cost": f"{time.monotonic() - self.turn.started:.3f}",
        }

    async def _save_answer(self, status: str = AVAILABLE) -> Message | None:
        answer = self.answer
        if answer is None:
            return None
        answer.content = "".join(self.answer_text)
        answer.reasoning_content = "".join(self.answer_reasoning)
        answer.extra_info = self._usage_info()
        answer.status = status
        if status == BROKEN:
            answer.broken_pos = len(answer.content)
        answer.updated_at = now_s()
        await run_db(answer.insert_new)
        return answer

    async def _finish(self) -> None:
        turn = self.turn
        answer = await self._save_answer()
        self.emit(("message", answer))
        await self._record(self._new_message("verbose", FINISH_VERBOSE))
        if turn.suggest:
            try:
                suggestions = await llm.follow_ups(turn.model, turn.messages, answer.content)
            except llm.ProviderError as exc:  # the answer stands; only the suggestions are lost
                log.warning("follow-up suggestions failed", extra={"chat_id": turn.run.id, "error": exc.msg})
                suggestions = []
            for question in suggestions:
                await self._record(self._new_message("follow_up", question))
        await self._set_status(COMPLETED, completed_at=now_s(), usage=turn.usage.as_coze())
        await self._discard_unsaved_history()

    async def _require_action(self, calls: list[llm.ToolCall], request: llm.ChatRequest) -> None:
        action = {
            "type": "submit_tool_outputs",
            "submit_tool_outputs": {"tool_calls": [c.as_openai() for c in calls]},
        }
        if self.turn.interrupt_as_verbose:
            await self._record(
                self._new_message(
                    "verbose",
                    json.dumps({"msg_type": "interrupt", "data": json.dumps({"required_action": action})}),
                )
            )
        await self._set_status(
            REQUIRES_ACTION,
            required_action=action,
            usage=self.turn.usage.as_coze(),
            state={"messages": request.messages, "params": request.params},
        )

    async def _check_not_cancelled(self) -> None:
        """A cancel that reached another process shows in the database; look between rounds."""
        status = await run_db(
            lambda: ChatRun.select(ChatRun.status).where(ChatRun.id == self.turn.run.id).scalar()
        )
        if status == CANCELED:
            raise asyncio.CancelledError()

    async def _stopped(self) -> None:
        if self.answer_text or self.answer_reasoning:
            self.emit(("message", await self._save_answer(BROKEN)))
        await self._set_status(CANCELED, usage=self.turn.usage.as_coze())

    async def _failed(self, code: int, msg: str) -> None:
        turn = self.turn
        if self.answer_text or self.answer_reasoning:
            await self._save_answer(BROKEN)
        await self._set_status(
            FAILED, failed_at=now_s(), last_error={"code": code, "msg": msg}, usage=turn.usage.as_coze()
        )

    async def _discard_unsaved_history(self) -> None:
        run = self.turn.run
        if not run.save_history:
            await run_db(lambda: Message.delete().where(Message.run == run.id).execute())


# --- live runs: execution as tasks, cancellation, resumption -----------------------------------

_live: dict[int, LiveRun] = {}
_background: set[asyncio.Task] = set()


class LiveRun:
    """A turn running as a task. Its events go to `subscriber` as they happen (a streaming
    response renders and queues them at once; the model's deltas arrive straight from the
    network reads); without one (non-streaming calls) they are dropped: the database has the
    outcome. The subscriber gets None when the run is over. It must use an event at once: the
    run and messages in it change afterwards."""

    def __init__(self, turn: Turn, subscriber: Callable[[tuple | None], None] | None = None):
        self.turn = turn
        self.subscriber = subscriber
        self.loop = asyncio.get_running_loop()
        self.done = False
        self.task = self.loop.create_task(self._main())
        _live[turn.run.id] = self
        _background.add(self.task)
        self.task.add_done_callback(_background.discard)

    def _emit(self, event: tuple) -> None:
        if self.subscriber is not None:
            self.subscriber(event)

    async def _main(self) -> None:
        try:
            await Runner(self.turn, self._emit).execute()
        finally:
            self.done = True
            _live.pop(self.turn.run.id, None)
            if self.subscriber is not None:
                self.subscriber(None)

    def cancel(self) -> None:
        if not self.done and not self.loop.is_closed():  # the caller may be on another loop (or thread)
            self.loop.call_soon_threadsafe(self.task.cancel)


async def cancel(run: ChatRun, wait_seconds: float = 5.0) -> ChatRun:
    """Stop a created or in-progress run, here or (through the database) in another process."""
    if run.status not in LIVE_STATUSES:
        raise errors.CHAT_NOT_CANCELLABLE(
            f"chat {run.id} is {run.status}; only a created or in-progress chat can be cancelled"
        )
    live = _live.get(run.id)
    if live is not None:
        live.cancel()
        deadline = time.monotonic() + wait_seconds
        while not live.done and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
    else:
        await run_db(
            lambda: (
                ChatRun.update(status=CANCELED, updated_at=now_s())
                .where((ChatRun.id == run.id) & ChatRun.status.in_(LIVE_STATUSES))
                .execute()
            )
        )
    return await run_db(lambda: ChatRun.get_by_id(run.id))


async def break_turn(user: User, conversation_id, question_id, answer_id, broken_pos: int | None) -> None:
    """The console's stop button: stop the question's run if it still goes, then keep the answer
    cut where the user stopped reading."""
    question = await run_db(conversations.load_message, user, conversation_id, question_id)
    run = await run_db(ChatRun.by_id, question.run_id) if question.run_id else None
    if run is not None and run.status in LIVE_STATUSES:
        await cancel(run)
    if parse_id(answer_id):
        answer = await run_db(conversations.load_message, user, conversation_id, answer_id)
        await run_db(conversations.mark_broken, answer, broken_pos)


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
    conversation = Conversation.get_by_id(run.conversation_id)
    bot = Bot.get_by_id(run.bot_id)
    question = Message.get((Message.run == run.id) & (Message.type == "question"))
    config = _config_of_run(run, bot)
    state = copy.deepcopy(run.state)
    names = {c["id"]: c["function"]["name"] for c in calls}
    with db.atomic():
        for call_id in pending:
            name = names[call_id]
            Message.create(
                conversation=conversation.id,
                run=run.id,
                turn_id=run.id,
                section_id=run.section_id,
                bot=bot.id,
                creator=user.id,
                role="assistant",
                type="tool_response",
                content=given[call_id],
                reply_id=question.id,
                extra_info={"tool_name": name, "call_id": call_id},
            )
            state["messages"].append({"role": "tool", "tool_call_id": call_id, "content": given[call_id]})
        run.touch(status=IN_PROGRESS, required_action=None, state=None, worker_id=recovery.current_id())
    usage = run.usage or {}
    turn = Turn(
        user=user,
        bot=bot,
        conversation=conversation,
        run=run,
        question=question,
        config=config,
        model=model_of(config),
        messages=state["messages"],
        suggest=suggests(config),
        interrupt_as_verbose=False,
        params=state.get("params") or {},
        resumed=True,
        usage=llm.Usage(usage.get("input_count", 0), usage.get("output_count", 0)),
    )
    return turn


def _config_of_run(run: ChatRun, bot: Bot) -> dict:
    from models.agent import BotVersion
    from services import agents

    if run.bot_version:
        version = BotVersion.get_or_none(BotVersion.id == run.bot_version)
        if version is not None:
            return version.snapshot
    return agents.bot_info(bot)
