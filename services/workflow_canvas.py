"""Coze's workflow canvas (the `schema` string a workflow is saved as): nodes with numeric types as
strings, their inputs as literals or references to earlier nodes' outputs, and the edges between
their ports. This module reads a canvas into a checked graph and resolves input values; the
engine (to come, services/workflow_engine) runs the graph.

The format follows Coze Studio's exports, so a canvas from there is read unchanged: `nodes[]`
{id, type, data{nodeMeta, inputs, outputs}, blocks[] (a loop's or a batch's inner nodes),
edges[] (among those)}, and `edges[]` {sourceNodeID, targetNodeID, sourcePortID}."""

from __future__ import annotations

import dataclasses
import json
import re

from core import errors

START_ID, END_ID = "100001", "900001"
# Coze's node type ids (backend/domain/workflow/entity/node_meta.go)
START, END, LLM, PLUGIN, CODE, KNOWLEDGE = "1", "2", "3", "4", "5", "6"
CONDITION, SUB_WORKFLOW, CUSTOM_SQL, OUTPUT, TEXT = "8", "9", "12", "13", "15"
QUESTION, BREAK, SET_VARIABLE, LOOP, INTENT = "18", "19", "20", "21", "22"
KNOWLEDGE_WRITE, BATCH, CONTINUE, INPUT, COMMENT, AGGREGATOR = "27", "28", "29", "30", "31", "32"
VALUE_TYPES = ("string", "integer", "float", "boolean", "object", "list")
MAX_NODES = 1000
MAX_TEMPLATE_PATH = 20
_TEMPLATE = re.compile(r"\{\{\s*([^{}]+?)\s*\}\}")


def _invalid(message: str) -> errors.ApiError:
    return errors.WORKFLOW_INVALID_PARAM(message)


@dataclasses.dataclass
class Node:
    id: str
    type: str
    title: str
    data: dict
    blocks: list[Node] = dataclasses.field(default_factory=list)
    inner_edges: list[Edge] = dataclasses.field(default_factory=list)

    @property
    def inputs(self) -> dict:
        return self.data.get("inputs") or {}

    @property
    def outputs(self) -> list[dict]:
        return self.data.get("outputs") or []

    @property
    def parameters(self) -> list[dict]:
        return self.inputs.get("inputParameters") or []


@dataclasses.dataclass(frozen=True)
class Edge:
    source: str
    target: str
    source_port: str = ""
    target_port: str = ""


@dataclasses.dataclass
class Canvas:
    nodes: dict[str, Node]
    edges: list[Edge]

    def __post_init__(self):
        self._out: dict[str, list[Edge]] = {node_id: [] for node_id in self.nodes}
        self._in: dict[str, list[Edge]] = {node_id: [] for node_id in self.nodes}
        for edge in self.edges:
            self._out[edge.source].append(edge)
            self._in[edge.target].append(edge)

    def successors(self, node_id: str) -> list[Edge]:
        return self._out.get(node_id, [])

    def predecessors(self, node_id: str) -> list[Edge]:
        return self._in.get(node_id, [])


def batched(node: Node) -> bool:
    """A node in batch mode: it runs once per item of its input lists, which it refers to by its own id."""
    return node.type != BATCH and bool((node.inputs.get("batch") or {}).get("batchEnable"))


def every_node(graph: Canvas):
    """The canvas's nodes and, after each loop or batch, the nodes of its body (nested too)."""
    pending = list(graph.nodes.values())
    while pending:
        node = pending.pop(0)
        yield node
        pending[:0] = node.blocks


def parse(schema, where: str = "schema") -> Canvas:
    """The canvas in `schema` (its JSON text, or the object), with every node id unique, every
    edge between known nodes, and a Start and an End; 400 naming the place otherwise."""
    if isinstance(schema, str):
        try:
            schema = json.loads(schema)
        except ValueError as exc:
            raise _invalid(f"{where}: not JSON ({exc})")
    if not isinstance(schema, dict):
        raise _invalid(f"{where}: must be an object with nodes and edges")
    seen: set[str] = set()
    nodes = _nodes(schema.get("nodes"), f"{where}.nodes", seen)
    edges = _edges(schema.get("edges"), f"{where}.edges", nodes)
    kinds = [n.type for n in nodes.values()]
    if kinds.count(START) != 1 or kinds.count(END) != 1:
        raise _invalid(f"{where}.nodes: a workflow has one Start (type 1) and one End (type 2) node")
    return Canvas(nodes, edges)


