"""Workflows at design time through HTTP: create, the canvas, save, meta, the space's list and
delete, and others' workflows not reachable."""

from __future__ import annotations

import json

from conftest import assert_error, register
from test_memory import space_of

from models.workflow import Workflow


def create(account, name="weather_report", **extra):
    body = {"space_id": space_of(account), "name": name, "desc": "Forecast for a city", **extra}
    response = account.post("/api/workflow_api/create", body)
    assert response.status_code == 200, response.text
    return response.json()["data"]["workflow_id"]


def canvas_of(account, workflow_id) -> dict:
    response = account.post("/api/workflow_api/canvas", {"workflow_id": workflow_id})
    assert response.status_code == 200, response.text
    return response.json()["data"]


def test_create_save_and_read_the_canvas(alice):
    workflow_id = create(alice)
    data = canvas_of(alice, workflow_id)
    info = data["workflow"]
    assert (info["name"], info["desc"], info["flow_mode"], info["status"]) == (
        "weather_report",
        "Forecast for a city",
        0,
        1,
    )
    nodes = json.loads(info["schema_json"])["nodes"]
    assert [(n["id"], n["type"]) for n in nodes] == [("100001", "1"), ("900001", "2")]
    first_commit = data["vcs_data"]["draft_commit_id"]
    assert data["is_bind_agent"] is False and data["workflow_version"] == ""
    schema = json.dumps({"nodes": nodes, "edges": [{"sourceNodeID": "100001", "targetNodeID": "900001"}]})
    response = alice.post(
        "/api/workflow_api/save", {"workflow_id": workflow_id, "schema": schema, "submit_commit_id": ""}
    )
    assert response.json()["code"] == 0, response.text
    data = canvas_of(alice, workflow_id)
    assert json.loads(data["workflow"]["schema_json"])["edges"] == [
        {"sourceNodeID": "100001", "targetNodeID": "900001"}
    ]
    assert data["vcs_data"]["draft_commit_id"] != first_commit
    stored = Workflow.get_by_id(int(workflow_id))
    assert stored.schema_json == schema and stored.test_run_passed is False


def test_meta_list_and_delete(alice):
    first = create(alice, "first_flow")
    second = create(alice, "chat_flow", flow_mode=3)
    response = alice.post("/api/workflow_api/update_meta", {"workflow_id": first, "desc": "Changed"})
    assert response.json()["code"] == 0
    assert Workflow.get_by_id(int(first)).description == "Changed"
    space = space_of(alice)
    listed = alice.post("/api/workflow_api/workflow_list", {"space_id": space, "size": 100}).json()["data"]
    names = [w["name"] for w in listed["workflow_list"]]
    assert names.index("chat_flow") < names.index("first_flow") and listed["total"] >= 2
    chatflows = alice.post(
        "/api/workflow_api/workflow_list", {"space_id": space, "flow_mode": 3, "size": 100}
    ).json()["data"]
    assert second in [w["workflow_id"] for w in chatflows["workflow_list"]]
    assert first not in [w["workflow_id"] for w in chatflows["workflow_list"]]
    found = alice.post("/api/workflow_api/workflow_list", {"space_id": space, "name": "first_fl"}).json()[
        "data"
    ]
    assert [w["workflow_id"] for w in found["workflow_list"]] == [first]
    response = alice.post("/api/workflow_api/delete", {"workflow_id": first})
    assert response.json()["data"] == {"status": 0}
    assert Workflow.get_or_none(Workflow.id == int(first)) is None
    assert_error(alice.post("/api/workflow_api/canvas", {"workflow_id": first}), 404, 720702004)


def test_bad_input_changes_nothing(alice, client):
    workflow_id = create(alice)
    before = Workflow.get_by_id(int(workflow_id))
    for schema, message in (
        ("not json", "schema: not JSON"),
        ('{"nodes": 3}', "schema: a canvas"),
        ("[]", "schema: a canvas"),
    ):
        response = alice.post("/api/workflow_api/save", {"workflow_id": workflow_id, "schema": schema})
        assert_error(response, 400, 720702001, message)
    assert_error(
        alice.post("/api/workflow_api/update_meta", {"workflow_id": workflow_id, "name": "9lives"}),
        400,
        720702001,
        "name",
    )
    body = {"space_id": space_of(alice), "name": "has space", "desc": ""}
    assert_error(alice.post("/api/workflow_api/create", body), 400, 720702001, "name")
    after = Workflow.get_by_id(int(workflow_id))
    assert (after.schema_json, after.commit_id, after.name) == (
        before.schema_json,
        before.commit_id,
        before.name,
    )
    bob = register(client)
    assert_error(bob.post("/api/workflow_api/canvas", {"workflow_id": workflow_id}), 404, 720702004)
    assert_error(
        bob.post("/api/workflow_api/save", {"workflow_id": workflow_id, "schema": "{}"}), 404, 720702004
    )
    assert_error(bob.post("/api/workflow_api/delete", {"workflow_id": workflow_id}), 404, 720702004)
    assert Workflow.get_or_none(Workflow.id == int(workflow_id)) is not None


