"""Chat turns, executed: a prepared Turn runs as an asyncio task (LiveRun) that emits events as
they happen; a streaming response relays them, and a client that goes away cancels the task (and
with it the upstream model call). Events are the small types below."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import time
from collections.abc import Callable

from core import errors, jsonsafe
from core.ids import new_id, parse_id
from core.settings import get_settings
from core.tracing import tracer
from models.base import now_s
from models.conversation import (
    AVAILABLE,
    BROKEN,
    CANCELED,
    COMPLETED,
    CREATED,
    FAILED,
    LIVE_STATUSES,
    REQUIRES_ACTION,
    ChatRun,
    ChatRunWait,
    Message,
)
from models.db import run_db
from models.identity import User
from services import (
    agent_knowledge,
    agent_memory,  # noqa: F401  (its import registers the database tools)
    agent_plugins,  # noqa: F401  (its import registers the plugins' tools)
    agent_workflows,  # noqa: F401  (its import registers the workflows' tools)
    cancel_watch,
    conversations,
    llm,
    tools,
    webhooks,
)
from services.chat import Turn

log = logging.getLogger("cozeplus.chat")

_COMPACT = {"separators": (",", ":"), "ensure_ascii": False}
FINISH_VERBOSE = json.dumps(
    {
        "msg_type": "generate_answer_finish",
        "data": json.dumps({"finish_reason": 0, "fin_data": ""}, **_COMPACT),
        "from_unit": "",
    },
    **_COMPACT,
)


@dataclasses.dataclass(frozen=True, slots=True)
class RunStatus:
    """The run changed status (created, in progress, completed, failed, requires action ...)."""

    run: ChatRun


@dataclasses.dataclass(frozen=True, slots=True)
class Acked:
    """The question was recorded (the console shows it as an ack)."""

    message: Message


@dataclasses.dataclass(frozen=True, slots=True)
class Delta:
    """A piece of the answer being written (text and reasoning, either may be empty)."""

    message: Message
    content: str
    reasoning: str


@dataclasses.dataclass(frozen=True, slots=True)
class Completed:
    """A message the agent finished: the answer, a tool call, a tool's response, a verbose note."""

    message: Message


Event = RunStatus | Acked | Delta | Completed
Emit = Callable[[Event], None]


# --- executing a turn (async) ------------------------------------------------------------------