def _nodes(raw, where: str, seen: set[str], depth: int = 0) -> dict[str, Node]:
    if not isinstance(raw, list):
        raise _invalid(f"{where}: must be a list")
    found: dict[str, Node] = {}
    for index, item in enumerate(raw):
        at = f"{where}[{index}]"
        if not isinstance(item, dict):
            raise _invalid(f"{at}: must be an object")
        node_id, kind = str(item.get("id") or ""), str(item.get("type") or "")
        if not node_id:
            raise _invalid(f"{at}.id: required")
        if node_id in seen:
            raise _invalid(f"{at}.id: {node_id} is used twice")
        if len(seen) >= MAX_NODES:
            raise _invalid(f"{where}: at most {MAX_NODES} nodes")
        seen.add(node_id)
        data = item.get("data") or {}
        if not isinstance(data, dict):
            raise _invalid(f"{at}.data: must be an object")
        title = str((data.get("nodeMeta") or {}).get("title") or node_id)
        node = Node(node_id, kind, title, data)
        if item.get("blocks"):
            if depth >= 3:
                raise _invalid(f"{at}.blocks: nested too deeply")
            inner = _nodes(item["blocks"], f"{at}.blocks", seen, depth + 1)
            node.blocks = list(inner.values())
            node.inner_edges = _edges(item.get("edges") or [], f"{at}.edges", {**inner, node_id: node})
        found[node_id] = node
    return found


def _edges(raw, where: str, nodes: dict[str, Node]) -> list[Edge]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise _invalid(f"{where}: must be a list")
    edges = []
    for index, item in enumerate(raw):
        at = f"{where}[{index}]"
        if not isinstance(item, dict):
            raise _invalid(f"{at}: must be an object")
        edge = Edge(
            str(item.get("sourceNodeID") or ""),
            str(item.get("targetNodeID") or ""),
            str(item.get("sourcePortID") or ""),
            str(item.get("targetPortID") or ""),
        )
        for end, node_id in (("sourceNodeID", edge.source), ("targetNodeID", edge.target)):
            if node_id not in nodes:
                raise _invalid(f"{at}.{end}: no node {node_id!r} on the canvas")
        edges.append(edge)
    return edges


# --- values -----------------------------------------------------------------------------------------


class Scope:
    """What a node's inputs can refer to: earlier nodes' outputs by node id, and variables."""

    def __init__(self, outputs: dict[str, dict] | None = None, variables: dict[str, dict] | None = None):
        self.outputs = outputs if outputs is not None else {}
        self.variables = variables or {}  # source (global_variable_app ...) -> {name: value}

    def lookup(self, reference: dict, where: str):
        source = reference.get("source") or "block-output"
        if source == "block-output":
            block = str(reference.get("blockID") or "")
            if block not in self.outputs:
                raise errors.WORKFLOW_EXECUTION_FAILED(
                    f"{where}: node {block} has not run (or is not on the canvas)"
                )
            return _at_path(self.outputs[block], _path_of(reference), where)
        values = self.variables.get(source) or {}
        return _at_path(values, _path_of(reference), where)


def _path_of(reference: dict) -> list[str]:
    path = reference.get("path")
    if isinstance(path, list) and path:
        return [str(p) for p in path]
    name = str(reference.get("name") or "")
    return name.split(".") if name else []


def _at_path(value, path: list[str], where: str):
    for part in path[:MAX_TEMPLATE_PATH]:
        if isinstance(value, dict):
            value = value.get(part)
        elif isinstance(value, list) and part.isdigit():
            index = int(part)
            value = value[index] if index < len(value) else None
        else:
            return None
    return value


def typed(kind: str, value, where: str):
    """A literal (often text from the canvas) as a value of the canvas type `kind`."""
    if value is None:
        return None
    try:
        if kind == "string":
            return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        if kind == "integer":
            if isinstance(value, bool):
                raise ValueError
            return int(value) if not isinstance(value, str) else int(value.strip())
        if kind == "float":
            return float(value)
        if kind == "boolean":
            if isinstance(value, bool):
                return value
            if str(value).lower() in ("true", "false"):
                return str(value).lower() == "true"
            raise ValueError
        if kind in ("object", "list"):
            parsed = json.loads(value) if isinstance(value, str) else value
            if not isinstance(parsed, dict if kind == "object" else list):
                raise ValueError
            return parsed
    except (ValueError, TypeError):
        raise errors.WORKFLOW_EXECUTION_FAILED(f"{where}: {str(value)[:100]!r} is not a valid {kind}")
    return value


def value_of(block_input: dict, scope: Scope, where: str):
    """A BlockInput's value: a literal typed by its type, a reference's value, or an object
    built from its schema's own inputs (object_ref)."""
    kind = block_input.get("type") or "string"
    value = block_input.get("value") or {}
    mode = value.get("type")
    if mode == "literal":
        return typed(kind, value.get("content"), where)
    if mode == "ref":
        content = value.get("content") or {}
        return scope.lookup(content if isinstance(content, dict) else {}, where)
    if mode == "object_ref":
        return {
            field.get("name"): value_of(field.get("input") or {}, scope, f"{where}.{field.get('name')}")
            for field in block_input.get("schema") or []
            if isinstance(field, dict)
        }
    return None


