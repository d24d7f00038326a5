"""Workflow nodes that need nothing but the run: JSON serialise and parse, the variable
aggregator, Loop (over arrays, a count, or until Break) with Break, Continue and Set variable,
and Batch (its body once per item, some at a time)."""

from __future__ import annotations

import asyncio
import json

from services import workflow_canvas as wc
from services.workflow_engine import (
    BREAK,
    CONTINUE,
    MAX_BATCH_ITEMS,
    SUCCEEDED,
    NodeError,
    Outcome,
    Run,
    RunInterrupted,
    handles,
)

JSON_SERIALISE, JSON_PARSE = "58", "59"
MAX_LOOP_ITERATIONS = 1000


@handles(JSON_SERIALISE)
async def _serialise(node: wc.Node, inputs: dict, run: Run) -> Outcome:
    return Outcome({"output": json.dumps(inputs.get("input"), ensure_ascii=False)})


@handles(JSON_PARSE)
async def _parse(node: wc.Node, inputs: dict, run: Run) -> Outcome:
    text = inputs.get("input")
    try:
        parsed = json.loads(text) if isinstance(text, str) else text
    except ValueError as exc:
        raise NodeError(f"node {node.id} ({node.title}).input: not JSON ({exc})")
    declared = next((o for o in node.outputs if isinstance(o, dict) and o.get("name") == "output"), {})
    kind = declared.get("type")
    if kind in wc.VALUE_TYPES and parsed is not None:
        parsed = wc.typed(kind, parsed, f"node {node.id} ({node.title}).output")
    return Outcome({"output": parsed})


@handles(wc.AGGREGATOR)
async def _aggregate(node: wc.Node, inputs: dict, run: Run) -> Outcome:
    """Each group's first variable that has a value (a branch not taken gives none)."""
    outputs = {}
    for index, group in enumerate(node.inputs.get("mergeGroups") or []):
        name = str((group or {}).get("name") or f"Group{index + 1}")
        outputs[name] = None
        for at, variable in enumerate((group or {}).get("variables") or []):
            value = wc.value_of(
                variable or {}, run.scope, f"node {node.id}.mergeGroups[{index}].variables[{at}]"
            )
            if value is not None:
                outputs[name] = value
                break
    return Outcome(outputs)


# --- loops ------------------------------------------------------------------------------------------


def _collected_ref(output: dict) -> dict | None:
    """The reference an output of a loop or batch node collects from (an inner node's output,
    or its own variable), if it has one."""
    value = ((output.get("input") or {}).get("value")) or {}
    content = value.get("content") if value.get("type") == "ref" else None
    return content if isinstance(content, dict) else None


def _collect(node: wc.Node, bodies: list[Run], own: dict) -> dict:
    outputs = {}
    for output in node.outputs:
        if not isinstance(output, dict) or not output.get("name"):
            continue
        reference = _collected_ref(output)
        if reference is None:
            continue
        block = str(reference.get("blockID") or "")
        if block == node.id:  # a loop variable: its last value
            outputs[output["name"]] = wc.Scope({node.id: own}).lookup(reference, output["name"])
            continue
        outputs[output["name"]] = [
            body.scope.lookup(reference, output["name"])
            for body in bodies
            if block in body.results and body.results[block].status == SUCCEEDED
        ]
    return outputs


