"""The workflow engine: runs a canvas (services/workflow_canvas) as a graph. Every node whose
incoming edges are all decided runs at once, so parallel branches really run in parallel; a node
none of whose incoming edges was taken is skipped, and so are the edges out of it. Each node has
its error setting (Coze's settingOnError): a timeout per attempt, retries, and on failure either
fail the run, give its default output, or take its exception branch.

Node kinds are handlers registered by type id; this module has the ones that need nothing but the
canvas (Start, End, Condition, Text processing). The others (LLM, plugins, code, knowledge,
databases, loops ...) register themselves from their own modules."""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import json
import logging
import time
from collections.abc import Awaitable, Callable

from core import errors
from core.tracing import tracer
from services import workflow_canvas as wc

log = logging.getLogger("cozeplus.workflow")

ERROR_PORT = "branch_error"
THROW, DEFAULT_OUTPUT, EXCEPTION_BRANCH = 1, 2, 3
WAITING, RUNNING, SUCCEEDED, FAILED, SKIPPED = "waiting", "running", "succeeded", "failed", "skipped"
INTERRUPTED = "interrupted"
BREAK, CONTINUE = "break", "continue"  # what a Break or Continue node tells its loop
MAX_BATCH_ITEMS = 1000
# Coze's interrupt event types (NodeEvent.type / InterruptType)
QUESTION_EVENT, INPUT_EVENT = 2, 5


@dataclasses.dataclass
class Outcome:
    outputs: dict
    port: str | None = None  # the branch taken (Condition, intent ...); None: the normal edges
    answer: str | None = None  # the End node's answer text (useAnswerContent)


Handler = Callable[["wc.Node", dict, "Run"], Awaitable[Outcome]]
_handlers: dict[str, Handler] = {}


def handles(*types: str):
    def register(handler: Handler) -> Handler:
        for kind in types:
            _handlers[kind] = handler
        return handler

    return register


def supported(kind: str) -> bool:
    return kind in _handlers


class Interrupt(Exception):
    """A node waits for the user (a question, an input form): the run stops when nothing else
    can go on, and is resumed with the answer (Run.answers) by running it again from what was done."""

    def __init__(self, kind: int, data: dict):
        super().__init__(f"waiting for the user (event type {kind})")
        self.kind, self.data = kind, data


@dataclasses.dataclass
class Waiting:
    node_id: str
    title: str
    kind: int
    data: dict


class RunInterrupted(Exception):
    def __init__(self, waiting: list[Waiting]):
        super().__init__(f"{len(waiting)} node(s) wait for the user")
        self.waiting = waiting


class NodeError(Exception):
    """A node failed; `code` is the error registry's code it reports."""

    def __init__(self, message: str, code: int = 0):
        super().__init__(message)
        self.code = code or errors.WORKFLOW_EXECUTION_FAILED.code


@dataclasses.dataclass
class NodeResult:
    node_id: str
    node_type: str
    title: str
    status: str = WAITING
    inputs: dict = dataclasses.field(default_factory=dict)
    outputs: dict = dataclasses.field(default_factory=dict)
    error: str = ""
    attempts: int = 0
    started: float = 0.0
    ended: float = 0.0
    tokens: int = 0

    @property
    def elapsed_ms(self) -> int:
        return int((self.ended - self.started) * 1000) if self.ended else 0


