"""The workflow Code node (type 5): the node's Python `main(args)` run in the sandbox
(services/code_sandbox) with its inputs as `args.params`; the dict it returns, typed by the
node's declared outputs, is the node's output."""

from __future__ import annotations

from core import errors
from services import code_sandbox
from services import workflow_canvas as wc
from services.workflow_engine import NodeError, Outcome, Run, handles

PYTHON, JAVASCRIPT = 3, 5  # Coze's code languages


@handles(wc.CODE)
async def code_node(node: wc.Node, inputs: dict, run: Run) -> Outcome:
    where = f"node {node.id} ({node.title})"
    language = int(node.inputs.get("language") or PYTHON)
    if language != PYTHON:
        raise NodeError(f"{where}.language: only Python (3) runs here, not {language}")
    code = node.inputs.get("code")
    if not isinstance(code, str) or not code.strip():
        raise NodeError(f"{where}.code: no code")
    try:
        returned, _ = await code_sandbox.run(code, inputs)
    except code_sandbox.CodeFailed as exc:
        raise NodeError(f"{where}: {exc}", errors.WORKFLOW_CODE_FAILED.code)
    declared = [o for o in node.outputs if isinstance(o, dict) and o.get("name")]
    if not declared:
        return Outcome(returned)
    outputs = {}
    for variable in declared:
        name, kind = variable["name"], variable.get("type") or "string"
        if returned.get(name) is not None:
            outputs[name] = wc.typed(kind, returned[name], f"{where} output {name}")
    return Outcome(outputs)
