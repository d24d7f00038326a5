"""The workflow engine on canvases in Coze's format: values flow from node to node, branches are
taken or skipped, ready nodes run together, and each error setting does what it says."""

from __future__ import annotations

import asyncio
import json

import pytest
from test_workflow_canvas import literal, ref

from services import workflow_canvas as wc
from services import workflow_engine as engine


def node(node_id: str, kind: str, inputs: dict | None = None, outputs: list | None = None) -> dict:
    return {
        "id": node_id,
        "type": kind,
        "data": {"nodeMeta": {"title": f"n{node_id}"}, "inputs": inputs or {}, "outputs": outputs or []},
    }


def edge(source: str, target: str, port: str = "") -> dict:
    return {"sourceNodeID": source, "targetNodeID": target, "sourcePortID": port}


def start(*names: tuple[str, str]) -> dict:
    return node("100001", "1", outputs=[{"name": n, "type": t, "required": True} for n, t in names])


def end_returning(**refs) -> dict:
    return node(
        "900001",
        "2",
        {
            "terminatePlan": "returnVariables",
            "inputParameters": [{"name": k, "input": v} for k, v in refs.items()],
        },
    )


def condition(node_id: str, *branches: tuple[int, dict, dict]) -> dict:
    """A Condition node; each branch one clause (operator, left input, right input), in order."""
    clauses = [
        {
            "condition": {
                "logic": 2,
                "conditions": [{"operator": op, "left": {"input": left}, "right": {"input": right}}],
            }
        }
        for op, left, right in branches
    ]
    return node(node_id, "8", {"branches": clauses})


def run(schema: dict, inputs: dict) -> engine.Run:
    job = engine.Run(wc.parse(schema), inputs)
    asyncio.run(job.execute())
    return job


class Probe:
    """A node type for the tests: waits, fails a number of times, and counts how many run at once."""

    def __init__(self):
        self.running = self.most = 0
        self.calls: dict[str, int] = {}

    async def __call__(self, node, inputs, job):
        self.calls[node.id] = self.calls.get(node.id, 0) + 1
        self.running += 1
        self.most = max(self.most, self.running)
        try:
            await asyncio.sleep(float(inputs.get("sleep") or 0))
            if self.calls[node.id] <= int(inputs.get("fail_times") or 0):
                raise engine.NodeError(f"node {node.id} failed on purpose")
            return engine.Outcome({"value": f"{node.id}:{inputs.get('x', '')}"})
        finally:
            self.running -= 1


@pytest.fixture
def probe():
    made = Probe()
    engine._handlers["test-probe"] = made
    yield made
    engine._handlers.pop("test-probe")


def test_values_flow_from_start_to_end_with_an_answer():
    schema = {
        "nodes": [
            start(("city", "string"), ("days", "integer")),
            node(
                "900001",
                "2",
                {
                    "terminatePlan": "useAnswerContent",
                    "content": literal("{{city}} for {{days}} days"),
                    "inputParameters": [
                        {"name": "city", "input": ref("100001", "city")},
                        {"name": "days", "input": ref("100001", "days", "integer")},
                    ],
                },
            ),
        ],
        "edges": [edge("100001", "900001")],
    }
    job = run(schema, {"city": "Oslo", "days": "3"})
    assert job.output == {"output": "Oslo for 3 days"} and job.answer == "Oslo for 3 days"
    assert job.results["100001"].outputs == {"city": "Oslo", "days": 3}
    with pytest.raises(Exception) as missing:
        run(schema, {"city": "Oslo"})
    assert "parameters.days: required" in str(missing.value)


@pytest.mark.parametrize("number,taken", [(5, "big"), (1, "small")])
def test_a_condition_takes_one_branch_and_skips_the_other(number, taken):
    text = lambda node_id, word: node(
        node_id,
        "15",
        {"method": "concat", "concatParams": [{"name": "concatResult", "input": literal(word)}]},
    )  # noqa: E731
    schema = {
        "nodes": [
            start(("n", "integer")),
            condition("2", (13, ref("100001", "n", "integer"), literal(3, "integer"))),
            text("3", "big"),
            text("4", "small"),
            node(
                "900001",
                "2",
                {
                    "terminatePlan": "returnVariables",
                    "inputParameters": [
                        {"name": "big", "input": ref("3", "output")},
                        {"name": "small", "input": ref("4", "output")},
                    ],
                },
            ),
        ],
        "edges": [
            edge("100001", "2"),
            edge("2", "3", "true"),
            edge("2", "4", "false"),
            edge("3", "900001"),
            edge("4", "900001"),
        ],
    }
    job = run(schema, {"n": number})
    assert job.output[taken] == taken
    skipped = "4" if taken == "big" else "3"
    assert (
        job.results[skipped].status == engine.SKIPPED
        and job.output[("small" if taken == "big" else "big")] is None
    )