class Run:
    """One execution of a canvas with the Start node's inputs."""

    def __init__(
        self,
        canvas: wc.Canvas,
        inputs: dict,
        *,
        variables: dict | None = None,
        on_node: Callable[[NodeResult], None] | None = None,
        on_message: Callable[[NodeResult, str, bool], None] | None = None,
        done: dict[str, dict] | None = None,
        answers: dict[str, str] | None = None,
        context: dict | None = None,
        entries: list[str] | None = None,
        scope: wc.Scope | None = None,
        prefix: str = "",
    ):
        """`done` has the outcomes ({outputs, port}) of nodes an earlier pass finished (a run
        resumed after an interrupt): they are not run again. `answers` are the user's replies by
        node id. `context` is what node kinds need from outside (the user, the space ...).
        `entries` are where a body (a loop's, a batch's) starts, instead of the Start node, in
        `scope` (what it sees of the run around it); a body shares its run's `done` and `answers`,
        its nodes keyed under `prefix` (the loop's id and the pass, "21#3/")."""
        self.canvas, self.inputs = canvas, inputs
        self.scope = scope or wc.Scope(variables=variables)
        self.entries = set(entries or ())
        self.signal: str | None = None  # BREAK or CONTINUE, from a node of a loop's body
        self.results = {n.id: NodeResult(n.id, n.type, n.title) for n in canvas.nodes.values()}
        self.on_node, self.on_message = on_node, on_message
        self.prefix = prefix
        self.done: dict[str, dict] = done if done is not None else {}
        self.answers = answers or {}
        self.context = context or {}
        self.waiting: list[Waiting] = []
        self.streamed: dict[str, str] = {}  # answer node id -> the template part left to say
        self.output: dict = {}
        self.answer: str | None = None
        self._decided: dict[wc.Edge, bool] = {}

    async def execute(self) -> dict:
        """The End node's output; NodeError when a node fails with nothing to handle it."""
        pending: dict[asyncio.Task, str] = {}
        started: set[str] = set()

        def launch(candidates) -> None:
            queue = list(candidates)
            while queue:  # a skipped node decides its edges at once, which may ready others
                node_id = queue.pop()
                if node_id in started or not self._ready(node_id):
                    continue
                started.add(node_id)
                if self._taken_into(node_id):
                    pending[asyncio.create_task(self._run_node(self.canvas.nodes[node_id]))] = node_id
                else:
                    self._skip(node_id)
                    queue.extend(edge.target for edge in self.canvas.successors(node_id))

        launch(self.entries or [n.id for n in self.canvas.nodes.values() if n.type == wc.START])
        try:
            while pending:
                done, _ = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    node_id = pending.pop(task)
                    task.result()  # a failure that ends the run is raised here
                    launch(edge.target for edge in self.canvas.successors(node_id))
        finally:
            for task in pending:
                task.cancel()
        if self.waiting:
            raise RunInterrupted(self.waiting)
        if self.entries:  # a body: it ends where its paths end
            return self.output
        end = next(r for r in self.results.values() if r.node_type == wc.END)
        if end.status != SUCCEEDED:
            raise NodeError("the End node was not reached: no path to it was taken")
        return self.output

    def _ready(self, node_id: str) -> bool:
        if node_id in self.entries or (not self.entries and self.canvas.nodes[node_id].type == wc.START):
            return True
        incoming = self.canvas.predecessors(node_id)
        return bool(incoming) and all(edge in self._decided for edge in incoming)

    def _taken_into(self, node_id: str) -> bool:
        incoming = self.canvas.predecessors(node_id)
        return not incoming or any(self._decided[edge] for edge in incoming)

    def _skip(self, node_id: str) -> None:
        self.results[node_id].status = SKIPPED
        self.scope.outputs[node_id] = {}  # what refers to a branch not taken reads nothing
        for edge in self.canvas.successors(node_id):
            self._decided[edge] = False

    def _decide(self, node_id: str, port: str | None) -> None:
        for edge in self.canvas.successors(node_id):
            if port is None:
                self._decided[edge] = edge.source_port != ERROR_PORT
            else:
                self._decided[edge] = edge.source_port == port

    def _notify(self, result: NodeResult) -> None:
        if self.on_node is not None:
            self.on_node(result)

    def emit(self, node: wc.Node, content: str, finished: bool = True) -> None:
        """A message for the user mid-run (Output nodes, the End node's answer, streamed LLM text)."""
        if self.on_message is not None:
            self.on_message(self.results[node.id], content, finished)

    def key(self, node: wc.Node) -> str:
        """The node's key in `done`, `answers` and the events (inside a body, per pass)."""
        return self.prefix + node.id

    async def _run_node(self, node: wc.Node) -> None:
        attributes = {
            "workflow.node.id": node.id,
            "workflow.node.type": str(node.type),
            "workflow.node.title": node.title,
        }
        with tracer.start_as_current_span("workflow.node", attributes=attributes):
            await self._run_node_traced(node)

    async def _run_node_traced(self, node: wc.Node) -> None:
        result = self.results[node.id]
        earlier = self.done.get(self.key(node))
        if earlier is not None:  # finished before the run was interrupted
            outcome = Outcome(earlier.get("outputs") or {}, earlier.get("port"), earlier.get("answer"))
            result.status, result.outputs = SUCCEEDED, outcome.outputs
            self._finish(node, outcome)
            return
        result.status, result.started = RUNNING, time.monotonic()
        self._notify(result)
        setting = node.inputs.get("settingOnError") or {}
        handler = _handlers.get(node.type)
        try:
            if handler is None:
                raise NodeError(f"node {node.id} ({node.title}): node type {node.type} is not supported")
            # a node in batch mode refers to its own items: its inputs are resolved per item
            result.inputs = {} if wc.batched(node) else wc.inputs_of(node, self.scope)
            outcome = await self._attempts(node, handler, result, setting)
        except Interrupt as waiting:
            result.status, result.ended = INTERRUPTED, time.monotonic()
            self.waiting.append(Waiting(self.key(node), node.title, waiting.kind, waiting.data))
            self._notify(result)
            return
        except RunInterrupted as inside:  # nodes of its body wait (a loop's, a batch's)
            result.status, result.ended = INTERRUPTED, time.monotonic()
            self.waiting.extend(inside.waiting)
            self._notify(result)
            return
        except (NodeError, errors.ApiError) as exc:
            message = exc.msg if isinstance(exc, errors.ApiError) else str(exc)
            code = exc.error.code if isinstance(exc, errors.ApiError) else exc.code
            outcome = self._on_error(node, result, setting, message, code)
        except Exception:  # a bug in a node kind fails that node, not the request
            log.exception("workflow node failed", extra={"node_id": node.id, "node_type": node.type})
            message = f"node {node.id} ({node.title}): internal error in a node of type {node.type}"
            outcome = self._on_error(node, result, setting, message, errors.WORKFLOW_EXECUTION_FAILED.code)
        result.status, result.ended, result.outputs = SUCCEEDED, time.monotonic(), outcome.outputs
        self.done[self.key(node)] = {
            "outputs": outcome.outputs,
            "port": outcome.port,
            "answer": outcome.answer,
        }
        self._finish(node, outcome)
        self._notify(result)

    def _finish(self, node: wc.Node, outcome: Outcome) -> None:
        self.scope.outputs[node.id] = outcome.outputs
        if outcome.answer is not None:
            self.answer = outcome.answer
        if node.type == wc.END:
            self.output = outcome.outputs
        self._decide(node.id, outcome.port)

    async def _attempts(self, node: wc.Node, handler: Handler, result: NodeResult, setting: dict) -> Outcome:
        retries = max(0, min(int(setting.get("retryTimes") or 0), 10))
        timeout_ms = int(setting.get("timeoutMs") or 0)
        for attempt in range(retries + 1):
            result.attempts = attempt + 1
            try:
                if wc.batched(node):
                    work = self._batched(node, handler, node.inputs["batch"])
                else:
                    work = handler(node, result.inputs, self)
                if timeout_ms > 0:
                    return await asyncio.wait_for(work, timeout_ms / 1000)
                return await work
            except TimeoutError:
                failure = NodeError(f"node {node.id} ({node.title}): no result within {timeout_ms} ms")
            except (NodeError, errors.ApiError) as exc:
                failure = exc
            if attempt == retries:
                raise failure
        raise AssertionError("unreachable")

    def stream_target(self, node: wc.Node) -> tuple[NodeResult, str, str] | None:
        """Where a model node's text can stream as it is written: the answer node right after it
        (an End giving an answer, or an Output, set to stream) whose template says this node's
        output once, with whatever comes before it already known. (its result, what comes
        before, the template after.) Finding one records it: that node then says only the rest."""
        if self.on_message is None:
            return None
        for edge in self.canvas.successors(node.id):
            consumer = self.canvas.nodes[edge.target]
            answering = consumer.type == wc.OUTPUT or (
                consumer.type == wc.END and consumer.inputs.get("terminatePlan") == "useAnswerContent"
            )
            if not answering or not consumer.inputs.get("streamingOutput"):
                continue
            ours = [
                p.get("name")
                for p in consumer.parameters
                if isinstance(p, dict)
                and (((p.get("input") or {}).get("value") or {}).get("content") or {}).get("blockID")
                == node.id
            ]
            template = str(((consumer.inputs.get("content") or {}).get("value") or {}).get("content") or "")
            marks = [m for m in wc.placeholders(template) if m.group(1).strip() in ours]
            if len(ours) != 1 or len(marks) != 1:
                continue
            before, after = template[: marks[0].start()], template[marks[0].end() :]
            try:
                known = {
                    p.get("name"): wc.value_of(p.get("input") or {}, self.scope, "stream")
                    for p in consumer.parameters
                    if isinstance(p, dict) and p.get("name") != ours[0] and p.get("name") in before
                }
            except errors.ApiError:
                continue  # what comes before is not known yet
            self.streamed[consumer.id] = after
            return self.results[consumer.id], wc.render(before, known), after
        return None

    def within(self, outputs: dict) -> Run:
        """This run seeing `outputs` (node id -> outputs) over its own: a batch item's view."""
        view = copy.copy(self)
        view.scope = wc.Scope(outputs={**self.scope.outputs, **outputs}, variables=self.scope.variables)
        return view

    async def _batched(self, node: wc.Node, handler: Handler, batch: dict) -> Outcome:
        """A node in batch mode: run once per item of its input lists (`batch.inputLists`, the
        item under the node's own id), `concurrentSize` at a time; `outputList` has each output."""
        lists = {
            str(entry.get("name")): wc.value_of(entry.get("input") or {}, self.scope, f"node {node.id}.batch")
            for entry in batch.get("inputLists") or []
            if isinstance(entry, dict)
        }
        if any(not isinstance(value, list) for value in lists.values()):
            raise NodeError(f"node {node.id} ({node.title}).batch.inputLists: each must be a list")
        size = min([len(v) for v in lists.values()] or [0])
        size = min(size, int(batch.get("batchSize") or MAX_BATCH_ITEMS), MAX_BATCH_ITEMS)
        gate = asyncio.Semaphore(max(1, min(int(batch.get("concurrentSize") or 10), 100)))

        async def item(index: int) -> dict:
            async with gate:
                view = self.within({node.id: {**{k: v[index] for k, v in lists.items()}, "index": index}})
                return (await handler(node, wc.inputs_of(node, view.scope), view)).outputs

        return Outcome({"outputList": list(await asyncio.gather(*(item(i) for i in range(size))))})

    async def run_body(self, node: wc.Node, own: dict, index: int) -> Run:
        """Pass `index` of a loop's or a batch's body, which sees `own` as the node's outputs;
        RunInterrupted when nodes of it wait for the user (the passes done are kept)."""
        entries = [e.target for e in node.inner_edges if e.source == node.id]
        inner = {b.id: b for b in node.blocks}
        edges = [e for e in node.inner_edges if e.source in inner and e.target in inner]
        scope = wc.Scope(outputs={**self.scope.outputs, node.id: own}, variables=self.scope.variables)
        body = Run(
            wc.Canvas(inner, edges),
            self.inputs,
            on_node=self.on_node,
            on_message=self.on_message,
            context=self.context,
            entries=entries,
            scope=scope,
            done=self.done,
            answers=self.answers,
            prefix=f"{self.key(node)}#{index}/",
        )
        await body.execute()
        return body

    def _on_error(self, node: wc.Node, result: NodeResult, setting: dict, message: str, code: int) -> Outcome:
        process = int(setting.get("processType") or THROW) if setting.get("switch", True) else THROW
        error_body = {"errorMessage": message, "errorCode": code}
        if process == DEFAULT_OUTPUT:
            try:
                default = json.loads(setting.get("dataOnErr") or "{}")
            except ValueError:
                default = {}
            given = default if isinstance(default, dict) else {}
            return Outcome({**given, "errorBody": error_body, "isSuccess": False})
        if process == EXCEPTION_BRANCH:
            return Outcome({"errorBody": error_body, "isSuccess": False}, port=ERROR_PORT)
        result.status, result.ended, result.error = FAILED, time.monotonic(), message
        self._notify(result)
        raise NodeError(message, code)