def _node(node_id, kind, inputs=None, outputs=None):
    return {
        "id": node_id,
        "type": kind,
        "data": {"nodeMeta": {"title": f"n{node_id}"}, "inputs": inputs or {}, "outputs": outputs or []},
    }


def _ref(block, name, kind="string"):
    return {
        "type": kind,
        "value": {"type": "ref", "content": {"blockID": block, "name": name, "source": "block-output"}},
    }


def _validate(account, workflow_id, schema=None) -> list[dict]:
    body = {"workflow_id": workflow_id, **({"schema": json.dumps(schema)} if schema is not None else {})}
    response = account.post("/api/workflow_api/validate_tree", body)
    assert response.status_code == 200, response.text
    (report,) = response.json()["data"]
    assert report["workflow_id"] == workflow_id
    return report["errors"]


def test_validate_tree_names_each_problem(alice):
    workflow_id = create(alice)
    assert _validate(alice, workflow_id) == []  # a new draft: Start joined to End
    loose = json.loads(canvas_of(alice, workflow_id)["workflow"]["schema_json"])
    problems = _validate(alice, workflow_id, {**loose, "edges": []})
    assert {p["node_error"]["node_id"] for p in problems} == {"100001", "900001"}
    start = _node(
        "100001", "1", outputs=[{"name": "city", "type": "string"}, {"name": "n", "type": "integer"}]
    )
    end = _node(
        "900001",
        "2",
        {
            "terminatePlan": "returnVariables",
            "inputParameters": [{"name": "c", "input": _ref("100001", "city")}],
        },
    )
    good = {"nodes": [start, end], "edges": [{"sourceNodeID": "100001", "targetNodeID": "900001"}]}
    assert _validate(alice, workflow_id, good) == []
    text = lambda node_id, ref: _node(
        node_id,
        "15",
        {"method": "concat", "inputParameters": [{"name": "v", "input": ref}]},
        [{"name": "output", "type": "string"}],
    )  # noqa: E731
    bad = {
        "nodes": [
            start,
            text("2", _ref("3", "output")),  # 3 runs after 2
            text("3", _ref("100001", "nope")),  # Start has no output "nope"
            text("4", _ref("100001", "n", "boolean")),  # an integer is not a boolean
            _node("5", "999"),  # not supported, and not connected
            end,
        ],
        "edges": [
            {"sourceNodeID": "100001", "targetNodeID": "2"},
            {"sourceNodeID": "2", "targetNodeID": "3"},
            {"sourceNodeID": "3", "targetNodeID": "4"},
            {"sourceNodeID": "4", "targetNodeID": "900001"},
            {"sourceNodeID": "4", "targetNodeID": "2"},
        ],
    }
    messages = [p["message"] for p in _validate(alice, workflow_id, bad)]
    assert any("2 -> 3 -> 4 -> 2" in m for m in messages), messages
    parallel = {
        "nodes": [start, text("2", _ref("3", "output")), text("3", _ref("100001", "city")), end],
        "edges": [
            {"sourceNodeID": "100001", "targetNodeID": "2"},
            {"sourceNodeID": "100001", "targetNodeID": "3"},
            {"sourceNodeID": "2", "targetNodeID": "900001"},
            {"sourceNodeID": "3", "targetNodeID": "900001"},
        ],
    }
    assert [p["message"] for p in _validate(alice, workflow_id, parallel)] == [
        "node 2 (n2) input v: refers to node 3 (n3), which does not run before it"
    ]
    assert any("has no output 'nope'" in m for m in messages)
    assert any("is of type boolean, but node 100001's n is of type integer" in m for m in messages)
    assert any(m.startswith("node 5 (n5) is not on a path") for m in messages)
    assert any("node type 999 is not supported" in m for m in messages)
    path = next(p for p in _validate(alice, workflow_id, bad) if p["type"] == 2)["path_error"]
    assert path["path"][0] == path["path"][-1]
    broken = _validate(alice, workflow_id, {"nodes": [start]})
    assert [p["message"] for p in broken] == [
        "schema.nodes: a workflow has one Start (type 1) and one End (type 2) node"
    ]