def test_parallel_branches_run_at_the_same_time(probe):
    branches = [str(10 + i) for i in range(10)]
    schema = {
        "nodes": [
            start(),
            *[
                node(b, "test-probe", {"inputParameters": [{"name": "sleep", "input": literal("0.05")}]})
                for b in branches
            ],
            end_returning(**{f"b{b}": ref(b, "value") for b in branches}),
        ],
        "edges": [*[edge("100001", b) for b in branches], *[edge(b, "900001") for b in branches]],
    }
    job = run(schema, {})
    assert probe.most == 10 and job.output["b10"] == "10:"


def _failing(process: int, **setting) -> dict:
    inputs = {
        "inputParameters": [{"name": "fail_times", "input": literal("5")}],
        "settingOnError": {"switch": True, "processType": process, **setting},
    }
    return node("5", "test-probe", inputs)


def test_a_failing_node_fails_the_run_by_default(probe):
    schema = {
        "nodes": [start(), _failing(1), end_returning(v=ref("5", "value"))],
        "edges": [edge("100001", "5"), edge("5", "900001")],
    }
    with pytest.raises(engine.NodeError) as failed:
        run(schema, {})
    assert "failed on purpose" in str(failed.value)


def test_a_failing_node_can_give_its_default_output(probe):
    schema = {
        "nodes": [
            start(),
            _failing(2, dataOnErr=json.dumps({"value": "fallback"})),
            end_returning(v=ref("5", "value"), why=ref("5", "errorBody.errorMessage")),
        ],
        "edges": [edge("100001", "5"), edge("5", "900001")],
    }
    job = run(schema, {})
    assert job.output == {"v": "fallback", "why": "node 5 failed on purpose"}


def test_a_failing_node_can_take_its_exception_branch(probe):
    recover = node(
        "6",
        "15",
        {"method": "concat", "concatParams": [{"name": "concatResult", "input": literal("recovered")}]},
    )
    schema = {
        "nodes": [start(), _failing(3), recover, end_returning(r=ref("6", "output"))],
        "edges": [
            edge("100001", "5"),
            edge("5", "900001"),
            edge("5", "6", "branch_error"),
            edge("6", "900001"),
        ],
    }
    job = run(schema, {})
    assert job.output == {"r": "recovered"} and job.results["6"].status == engine.SUCCEEDED


def test_retries_and_timeouts(probe):
    flaky = node(
        "5",
        "test-probe",
        {
            "inputParameters": [{"name": "fail_times", "input": literal("2")}],
            "settingOnError": {"retryTimes": 2},
        },
    )
    schema = {
        "nodes": [start(), flaky, end_returning(v=ref("5", "value"))],
        "edges": [edge("100001", "5"), edge("5", "900001")],
    }
    job = run(schema, {})
    assert job.output == {"v": "5:"} and job.results["5"].attempts == 3
    slow = node(
        "5",
        "test-probe",
        {"inputParameters": [{"name": "sleep", "input": literal("2")}], "settingOnError": {"timeoutMs": 50}},
    )
    schema["nodes"][1] = slow
    with pytest.raises(engine.NodeError) as late:
        run(schema, {})
    assert "no result within 50 ms" in str(late.value)


def test_text_split_and_an_unknown_node_type():
    split = node(
        "3",
        "15",
        {
            "method": "split",
            "inputParameters": [{"name": "String1", "input": ref("100001", "s")}],
            "splitParams": [{"name": "delimiters", "input": literal('[",", ";"]', "list")}],
        },
    )
    schema = {
        "nodes": [start(("s", "string")), split, end_returning(parts=ref("3", "output"))],
        "edges": [edge("100001", "3"), edge("3", "900001")],
    }
    assert run(schema, {"s": "a,b;c"}).output == {"parts": ["a", "b", "c"]}
    schema["nodes"][1]["type"] = "999"
    with pytest.raises(engine.NodeError) as unknown:
        run(schema, {"s": "x"})
    assert "node type 999 is not supported" in str(unknown.value)


