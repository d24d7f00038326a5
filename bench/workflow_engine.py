"""The workflow engine's own cost, in process (no HTTP: the endpoints come later), in the same run:

- a chain of 100 Text processing nodes (each concatenating the previous node's output) run by
  the engine, against the same 100 template renders called directly in a loop (the work the
  nodes do, without the graph): the difference per node is the engine's overhead;
- an empty workflow (Start to End) run by the engine, runs per second;
- ten branches each sleeping one second: the run's wall time, against one second.

    python -m bench.workflow_engine [--runs 200] [--rounds 5]

Medians over rounds."""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from services import workflow_canvas as wc
from services import workflow_engine as engine

CHAIN = 100


def _ref(block: str, name: str) -> dict:
    return {
        "type": "string",
        "value": {"type": "ref", "content": {"blockID": block, "name": name, "source": "block-output"}},
    }


def _node(node_id: str, kind: str, inputs: dict | None = None, outputs: list | None = None) -> dict:
    return {
        "id": node_id,
        "type": kind,
        "data": {"nodeMeta": {"title": node_id}, "inputs": inputs or {}, "outputs": outputs or []},
    }


def _text(node_id: str, previous: str, name: str) -> dict:
    inputs = {
        "method": "concat",
        "inputParameters": [{"name": "prev", "input": _ref(previous, name)}],
        "concatParams": [
            {
                "name": "concatResult",
                "input": {"type": "string", "value": {"type": "literal", "content": "{{prev}}x"}},
            }
        ],
    }
    return _node(node_id, wc.TEXT, inputs, [{"name": "output", "type": "string"}])


def chain_canvas() -> wc.Canvas:
    nodes = [_node("100001", wc.START, outputs=[{"name": "seed", "type": "string"}])]
    edges, previous, name = [], "100001", "seed"
    for index in range(1, CHAIN + 1):
        node_id = f"{index}"
        nodes.append(_text(node_id, previous, name))
        edges.append({"sourceNodeID": previous, "targetNodeID": node_id})
        previous, name = node_id, "output"
    nodes.append(
        _node(
            "900001",
            wc.END,
            {
                "terminatePlan": "returnVariables",
                "inputParameters": [{"name": "out", "input": _ref(previous, "output")}],
            },
        )
    )
    edges.append({"sourceNodeID": previous, "targetNodeID": "900001"})
    return wc.parse({"nodes": nodes, "edges": edges})


def empty_canvas() -> wc.Canvas:
    nodes = [_node("100001", wc.START), _node("900001", wc.END, {"terminatePlan": "returnVariables"})]
    return wc.parse({"nodes": nodes, "edges": [{"sourceNodeID": "100001", "targetNodeID": "900001"}]})


def sleepers_canvas() -> wc.Canvas:
    branches = [f"{10 + i}" for i in range(10)]
    nodes = [_node("100001", wc.START), *[_node(b, "bench-sleep") for b in branches]]
    nodes.append(_node("900001", wc.END, {"terminatePlan": "returnVariables"}))
    edges = [{"sourceNodeID": "100001", "targetNodeID": b} for b in branches]
    edges += [{"sourceNodeID": b, "targetNodeID": "900001"} for b in branches]
    return wc.parse({"nodes": nodes, "edges": edges})


@engine.handles("bench-sleep")
async def _sleep(node, inputs, run):
    await asyncio.sleep(1.0)
    return engine.Outcome({})


def direct_chain() -> str:
    """The chain's work without the engine: 100 renders, each of the previous result."""
    value = "s"
    for _ in range(CHAIN):
        value = wc.render("{{prev}}x", {"prev": value})
    return value


async def timed_runs(canvas: wc.Canvas, runs: int) -> float:
    started = time.perf_counter()
    for _ in range(runs):
        await engine.Run(canvas, {"seed": "s"}).execute()
    return (time.perf_counter() - started) / runs


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    chain, empty, sleepers = chain_canvas(), empty_canvas(), sleepers_canvas()
    engine_chain, bare_chain, empty_runs, sleeps = [], [], [], []
    for _ in range(args.rounds):
        started = time.perf_counter()
        for _ in range(args.runs):
            direct_chain()
        bare_chain.append((time.perf_counter() - started) / args.runs)
        engine_chain.append(asyncio.run(timed_runs(chain, args.runs)))
        empty_runs.append(asyncio.run(timed_runs(empty, args.runs * 5)))
    for _ in range(2):
        started = time.perf_counter()
        asyncio.run(engine.Run(sleepers, {}).execute())
        sleeps.append(time.perf_counter() - started)
    engine_ms, bare_ms = statistics.median(engine_chain) * 1000, statistics.median(bare_chain) * 1000
    per_node_us = (engine_ms - bare_ms) / CHAIN * 1000
    print(f"100-node chain: engine {engine_ms:.2f} ms, direct {bare_ms:.3f} ms (x{engine_ms / bare_ms:.0f});")
    print(f"  engine overhead per node: {per_node_us:.1f} us")
    print(f"empty workflow (Start to End), engine only: {1 / statistics.median(empty_runs):.0f} runs/s")
    slept = statistics.median(sleeps)
    print(f"ten branches sleeping 1 s each: {slept:.3f} s (x{slept:.3f} of 1 s)")


if __name__ == "__main__":
    main()