# --- nodes that need only the canvas -----------------------------------------------------------------


@handles(wc.START)
async def _start(node: wc.Node, inputs: dict, run: Run) -> Outcome:
    values = {}
    for variable in node.outputs:
        name, kind = variable.get("name"), variable.get("type") or "string"
        given = run.inputs.get(name)
        if given is None and variable.get("defaultValue") not in (None, ""):
            given = variable["defaultValue"]
        if given is None:
            if variable.get("required"):
                raise errors.WORKFLOW_INVALID_PARAM(f"parameters.{name}: required")
            continue
        if kind in ("object", "list") and isinstance(given, dict | list):
            values[name] = given
        else:
            values[name] = wc.typed(kind, given, f"parameters.{name}")
    return Outcome(values)


def _content(node: wc.Node, inputs: dict) -> str:
    """The node's `content` template (End's answer, Output's message) with its inputs filled in."""
    content = ((node.inputs.get("content") or {}).get("value") or {}).get("content") or ""
    return wc.render(str(content), inputs)


def _say(node: wc.Node, inputs: dict, run: Run) -> str:
    """The node's message, emitted: whole, or only the rest when a model streamed the start."""
    message = _content(node, inputs)
    rest = run.streamed.get(node.id)
    run.emit(node, message if rest is None else wc.render(rest, inputs))
    return message