def inputs_of(node: Node, scope: Scope) -> dict:
    """The node's inputParameters by name, resolved."""
    return {
        p.get("name"): value_of(p.get("input") or {}, scope, f"node {node.id} ({node.title}).{p.get('name')}")
        for p in node.parameters
        if isinstance(p, dict) and p.get("name")
    }


def placeholders(template: str) -> list[re.Match]:
    return list(_TEMPLATE.finditer(template or ""))


def render(template: str, values: dict) -> str:
    """`{{name}}` and `{{name.field}}` replaced by the values (objects and lists as JSON)."""

    def fill(match: re.Match) -> str:
        parts = match.group(1).split(".")
        found = _at_path(values, parts, "template")
        if found is None:
            return ""
        return found if isinstance(found, str) else json.dumps(found, ensure_ascii=False)

    return _TEMPLATE.sub(fill, template or "")


# --- validation (validate_tree) ---------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Problem:
    message: str
    node_id: str = ""  # a node's problem
    path: tuple[str, ...] = ()  # a path's problem (a cycle)


def _reachable(start: str, step) -> set[str]:
    seen, queue = {start}, [start]
    while queue:
        for nxt in step(queue.pop()):
            if nxt not in seen:
                seen.add(nxt)
                queue.append(nxt)
    return seen


def _cycle(graph: Canvas) -> list[str]:
    """A cycle among the top-level nodes, as the ids along it ([] when there is none)."""
    state: dict[str, int] = {}
    for root in graph.nodes:
        if state.get(root):
            continue
        stack = [(root, iter(graph.successors(root)))]
        trail = [root]
        state[root] = 1
        while stack:
            node_id, edges = stack[-1]
            edge = next(edges, None)
            if edge is None:
                state[node_id] = 2
                stack.pop()
                trail.pop()
                continue
            if state.get(edge.target) == 1:
                return trail[trail.index(edge.target) :] + [edge.target]
            if not state.get(edge.target):
                state[edge.target] = 1
                stack.append((edge.target, iter(graph.successors(edge.target))))
                trail.append(edge.target)
    return []


def _references(block_input: dict, where: str):
    """(reference, where) for every block-output reference in a BlockInput, objects included."""
    value = (block_input or {}).get("value") or {}
    if value.get("type") == "ref" and isinstance(value.get("content"), dict):
        if (value["content"].get("source") or "block-output") == "block-output":
            yield value["content"], block_input.get("type"), where
    for field in (
        (block_input or {}).get("schema") or [] if isinstance(block_input.get("schema"), list) else []
    ):
        if isinstance(field, dict) and isinstance(field.get("input"), dict):
            yield from _references(field["input"], f"{where}.{field.get('name')}")


def _error_outputs(node: Node) -> dict:
    """What a node that handles its own failure adds to its outputs (the engine sets errorBody)."""
    setting = node.inputs.get("settingOnError") or {}
    if setting.get("switch", True) and int(setting.get("processType") or 1) in (2, 3):
        return {"errorBody": "object", "isSuccess": "boolean"}
    return {}


COMPATIBLE = {("integer", "float"), ("integer", "string"), ("float", "string"), ("boolean", "string")}


def problems(graph: Canvas) -> list[Problem]:
    """What would stop the canvas from running as drawn: nodes not on a path from Start to End,
    cycles (outside loops), references to nodes that do not run before, to outputs they do not
    have, or of another type."""
    found: list[Problem] = []
    start = next(n.id for n in graph.nodes.values() if n.type == START)
    end = next(n.id for n in graph.nodes.values() if n.type == END)
    forward = _reachable(start, lambda n: [e.target for e in graph.successors(n)])
    backward = _reachable(end, lambda n: [e.source for e in graph.predecessors(n)])
    for node in graph.nodes.values():
        if node.type != COMMENT and (node.id not in forward or node.id not in backward):
            found.append(
                Problem(f"node {node.id} ({node.title}) is not on a path from Start to End", node.id)
            )
    cycle = _cycle(graph)
    if cycle:
        found.append(
            Problem(
                f"the nodes {' -> '.join(cycle)} form a cycle (repeat work with a Loop node)",
                path=tuple(cycle),
            )
        )
    for node in graph.nodes.values():
        upstream = _reachable(node.id, lambda n: [e.source for e in graph.predecessors(n)]) - {node.id}
        inner = {b.id: b for b in node.blocks}
        for parameter in node.parameters:
            if not isinstance(parameter, dict):
                continue
            where = f"node {node.id} ({node.title}) input {parameter.get('name')}"
            for reference, kind, at in _references(parameter.get("input") or {}, where):
                block = str(reference.get("blockID") or "")
                if block == node.id and batched(node):
                    continue  # its own batch item
                source = graph.nodes.get(block) or inner.get(block)
                if source is None:
                    found.append(
                        Problem(f"{at}: refers to node {block!r}, which is not on the canvas", node.id)
                    )
                    continue
                if block not in upstream and block not in inner:
                    found.append(
                        Problem(
                            f"{at}: refers to node {block} ({source.title}), which does not run before it",
                            node.id,
                        )
                    )
                    continue
                name = (_path_of(reference) or [""])[0]
                declared = {o.get("name"): o.get("type") for o in source.outputs if isinstance(o, dict)}
                declared.update(_error_outputs(source) if declared else {})
                if declared and name not in declared:
                    found.append(
                        Problem(f"{at}: node {block} ({source.title}) has no output {name!r}", node.id)
                    )
                    continue
                given = declared.get(name) if len(_path_of(reference)) == 1 else None
                if given and kind and given != kind and (given, kind) not in COMPATIBLE:
                    found.append(
                        Problem(
                            f"{at}: is of type {kind}, but node {block}'s {name} is of type {given}", node.id
                        )
                    )
    return found