def test_publish_versions_and_copy(alice):
    workflow_id = create(alice)
    body = {"workflow_id": workflow_id, "force": True}
    nodes = json.loads(canvas_of(alice, workflow_id)["workflow"]["schema_json"])["nodes"]
    alice.post(
        "/api/workflow_api/save",
        {"workflow_id": workflow_id, "schema": json.dumps({"nodes": nodes, "edges": []})},
    )
    assert_error(alice.post("/api/workflow_api/publish", body), 400, 720702001, "not on a path")
    schema = json.dumps({"nodes": nodes, "edges": [{"sourceNodeID": "100001", "targetNodeID": "900001"}]})
    alice.post("/api/workflow_api/save", {"workflow_id": workflow_id, "schema": schema})
    assert_error(
        alice.post("/api/workflow_api/publish", {"workflow_id": workflow_id}), 400, 720702001, "test_run"
    )
    published = alice.post("/api/workflow_api/publish", body).json()["data"]
    assert (
        published["success"] is True
        and published["publish_commit_id"] == canvas_of(alice, workflow_id)["vcs_data"]["draft_commit_id"]
    )
    data = canvas_of(alice, workflow_id)
    assert data["workflow_version"] == "v1.0.0" and data["workflow"]["status"] == 3
    assert_error(
        alice.post("/api/workflow_api/publish", {**body, "workflow_version": "v0.9.0"}),
        400,
        777777769,
        "greater than v1.0.0",
    )
    assert_error(
        alice.post("/api/workflow_api/publish", {**body, "workflow_version": "1.2"}), 400, 777777769, "vX.Y.Z"
    )
    assert alice.post("/api/workflow_api/publish", {**body, "workflow_version": "v2.0.0"}).json()["code"] == 0
    assert canvas_of(alice, workflow_id)["workflow_version"] == "v2.0.0"
    listed = alice.post(
        "/api/workflow_api/workflow_list", {"space_id": space_of(alice), "status": 2, "size": 100}
    ).json()["data"]
    assert workflow_id in [w["workflow_id"] for w in listed["workflow_list"]]
    copied = alice.post("/api/workflow_api/copy", {"workflow_id": workflow_id}).json()["data"]["workflow_id"]
    twin = Workflow.get_by_id(int(copied))
    assert twin.name == "weather_report_copy" and twin.schema_json == schema
    assert canvas_of(alice, copied)["workflow_version"] == ""  # a copy starts unpublished


def test_batch_delete_history_references_node_types_released_and_detail(alice, bob):
    from test_workflow_canvas import ref
    from test_workflow_engine import edge, end_returning, node, start
    from test_workflow_runs import published, save

    from models.workflow import WorkflowVersion

    space = space_of(alice)
    child = published(
        alice, {"nodes": [start(), end_returning()], "edges": [edge("100001", "900001")]}, "child_flow"
    )
    call = node("2", "9", {"workflowId": child, "inputParameters": []}, [{"name": "x", "type": "string"}])
    parent_schema = {
        "nodes": [start(), call, end_returning(x=ref("2", "x"))],
        "edges": [edge("100001", "2"), edge("2", "900001")],
    }
    parent = create(alice, "parent_flow")
    save(alice, parent, parent_schema)
    referenced = alice.post("/api/workflow_api/workflow_references", {"workflow_id": child}).json()["data"]
    assert [w["workflow_id"] for w in referenced["workflow_list"]] == [parent]
    types = alice.post("/api/workflow_api/node_type", {"workflow_id": parent}).json()["data"]
    assert types == {"node_types": ["1", "2", "9"], "sub_workflow_node_types": ["1", "2"]}
    draft = alice.post(
        "/api/workflow_api/history_schema", {"workflow_id": parent, "space_id": space, "type": 0}
    )
    assert json.loads(draft.json()["data"]["schema"]) == parent_schema
    version = WorkflowVersion.get(WorkflowVersion.workflow == int(child))
    body = {"workflow_id": child, "space_id": space, "type": 2}
    assert (
        alice.post("/api/workflow_api/history_schema", body).json()["data"]["commit_id"] == version.commit_id
    )
    assert_error(
        alice.post("/api/workflow_api/history_schema", {**body, "workflow_version": "v9.0.0"}), 400, 777777769
    )
    released = alice.post("/api/workflow_api/released_workflows", {"space_id": space}).json()["data"]
    assert child in [w["workflow_id"] for w in released["workflow_list"]]
    assert parent not in [w["workflow_id"] for w in released["workflow_list"]]
    detail = alice.post("/api/workflow_api/workflow_detail", {"workflow_ids": [parent, child]}).json()["data"]
    assert [w["name"] for w in detail] == ["parent_flow", "child_flow"]
    templates = alice.post("/api/workflow_api/node_template_list", {}).json()["data"]
    kinds = {t["node_type"] for t in templates["template_list"]}
    assert {"3", "5", "21", "45"} <= kinds and all(t["name"] for t in templates["template_list"])
    assert_error(
        bob.post("/api/workflow_api/batch_delete", {"workflow_id_list": [parent], "space_id": space_of(bob)}),
        404,
        720702004,
    )
    other = create(bob, "bobs_flow")
    mixed = {"workflow_id_list": [parent, other], "space_id": space}
    assert_error(alice.post("/api/workflow_api/batch_delete", mixed), 404, 720702004)
    assert Workflow.get_or_none(Workflow.id == int(parent)) is not None  # nothing deleted
    done = alice.post(
        "/api/workflow_api/batch_delete", {"workflow_id_list": [parent, child], "space_id": space}
    )
    assert done.json()["data"] == {"status": 0}
    assert Workflow.select().where(Workflow.id.in_([int(parent), int(child)])).count() == 0
    assert Workflow.get_or_none(Workflow.id == int(other)) is not None