@handles(wc.END)
async def _end(node: wc.Node, inputs: dict, run: Run) -> Outcome:
    if node.inputs.get("terminatePlan") == "useAnswerContent":
        answer = _say(node, inputs, run)
        return Outcome({"output": answer}, answer=answer)
    return Outcome(inputs)


@handles(wc.OUTPUT)
async def _output(node: wc.Node, inputs: dict, run: Run) -> Outcome:
    return Outcome({"output": _say(node, inputs, run)})


# --- nodes that wait for the user ----------------------------------------------------------------

OPTION_IDS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


@handles(wc.QUESTION)
async def _question(node: wc.Node, inputs: dict, run: Run) -> Outcome:
    """Asks, then waits. A text answer is USER_RESPONSE (and, when the node extracts fields, the
    fields of an answer given as a JSON object or as `name: value` lines); an option answer takes
    the option's port ("branch_0" ...; "default" for anything else)."""
    question = wc.render(str(node.inputs.get("question") or ""), inputs)
    options = [
        str((o or {}).get("name") or "")
        for o in node.inputs.get("options") or []
        if isinstance(o, dict) and (o.get("name") or "")
    ]
    if node.inputs.get("option_type") == "dynamic":
        dynamic = node.inputs.get("dynamic_option") or {}
        found = wc.value_of(dynamic, run.scope, f"node {node.id} ({node.title}).dynamic_option")
        options = [str(o) for o in found] if isinstance(found, list) else options
    by_option = node.inputs.get("answer_type") == "option"
    if run.key(node) not in run.answers:
        content = {"question": question, "options": [{"name": o} for o in options]} if by_option else question
        message = {"type": "question", "content_type": "option" if by_option else "text", "content": content}
        raise Interrupt(QUESTION_EVENT, {"messages": [message], "question": question})
    answer = run.answers[run.key(node)]
    if by_option:
        if answer in options:
            index = options.index(answer)
            return Outcome(
                {"optionId": OPTION_IDS[index % 26], "optionContent": answer}, port=f"branch_{index}"
            )
        return Outcome({"optionId": "other", "optionContent": answer}, port="default")
    outputs = {"USER_RESPONSE": answer}
    fields = [o for o in node.outputs if isinstance(o, dict) and o.get("name") != "USER_RESPONSE"]
    if fields and node.inputs.get("extra_output"):
        given = _fields_in(answer)
        for field in fields:
            name = field.get("name")
            if name in given:
                outputs[name] = wc.typed(field.get("type") or "string", given[name], f"answer.{name}")
    return Outcome(outputs)