# --- the node catalog (node_template_list) ----------------------------------------------------------

CATALOG = [  # (type, name, what it does, the console's category)
    (START, "Start", "The workflow's inputs", ""),
    (END, "End", "The workflow's output: variables or an answer", ""),
    (LLM, "LLM", "Ask a model from the registry, with prompt templates", "Model"),
    (INTENT, "Intent recognition", "Route by what the user's message is about", "Model"),
    (PLUGIN, "Plugin", "Call a plugin's tool", "Plugin"),
    (SUB_WORKFLOW, "Workflow", "Run another workflow", "Workflow"),
    (CODE, "Code", "Run Python in a sandbox", "Business logic"),
    (CONDITION, "Condition", "Branch on conditions", "Business logic"),
    (LOOP, "Loop", "Repeat a body over a list, a count or until Break", "Business logic"),
    (BATCH, "Batch", "Run a body once per item, some at a time", "Business logic"),
    (SET_VARIABLE, "Set variable", "Set a loop's variable", "Business logic"),
    (BREAK, "Break", "Leave the loop", "Business logic"),
    (CONTINUE, "Continue", "Go on with the loop's next item", "Business logic"),
    (AGGREGATOR, "Variable merge", "The first value of each group that has one", "Business logic"),
    ("40", "Variable assign", "Set an agent's or a project's variable", "Business logic"),
    (QUESTION, "Question", "Ask the user and wait for the answer", "Input & output"),
    (INPUT, "Input", "Wait for a form the user fills in", "Input & output"),
    (OUTPUT, "Output", "Send a message mid-run", "Input & output"),
    (KNOWLEDGE, "Knowledge retrieval", "Search knowledge bases", "Knowledge & data"),
    (
        KNOWLEDGE_WRITE,
        "Knowledge writing",
        "Add a document (an upload, a web page or text)",
        "Knowledge & data",
    ),
    ("60", "Knowledge delete", "Delete a document", "Knowledge & data"),
    ("43", "Query data", "Read rows of a database", "Knowledge & data"),
    ("46", "Add data", "Add a row to a database", "Knowledge & data"),
    ("42", "Update data", "Change rows of a database", "Knowledge & data"),
    ("44", "Delete data", "Delete rows of a database", "Knowledge & data"),
    (CUSTOM_SQL, "SQL", "One SQL statement on the bound table", "Knowledge & data"),
    ("39", "Create conversation", "A named conversation of the user's", "Conversations"),
    ("51", "Edit conversation", "Rename a conversation", "Conversations"),
    ("52", "Delete conversation", "Delete a conversation", "Conversations"),
    ("53", "Conversation list", "The user's conversations", "Conversations"),
    ("54", "Conversation history", "The last rounds of a conversation", "Conversations"),
    ("37", "Message list", "A conversation's messages, paged", "Conversations"),
    ("38", "Clear history", "Empty a conversation", "Conversations"),
    ("55", "Create message", "Add a message to a conversation", "Conversations"),
    ("56", "Edit message", "Change a message", "Conversations"),
    ("57", "Delete message", "Delete a message", "Conversations"),
    (TEXT, "Text processing", "Join or split text", "Utilities"),
    ("58", "JSON serialisation", "A value as JSON text", "Utilities"),
    ("59", "JSON deserialisation", "JSON text as a value", "Utilities"),
    ("45", "HTTP request", "Call a URL (private addresses are refused)", "Utilities"),
    (COMMENT, "Comment", "A note on the canvas", "Utilities"),
]
