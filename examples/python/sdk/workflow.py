"""Workflows: create one, save its canvas (Start -> a text node -> End), publish, run it, read the
run's record, delete."""

import json

import cozeplus_sdk as sdk
from common import DATA, client, personal_space

with client() as api:
    workflows = sdk.WorkflowApi(api)
    created = workflows.workflow_create(
        sdk.WorkflowCreateRequest.from_dict(
            {
                "space_id": personal_space(api),
                "name": "example_greeting",
                "desc": "made by examples/python/sdk/workflow.py",
                "flow_mode": 0,
            }
        )
    )
    workflow_id = created.data.workflow_id
    print("created workflow", workflow_id)
    canvas = (DATA / "greeting-canvas.json").read_text()  # the canvas travels as a JSON string
    workflows.workflow_save(sdk.WorkflowSaveRequest.from_dict({"workflow_id": workflow_id, "schema": canvas}))
    workflows.workflow_publish(
        sdk.WorkflowPublishRequest.from_dict({"workflow_id": workflow_id, "force": True})
    )
    print("saved and published")

    runs = sdk.WorkflowRunApi(api)
    run = runs.open_workflow_run(
        sdk.WorkflowRunRequest.from_dict({"workflow_id": workflow_id, "parameters": {"name": "Ada"}})
    )
    print("output:", json.loads(run.data))
    record = runs.open_workflow_run_histories(workflow_id=workflow_id, execute_id=run.execute_id)
    print(f"run {run.execute_id}: {record.data[0].execute_status}")

    workflows.workflow_delete(sdk.WorkflowDeleteRequest.from_dict({"workflow_id": workflow_id}))
    print("deleted workflow", workflow_id)