def question(node_id: str, text: str, **inputs) -> dict:
    return node(
        node_id,
        "18",
        {"question": text, "answer_type": "text", **inputs},
        [{"name": "USER_RESPONSE", "type": "string"}, {"name": "age", "type": "integer"}],
    )


def test_a_question_interrupts_and_the_run_resumes_from_what_was_done(probe):
    schema = {
        "nodes": [
            start(("city", "string")),
            node("2", "test-probe"),
            question(
                "3",
                "How old is {{who}}?",
                extra_output=True,
                inputParameters=[{"name": "who", "input": ref("100001", "city")}],
            ),
            end_returning(reply=ref("3", "USER_RESPONSE"), age=ref("3", "age", "integer")),
        ],
        "edges": [edge("100001", "2"), edge("2", "3"), edge("3", "900001")],
    }
    first = engine.Run(wc.parse(schema), {"city": "Oslo"})
    with pytest.raises(engine.RunInterrupted) as stopped:
        asyncio.run(first.execute())
    [waiting] = stopped.value.waiting
    assert (waiting.node_id, waiting.kind) == ("3", engine.QUESTION_EVENT)
    assert waiting.data["messages"][0]["content"] == "How old is Oslo?"
    assert (
        first.results["3"].status == engine.INTERRUPTED and first.results["900001"].status == engine.WAITING
    )
    assert probe.calls == {"2": 1}
    again = engine.Run(wc.parse(schema), {"city": "Oslo"}, done=first.done, answers={"3": '{"age": "41"}'})
    assert asyncio.run(again.execute()) == {"reply": '{"age": "41"}', "age": 41}
    assert probe.calls == {"2": 1}  # the probe's output came from the first pass


def test_parallel_questions_both_wait_and_options_take_their_port():
    chooser = node(
        "3",
        "18",
        {"question": "Which?", "answer_type": "option", "options": [{"name": "tea"}, {"name": "coffee"}]},
    )
    schema = {
        "nodes": [
            start(),
            question("2", "Name?"),
            chooser,
            node(
                "4",
                "13",
                {
                    "content": {"type": "string", "value": {"type": "literal", "content": "chose {{c}}"}},
                    "inputParameters": [{"name": "c", "input": ref("3", "optionContent")}],
                },
            ),
            end_returning(name=ref("2", "USER_RESPONSE"), picked=ref("3", "optionId")),
        ],
        "edges": [
            edge("100001", "2"),
            edge("100001", "3"),
            edge("2", "900001"),
            edge("3", "4", "branch_1"),
            edge("3", "900001", "default"),
            edge("4", "900001"),
        ],
    }
    first = engine.Run(wc.parse(schema), {})
    with pytest.raises(engine.RunInterrupted) as stopped:
        asyncio.run(first.execute())
    assert sorted(w.node_id for w in stopped.value.waiting) == ["2", "3"]
    options = stopped.value.waiting[[w.node_id for w in stopped.value.waiting].index("3")].data
    assert options["messages"][0]["content"]["options"] == [{"name": "tea"}, {"name": "coffee"}]
    half = engine.Run(wc.parse(schema), {}, done=first.done, answers={"2": "Ada"})
    with pytest.raises(engine.RunInterrupted) as still:
        asyncio.run(half.execute())
    assert [w.node_id for w in still.value.waiting] == ["3"]
    said = []
    last = engine.Run(
        wc.parse(schema),
        {},
        done=half.done,
        answers={"2": "Ada", "3": "coffee"},
        on_message=lambda result, text, finished: said.append((result.node_id, text)),
    )
    assert asyncio.run(last.execute()) == {"name": "Ada", "picked": "B"}
    assert said == [("4", "chose coffee")]


def test_an_input_node_takes_a_json_object():
    schema = {
        "nodes": [
            start(),
            node("2", "30", {"outputSchema": "[]"}, [{"name": "n", "type": "integer", "required": True}]),
            end_returning(n=ref("2", "n", "integer")),
        ],
        "edges": [edge("100001", "2"), edge("2", "900001")],
    }
    with pytest.raises(engine.RunInterrupted):
        asyncio.run(engine.Run(wc.parse(schema), {}).execute())
    assert asyncio.run(engine.Run(wc.parse(schema), {}, answers={"2": '{"n": "7"}'}).execute()) == {"n": 7}
    with pytest.raises(engine.NodeError, match="input n is required"):
        asyncio.run(engine.Run(wc.parse(schema), {}, answers={"2": "{}"}).execute())
