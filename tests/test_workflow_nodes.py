"""Workflow nodes that need only the run, on canvases in Coze's format: JSON serialise and parse,
the variable aggregator, loops (over arrays, a count, with Break, Continue and Set variable),
Batch with a concurrency limit, and any node in batch mode."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from test_workflow_canvas import literal, ref
from test_workflow_engine import condition, edge, end_returning, node, start

from services import workflow_canvas as wc
from services import workflow_engine as engine
from services import workflows  # noqa: F401  (registers every node kind)


def execute(schema: dict, inputs: dict) -> dict:
    assert workflows.problems_of(json.dumps(schema)) == []
    return asyncio.run(engine.Run(wc.parse(schema), inputs).execute())


def text(node_id: str, template: str, **refs) -> dict:
    return node(
        node_id,
        "15",
        {
            "method": "concat",
            "concatParams": [{"name": "concatResult", "input": literal(template)}],
            "inputParameters": [{"name": k, "input": v} for k, v in refs.items()],
        },
        [{"name": "output", "type": "string"}],
    )


def json_round_trip(source: dict) -> list[dict]:
    """Node 2 serialises `source` to JSON text; node 3 parses it back into an object."""
    return [
        node(
            "2",
            "58",
            {"inputParameters": [{"name": "input", "input": source}]},
            [{"name": "output", "type": "string"}],
        ),
        node(
            "3",
            "59",
            {"inputParameters": [{"name": "input", "input": ref("2", "output")}]},
            [{"name": "output", "type": "object"}],
        ),
    ]


def test_json_serialise_and_parse_round_trip():
    schema = {
        "nodes": [
            start(("person", "object")),
            *json_round_trip(ref("100001", "person", "object")),
            end_returning(text=ref("2", "output"), back=ref("3", "output", "object")),
        ],
        "edges": [edge("100001", "2"), edge("2", "3"), edge("3", "900001")],
    }
    out = execute(schema, {"person": {"name": "Ada", "age": 36}})
    assert out == {"text": '{"name": "Ada", "age": 36}', "back": {"name": "Ada", "age": 36}}


def test_the_aggregator_takes_the_branch_that_ran():
    choose = condition("2", (1, ref("100001", "go"), literal("left")))
    merge = node(
        "5",
        "32",
        {"mergeGroups": [{"name": "Group1", "variables": [ref("3", "output"), ref("4", "output")]}]},
        [{"name": "Group1", "type": "string"}],
    )
    schema = {
        "nodes": [
            start(("go", "string")),
            choose,
            text("3", "went left"),
            text("4", "went right"),
            merge,
            end_returning(result=ref("5", "Group1")),
        ],
        "edges": [
            edge("100001", "2"),
            edge("2", "3", "true"),
            edge("2", "4", "false"),
            edge("3", "5"),
            edge("4", "5"),
            edge("5", "900001"),
        ],
    }
    assert execute(schema, {"go": "left"}) == {"result": "went left"}
    assert execute(schema, {"go": "right"}) == {"result": "went right"}


def loop_schema() -> dict:
    """Coze's loop example, reduced: over a list, Set variable keeps the item; an item "stop" breaks,
    an item "skip" continues, the others are prefixed and collected."""
    check = condition("12", (1, ref("10", "item"), literal("stop")), (1, ref("10", "item"), literal("skip")))
    loop = node(
        "10",
        "21",
        {
            "loopType": "array",
            "inputParameters": [{"name": "item", "input": ref("100001", "words", "list")}],
            "variableParameters": [{"name": "last", "input": literal("none")}],
        },
        [
            {"name": "last_seen", "input": ref("10", "last")},
            {"name": "converted", "input": ref("15", "output", "list")},
        ],
    )
    loop["blocks"] = [
        node("11", "20", {"inputParameters": [{"left": ref("10", "last"), "right": ref("10", "item")}]}),
        check,
        node("13", "19"),
        node("14", "29"),
        text("15", "new_{{w}}#{{i}}", w=ref("10", "item"), i=ref("10", "index", "integer")),
    ]
    loop["edges"] = [
        edge("10", "11", "loop-function-inline-output"),
        edge("11", "12"),
        edge("12", "13", "true"),
        edge("12", "14", "true_1"),
        edge("12", "15", "false"),
        {**edge("15", "10"), "targetPortID": "loop-function-inline-input"},
    ]
    return {
        "nodes": [
            start(("words", "list")),
            loop,
            end_returning(last=ref("10", "last_seen"), converted=ref("10", "converted", "list")),
        ],
        "edges": [edge("100001", "10"), edge("10", "900001", "loop-output")],
    }


def test_a_loop_collects_sets_its_variable_and_obeys_break_and_continue():
    out = execute(loop_schema(), {"words": ["a", "skip", "b", "stop", "never"]})
    assert out == {"last": "stop", "converted": ["new_a#0", "new_b#2"]}


def test_a_count_loop():
    schema = loop_schema()
    schema["nodes"][1]["data"]["inputs"].update(
        loopType="count", loopCount=literal("3", "integer"), inputParameters=[]
    )
    schema["nodes"][1]["blocks"][0]["data"]["inputs"]["inputParameters"][0]["right"] = ref(
        "10", "index", "integer"
    )
    schema["nodes"][1]["blocks"][1]["data"]["inputs"]["branches"] = []
    out = execute(schema, {"words": []})
    assert out == {"last": 2, "converted": ["new_#0", "new_#1", "new_#2"]}


class Sleeper:
    def __init__(self):
        self.running = self.most = 0

    async def __call__(self, node, inputs, job):
        self.running += 1
        self.most = max(self.most, self.running)
        try:
            await asyncio.sleep(0.05)
            return engine.Outcome({"value": f"<{inputs.get('x')}>"})
        finally:
            self.running -= 1


@pytest.fixture
def sleeper():
    made = engine._handlers["test-sleeper"] = Sleeper()
    yield made
    engine._handlers.pop("test-sleeper")


def batch_node(node_id: str, items: dict, inner: dict, collect: tuple[str, str], concurrency: int) -> dict:
    """A Batch node running `inner` per item of `items` (the item is its own output `item`),
    collecting `collect` = (the list's name, the inner node's output)."""
    batch = node(
        node_id,
        "28",
        {
            "batchSize": literal("100", "integer"),
            "concurrentSize": literal(str(concurrency), "integer"),
            "inputParameters": [{"name": "item", "input": items}],
        },
        [{"name": collect[0], "input": ref(inner["id"], collect[1], "list")}],
    )
    batch["blocks"] = [inner]
    batch["edges"] = [
        edge(node_id, inner["id"], "batch-function-inline-output"),
        {**edge(inner["id"], node_id), "targetPortID": "batch-function-inline-input"},
    ]
    return batch


def test_a_batch_runs_its_body_per_item_a_few_at_a_time(sleeper):
    inner = node(
        "11",
        "test-sleeper",
        {"inputParameters": [{"name": "x", "input": ref("10", "item")}]},
        [{"name": "value", "type": "string"}],
    )
    batch = batch_node("10", ref("100001", "items", "list"), inner, ("values", "value"), 3)
    schema = {
        "nodes": [start(("items", "list")), batch, end_returning(values=ref("10", "values", "list"))],
        "edges": [edge("100001", "10"), edge("10", "900001", "batch-output")],
    }
    began = time.monotonic()
    out = asyncio.run(engine.Run(wc.parse(schema), {"items": list("abcdefghi")}).execute())
    assert out == {"values": [f"<{c}>" for c in "abcdefghi"]}  # in the items' order
    assert sleeper.most == 3 and time.monotonic() - began < 0.05 * 9


def test_any_node_in_batch_mode_gives_an_output_list():
    batched = text("2", "hi {{who}}", who=ref("2", "who"))
    batched["data"]["inputs"]["batch"] = {
        "batchEnable": True,
        "batchSize": 100,
        "concurrentSize": 2,
        "inputLists": [{"name": "who", "input": ref("100001", "names", "list")}],
    }
    batched["data"]["outputs"] = [{"name": "outputList", "type": "list"}]
    schema = {
        "nodes": [start(("names", "list")), batched, end_returning(said=ref("2", "outputList", "list"))],
        "edges": [edge("100001", "2"), edge("2", "900001")],
    }
    assert execute(schema, {"names": ["Ada", "Bo"]}) == {"said": [{"output": "hi Ada"}, {"output": "hi Bo"}]}


def test_a_question_inside_a_loop_waits_and_the_loop_goes_on_when_answered():
    schema = loop_schema()
    schema["nodes"][1]["blocks"][4] = node(
        "15",
        "18",
        {"question": "Why {{w}}?", "inputParameters": [{"name": "w", "input": ref("10", "item")}]},
        [{"name": "USER_RESPONSE", "type": "string"}],
    )
    schema["nodes"][1]["data"]["outputs"][1]["input"] = ref("15", "USER_RESPONSE", "list")
    words = {"words": ["a", "skip", "b", "stop"]}
    first = engine.Run(wc.parse(schema), words)
    with pytest.raises(engine.RunInterrupted) as stopped:
        asyncio.run(first.execute())
    [waiting] = stopped.value.waiting
    assert waiting.node_id == "10#0/15" and waiting.data["question"] == "Why a?"
    second = engine.Run(wc.parse(schema), words, done=first.done, answers={"10#0/15": "because"})
    with pytest.raises(engine.RunInterrupted) as again:
        asyncio.run(second.execute())
    assert [w.node_id for w in again.value.waiting] == ["10#2/15"]  # pass 1 was skipped by Continue
    answers = {"10#0/15": "because", "10#2/15": "why not"}
    last = engine.Run(wc.parse(schema), words, done=second.done, answers=answers)
    assert asyncio.run(last.execute()) == {"last": "stop", "converted": ["because", "why not"]}


def test_questions_inside_a_batch_all_wait_then_the_batch_ends():
    inner = node(
        "11",
        "18",
        {"question": "Name for {{x}}?", "inputParameters": [{"name": "x", "input": ref("10", "item")}]},
        [{"name": "USER_RESPONSE", "type": "string"}],
    )
    batch = batch_node("10", ref("100001", "items", "list"), inner, ("names", "USER_RESPONSE"), 5)
    schema = {
        "nodes": [start(("items", "list")), batch, end_returning(names=ref("10", "names", "list"))],
        "edges": [edge("100001", "10"), edge("10", "900001", "batch-output")],
    }
    first = engine.Run(wc.parse(schema), {"items": ["cat", "dog"]})
    with pytest.raises(engine.RunInterrupted) as stopped:
        asyncio.run(first.execute())
    assert sorted(w.node_id for w in stopped.value.waiting) == ["10#0/11", "10#1/11"]
    half = engine.Run(
        wc.parse(schema), {"items": ["cat", "dog"]}, done=first.done, answers={"10#1/11": "Rex"}
    )
    with pytest.raises(engine.RunInterrupted) as still:
        asyncio.run(half.execute())
    assert [w.node_id for w in still.value.waiting] == ["10#0/11"]
    answers = {"10#1/11": "Rex", "10#0/11": "Tom"}
    done = engine.Run(wc.parse(schema), {"items": ["cat", "dog"]}, done=half.done, answers=answers)
    assert asyncio.run(done.execute()) == {"names": ["Tom", "Rex"]}
