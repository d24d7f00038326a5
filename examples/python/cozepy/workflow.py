"""Workflows with cozepy: run a published workflow and read the run's record. cozepy runs workflows
but does not make them, so the greeting workflow (Start -> a text node -> End) is created, saved
and published with console calls first, and deleted at the end."""

import json

from common import DATA, coze, http, personal_space

workflow_id = http(
    "/api/workflow_api/create",
    {"space_id": personal_space(), "name": "example_greeting", "desc": "made by examples/python/cozepy"},
)["workflow_id"]
http(
    "/api/workflow_api/save",
    {"workflow_id": workflow_id, "schema": (DATA / "greeting-canvas.json").read_text()},
)
http("/api/workflow_api/publish", {"workflow_id": workflow_id, "force": True})
print("published workflow", workflow_id)

run = coze.workflows.runs.create(workflow_id=workflow_id, parameters={"name": "Ada"})
print("output:", json.loads(run.data))
record = coze.workflows.runs.run_histories.retrieve(workflow_id=workflow_id, execute_id=run.execute_id)
print(f"run {run.execute_id}: {record.execute_status.value}")

http("/api/workflow_api/delete", {"workflow_id": workflow_id})
print("deleted workflow", workflow_id)