def _fields_in(answer: str) -> dict:
    try:
        parsed = json.loads(answer)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict):
        return parsed
    found = {}
    for line in answer.replace(",", "\n").splitlines():
        name, colon, value = line.partition(":")
        if colon and name.strip():
            found[name.strip()] = value.strip()
    return found


@handles(wc.INPUT)
async def _input(node: wc.Node, inputs: dict, run: Run) -> Outcome:
    """Waits for a form: the answer is a JSON object of the node's outputs."""
    if run.key(node) not in run.answers:
        raise Interrupt(INPUT_EVENT, {"content": node.inputs.get("outputSchema") or "[]"})
    try:
        given = json.loads(run.answers[run.key(node)])
    except ValueError:
        raise NodeError(f"node {node.id} ({node.title}): the input must be a JSON object")
    if not isinstance(given, dict):
        raise NodeError(f"node {node.id} ({node.title}): the input must be a JSON object")
    values = {}
    for field in node.outputs:
        name, kind = field.get("name"), field.get("type") or "string"
        if given.get(name) is None:
            if field.get("required"):
                raise NodeError(f"node {node.id} ({node.title}): input {name} is required")
            continue
        values[name] = wc.typed(kind, given[name], f"input.{name}")
    return Outcome(values)


_OPERATORS: dict[int, Callable] = {
    1: lambda a, b: a == b,
    2: lambda a, b: a != b,
    3: lambda a, b: _length(a) > _number(b),
    4: lambda a, b: _length(a) >= _number(b),
    5: lambda a, b: _length(a) < _number(b),
    6: lambda a, b: _length(a) <= _number(b),
    7: lambda a, b: a is not None and b is not None and _contains(a, b),
    8: lambda a, b: not (a is not None and b is not None and _contains(a, b)),
    9: lambda a, b: a in (None, "", [], {}),
    10: lambda a, b: a not in (None, "", [], {}),
    11: lambda a, b: a is True,
    12: lambda a, b: a is False,
    13: lambda a, b: _number(a) > _number(b),
    14: lambda a, b: _number(a) >= _number(b),
    15: lambda a, b: _number(a) < _number(b),
    16: lambda a, b: _number(a) <= _number(b),
}
OR, AND = 1, 2