@handles(wc.LOOP)
async def _loop(node: wc.Node, inputs: dict, run: Run) -> Outcome:
    where = f"node {node.id} ({node.title})"
    kind = node.inputs.get("loopType") or "array"
    arrays = {name: value for name, value in inputs.items() if isinstance(value, list)}
    if kind == "array":
        count = min([len(v) for v in arrays.values()] or [0])
    elif kind == "count":
        count = wc.typed(
            "integer", wc.value_of(node.inputs.get("loopCount") or {}, run.scope, f"{where}.loopCount"), where
        )
    elif kind == "infinite":
        count = MAX_LOOP_ITERATIONS
    else:
        raise NodeError(f"{where}.loopType: array, count or infinite, not {kind!r}")
    if (count or 0) > MAX_LOOP_ITERATIONS:
        raise NodeError(f"{where}: at most {MAX_LOOP_ITERATIONS} iterations, not {count}")
    own = {
        p.get("name"): wc.value_of(
            p.get("input") or {}, run.scope, f"{where}.variableParameters.{p.get('name')}"
        )
        for p in node.inputs.get("variableParameters") or []
        if isinstance(p, dict) and p.get("name")
    }
    bodies = []
    for index in range(count or 0):
        own.update({name: values[index] for name, values in arrays.items()}, index=index)
        # a run resumed after an interrupt replays the passes done: their variables and signals
        # are kept, since the Set variable, Break and Continue nodes of a replayed pass do not run
        kept, waited = f"{run.key(node)}#{index}/loop", f"{run.key(node)}#{index}/waited"
        own.update((run.done.get(waited) or {}).get("outputs") or {})
        try:
            body = await run.run_body(node, own, index)  # Set variable nodes change `own` in place
        except RunInterrupted:
            run.done[waited] = {"outputs": dict(own)}
            raise
        if kept in run.done:
            own.update(run.done[kept]["outputs"])
            signal = run.done[kept].get("signal")
        else:
            signal = body.signal
            run.done[kept] = {"outputs": dict(own), "signal": signal}
        bodies.append(body)
        if signal == BREAK:
            break
    return Outcome(_collect(node, bodies, own))


@handles(wc.BREAK)
async def _break(node: wc.Node, inputs: dict, run: Run) -> Outcome:
    run.signal = BREAK
    return Outcome({})


@handles(wc.CONTINUE)
async def _continue(node: wc.Node, inputs: dict, run: Run) -> Outcome:
    run.signal = CONTINUE
    return Outcome({})


@handles(wc.SET_VARIABLE)
async def _set_variable(node: wc.Node, inputs: dict, run: Run) -> Outcome:
    """Set a loop's variables (the left side refers to one) for its next iteration and after."""
    for index, pair in enumerate(node.inputs.get("inputParameters") or []):
        where = f"node {node.id} ({node.title}).inputParameters[{index}]"
        target = (((pair or {}).get("left") or {}).get("value") or {}).get("content") or {}
        owner = run.scope.outputs.get(str(target.get("blockID") or ""))
        name = str(target.get("name") or "")
        if owner is None or name not in owner:
            raise NodeError(f"{where}.left: not a variable of the loop around it")
        owner[name] = wc.value_of((pair or {}).get("right") or {}, run.scope, f"{where}.right")
    return Outcome({})


@handles(wc.BATCH)
async def _batch(node: wc.Node, inputs: dict, run: Run) -> Outcome:
    where = f"node {node.id} ({node.title})"
    arrays = {name: value for name, value in inputs.items() if isinstance(value, list)}
    size = min([len(v) for v in arrays.values()] or [0])
    limit = wc.value_of(node.inputs.get("batchSize") or {}, run.scope, f"{where}.batchSize")
    concurrency = wc.value_of(node.inputs.get("concurrentSize") or {}, run.scope, f"{where}.concurrentSize")
    size = min(size, int(limit or MAX_BATCH_ITEMS), MAX_BATCH_ITEMS)
    gate = asyncio.Semaphore(max(1, min(int(concurrency or 10), 100)))

    async def item(index: int) -> Run | RunInterrupted:
        async with gate:
            try:
                return await run.run_body(
                    node, {**{n: v[index] for n, v in arrays.items()}, "index": index}, index
                )
            except RunInterrupted as waiting:  # the other items go on; the batch waits for them all
                return waiting

    passes = list(await asyncio.gather(*(item(i) for i in range(size))))
    waiting = [w for p in passes if isinstance(p, RunInterrupted) for w in p.waiting]
    if waiting:
        raise RunInterrupted(waiting)
    return Outcome(_collect(node, passes, {}))
