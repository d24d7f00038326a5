"""Reading Coze's workflow canvas: its graph checked, inputs resolved (literals typed, references
to earlier nodes' outputs and to variables, objects built from references) and templates filled.
The engine that runs it comes next (issue 16)."""

from __future__ import annotations

import json

import pytest

from core import errors
from services import workflow_canvas as canvas


def ref(block: str, name: str, kind: str = "string") -> dict:
    return {
        "type": kind,
        "value": {"type": "ref", "content": {"blockID": block, "name": name, "source": "block-output"}},
    }


def literal(content, kind: str = "string") -> dict:
    return {"type": kind, "value": {"type": "literal", "content": content}}


def sample() -> dict:
    end_inputs = {
        "terminatePlan": "useAnswerContent",
        "content": {
            "type": "string",
            "value": {"type": "literal", "content": "{{city}} in {{days}} days: {{obj.a}}"},
        },
        "inputParameters": [
            {"name": "city", "input": ref("100001", "city")},
            {"name": "days", "input": ref("100001", "days", "integer")},
            {"name": "first", "input": ref("100001", "tags.0")},
            {"name": "limit", "input": literal("7", "integer")},
            {"name": "flags", "input": literal("[true, false]", "list")},
            {
                "name": "obj",
                "input": {
                    "type": "object",
                    "value": {"type": "object_ref"},
                    "schema": [
                        {"name": "a", "input": ref("100001", "city")},
                        {"name": "b", "input": literal("1.5", "float")},
                    ],
                },
            },
            {
                "name": "app",
                "input": {
                    "type": "string",
                    "value": {
                        "type": "ref",
                        "content": {"path": ["app_var"], "source": "global_variable_app"},
                    },
                },
            },
        ],
    }
    return {
        "nodes": [
            {
                "id": "100001",
                "type": "1",
                "data": {"nodeMeta": {"title": "start"}, "outputs": [{"name": "city", "type": "string"}]},
            },
            {"id": "900001", "type": "2", "data": {"nodeMeta": {"title": "end"}, "inputs": end_inputs}},
        ],
        "edges": [{"sourceNodeID": "100001", "targetNodeID": "900001"}],
    }


def test_a_canvas_is_read_and_its_inputs_resolved():
    graph = canvas.parse(json.dumps(sample()))
    assert set(graph.nodes) == {"100001", "900001"} and graph.successors("100001")[0].target == "900001"
    end = graph.nodes["900001"]
    scope = canvas.Scope(
        {"100001": {"city": "Oslo", "days": 3, "tags": ["x", "y"]}}, {"global_variable_app": {"app_var": "v"}}
    )
    values = canvas.inputs_of(end, scope)
    assert values == {
        "city": "Oslo",
        "days": 3,
        "first": "x",
        "limit": 7,
        "flags": [True, False],
        "obj": {"a": "Oslo", "b": 1.5},
        "app": "v",
    }
    assert canvas.render(end.inputs["content"]["value"]["content"], values) == "Oslo in 3 days: Oslo"


@pytest.mark.parametrize(
    "change,message",
    [
        (lambda s: s["nodes"].append(dict(s["nodes"][0])), "used twice"),
        (
            lambda s: s["edges"].append({"sourceNodeID": "100001", "targetNodeID": "4"}),
            "edges[1].targetNodeID",
        ),
        (lambda s: (s["nodes"].pop(), s.update(edges=[])), "one Start"),
        (lambda s: s.update(nodes="x"), "schema.nodes: must be a list"),
    ],
)
def test_a_bad_canvas_is_refused_with_its_place(change, message):
    schema = sample()
    change(schema)
    with pytest.raises(errors.ApiError) as raised:
        canvas.parse(schema)
    assert raised.value.error.code == 720702001 and message in raised.value.msg


def test_values_that_do_not_fit_their_type_are_named():
    with pytest.raises(errors.ApiError) as raised:
        canvas.value_of(literal("many", "integer"), canvas.Scope(), "node 5.count")
    assert (
        raised.value.error.code == 720701013
        and "node 5.count" in raised.value.msg
        and "integer" in raised.value.msg
    )
    with pytest.raises(errors.ApiError) as raised:
        canvas.value_of(ref("777", "x"), canvas.Scope(), "node 9.x")
    assert "node 777 has not run" in raised.value.msg