class Runner:
    def __init__(self, turn: Turn, emit: Emit):
        self.turn = turn
        self.emit = emit
        self.answer: Message | None = None
        self.answer_text: list[str] = []
        self.answer_reasoning: list[str] = []
        self.answer_saved = False

    def _new_message(self, type_: str, content: str = "", **fields) -> Message:
        return self.turn.reply(type_, content, **fields)

    async def _record(self, message: Message) -> Message:
        await run_db(message.insert_new)
        self.emit(Completed(message))
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
            self.emit(RunStatus(run))

    async def execute(self) -> None:
        turn = self.turn
        attributes = {
            "chat.id": str(turn.run.id),
            "agent.id": str(turn.bot.id),
            "conversation.id": str(turn.conversation.id),
        }
        with tracer.start_as_current_span("chat.run", attributes=attributes):
            await self._execute()

    async def _execute(self) -> None:
        turn = self.turn
        try:
            if not turn.resumed:
                self.emit(RunStatus(ChatRun(**{**turn.run.__data__, "status": CREATED})))
                self.emit(Acked(turn.question))
            self.emit(RunStatus(turn.run))
            await self._rounds()
        except asyncio.CancelledError:
            await self._stopped()
        except llm.ProviderError as exc:
            await self._failed(errors.AGENT_RUN_FAILED.code, f"the model failed: {exc.msg}")
        except Exception:  # a bug must end the run visibly, not leave it in progress
            log.exception("chat run crashed", extra={"chat_id": turn.run.id})
            await self._failed(errors.INTERNAL_ERROR.code, "internal error while running the agent")

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
        if turn.rerun_calls:  # resumed after an authorization: the calls that waited for it
            calls = [llm.ToolCall.of_openai(c) for c in turn.rerun_calls]
            if not await self._call_tools(offered, calls, request):
                return
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
            if not await self._call_tools(offered, calls, request):
                return
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
        self.emit(Delta(self.answer, content, reasoning))

    def _reset_answer(self) -> None:
        self.answer, self.answer_text, self.answer_reasoning = None, [], []

    async def _call_tools(self, offered: dict[str, tools.Tool], calls: list[llm.ToolCall], request) -> bool:
        """Run the calls and add their outputs to the prompt. False when some wait for an end
        user's authorization: the run then requires action and resumes when it arrives."""
        outputs = await asyncio.gather(*(self._run_tool(offered.get(c.name), c) for c in calls))
        waiting = []
        for call, output in zip(calls, outputs):
            if isinstance(output, tools.AuthorizationRequired):
                waiting.append((call, output))
                continue
            await self._record(
                self._new_message(
                    "tool_response", output, extra_info={"tool_name": call.name, "call_id": call.id}
                )
            )
            request.messages.append({"role": "tool", "tool_call_id": call.id, "content": output})
        if waiting:
            await self._require_action([call for call, _ in waiting], request, [w for _, w in waiting])
        return not waiting

    async def _run_tool(
        self, tool: tools.Tool | None, call: llm.ToolCall
    ) -> str | tools.AuthorizationRequired:
        turn = self.turn
        if tool is None:  # gone from the agent while the run waited
            return f"error: the tool {call.name} is no longer available"
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
            connector_id=turn.run.connector_id,
            draft=turn.run.bot_version is None,
        )
        try:
            return await tool.run(arguments, context)
        except tools.AuthorizationRequired as needed:
            return needed
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
        # a cancel landing after this insert must not save the answer a second time
        self.answer_saved = True
        await run_db(answer.insert_new)
        return answer

    def _answer_unsaved(self) -> bool:
        return not self.answer_saved and bool(self.answer_text or self.answer_reasoning)

    async def _finish(self) -> None:
        turn = self.turn
        answer = await self._save_answer()
        self.emit(Completed(answer))
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
        data = {
            "chat_id": str(turn.run.id),
            "conversation_id": str(turn.conversation.id),
            "bot_id": str(turn.bot.id),
            "answer": answer.content if answer else "",
            "usage": turn.usage.as_coze(),
        }
        await run_db(webhooks.emit_safely, turn.bot.space_id, "chat.completed", data)

    async def _require_action(
        self,
        calls: list[llm.ToolCall],
        request: llm.ChatRequest,
        authorizations: list[tools.AuthorizationRequired] = (),
    ) -> None:
        action = {
            "type": "submit_tool_outputs",
            "submit_tool_outputs": {"tool_calls": [c.as_openai() for c in calls]},
        }
        if authorizations:
            action["authorizations"] = [a.wire(call.id) for call, a in zip(calls, authorizations)]
            run_id = self.turn.run.id
            waits = {(a.plugin_id, a.holder) for a in authorizations}
            await run_db(
                lambda: ChatRunWait.insert_many(
                    [{"id": new_id(), "run": run_id, "plugin_id": p, "holder": h} for p, h in waits]
                ).execute()
            )
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
        if self._answer_unsaved():
            self.emit(Completed(await self._save_answer(BROKEN)))
        await self._set_status(CANCELED, usage=self.turn.usage.as_coze())

    async def _failed(self, code: int, msg: str) -> None:
        turn = self.turn
        if self._answer_unsaved():
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

    def __init__(self, turn: Turn, subscriber: Callable[[Event | None], None] | None = None):
        self.turn = turn
        self.subscriber = subscriber
        self.loop = asyncio.get_running_loop()
        self.done = False
        self.task = self.loop.create_task(self._main())
        _live[turn.run.id] = self
        cancel_watch.watch("chat", turn.run.id, self.cancel)  # a cancel through another process
        _background.add(self.task)
        self.task.add_done_callback(_background.discard)

    def _emit(self, event: Event) -> None:
        if self.subscriber is not None:
            self.subscriber(event)

    async def _main(self) -> None:
        try:
            await Runner(self.turn, self._emit).execute()
        finally:
            self.done = True
            _live.pop(self.turn.run.id, None)
            cancel_watch.unwatch("chat", self.turn.run.id)
            if self.subscriber is not None:
                self.subscriber(None)

    def cancel(self) -> None:
        if not self.done and not self.loop.is_closed():  # the caller may be on another loop (or thread)
            self.loop.call_soon_threadsafe(self.task.cancel)


def _cancelled_among(ids: list[int]) -> list[int]:
    query = ChatRun.select(ChatRun.id).where(ChatRun.id.in_(ids) & (ChatRun.status == CANCELED))
    return [row.id for row in query]


cancel_watch.register("chat", _cancelled_among)


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