def _number(value) -> float:
    if isinstance(value, bool) or value is None:
        raise NodeError(f"{value!r} is not a number to compare")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise NodeError(f"{str(value)[:100]!r} is not a number to compare")


def _length(value) -> int:
    return len(value) if isinstance(value, str | list | dict) else 0


def _contains(container, item) -> bool:
    if isinstance(container, str):
        return str(item) in container
    if isinstance(container, dict):
        return item in container
    return item in container if isinstance(container, list) else False


@handles(wc.CONDITION)
async def _condition(node: wc.Node, inputs: dict, run: Run) -> Outcome:
    """The first branch whose conditions hold: ports "true", "true_1", ...; else "false"."""
    for index, branch in enumerate(node.inputs.get("branches") or []):
        condition = (branch or {}).get("condition") or {}
        checks = []
        for at, clause in enumerate(condition.get("conditions") or []):
            where = f"node {node.id} ({node.title}).branches[{index}].conditions[{at}]"
            operator = _OPERATORS.get(int(clause.get("operator") or 0))
            if operator is None:
                raise NodeError(f"{where}.operator: {clause.get('operator')!r} is not an operator")
            left = wc.value_of((clause.get("left") or {}).get("input") or {}, run.scope, f"{where}.left")
            right_input = (clause.get("right") or {}).get("input")
            right = wc.value_of(right_input, run.scope, f"{where}.right") if right_input else None
            checks.append(bool(operator(left, right)))
        holds = any(checks) if int(condition.get("logic") or AND) == OR else bool(checks) and all(checks)
        if holds:
            return Outcome({}, port="true" if index == 0 else f"true_{index}")
    return Outcome({}, port="false")


@handles(wc.TEXT)
async def _text(node: wc.Node, inputs: dict, run: Run) -> Outcome:
    method = node.inputs.get("method") or "concat"
    params = {
        p.get("name"): wc.value_of(p.get("input") or {}, run.scope, f"node {node.id}.{p.get('name')}")
        for p in (node.inputs.get("concatParams") or node.inputs.get("splitParams") or [])
        if isinstance(p, dict)
    }
    if method == "concat":
        joiner = params.get("arrayItemConcatChar") or ""
        shown = {
            name: joiner.join(v if isinstance(v, str) else json.dumps(v, ensure_ascii=False) for v in value)
            if isinstance(value, list)
            else value
            for name, value in inputs.items()
        }
        return Outcome({"output": wc.render(str(params.get("concatResult") or ""), shown)})
    if method == "split":
        text = inputs.get("String1") if "String1" in inputs else next(iter(inputs.values()), "")
        separators = [s for s in params.get("delimiters") or [] if isinstance(s, str) and s]
        pieces = [str(text or "")]
        for separator in separators:
            pieces = [part for piece in pieces for part in piece.split(separator)]
        return Outcome({"output": pieces})
    raise NodeError(f"node {node.id} ({node.title}).method: concat or split, not {method!r}")
