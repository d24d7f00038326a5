"""An agent's bound workflows (workflow_info_list) as tools of its chat: the model calls one by
the workflow's name with the Start node's inputs; the workflow runs (recorded like any run, for
the agent's owner) and its output is the tool's answer. A published agent runs the versions it
was published with; a draft agent each workflow's latest published version."""

from __future__ import annotations

import json

from core import errors
from core.ids import parse_id
from models.db import run_db
from models.identity import User
from models.workflow import MODE_SYNC, RUN_INTERRUPTED, RUN_SUCCEEDED, Workflow, WorkflowVersion
from services import agents, tools, workflow_runs, workflows

JSON_TYPES = {
    "string": "string",
    "integer": "integer",
    "float": "number",
    "boolean": "boolean",
    "object": "object",
    "list": "array",
}


def _parameters(schema_json: str) -> dict:
    """The JSON Schema of the Start node's inputs."""
    try:
        canvas = json.loads(schema_json)
    except ValueError:
        canvas = {}
    start = next((n for n in canvas.get("nodes") or [] if isinstance(n, dict) and n.get("type") == "1"), {})
    properties, required = {}, []
    for variable in (start.get("data") or {}).get("outputs") or []:
        if isinstance(variable, dict) and variable.get("name"):
            kind = JSON_TYPES.get(variable.get("type") or "string", "string")
            properties[variable["name"]] = {"type": kind, "description": variable.get("description") or ""}
            if variable.get("required"):
                required.append(variable["name"])
    return {"type": "object", "properties": properties, "required": required}


def bound_workflows(config: dict) -> list[tuple[Workflow, WorkflowVersion]]:
    ids = [
        parse_id(e.get("workflow_id")) for e in config.get("workflow_info_list") or [] if isinstance(e, dict)
    ]
    ids = list(dict.fromkeys(i for i in ids if i))
    if not ids:
        return []
    pinned = config.get(agents.WORKFLOW_VERSIONS_KEY)
    found = []
    for workflow in Workflow.select().where(Workflow.id.in_(ids)):
        if pinned is not None:
            version = WorkflowVersion.get_or_none(
                WorkflowVersion.id == parse_id(pinned.get(str(workflow.id)))
            )
        else:
            version = workflows.latest_version(workflow)
        if version is not None:
            found.append((workflow, version))
    return sorted(found, key=lambda pair: ids.index(pair[0].id))


async def _run(
    workflow: Workflow, version: WorkflowVersion, arguments: dict, context: tools.ToolContext
) -> str:
    user = await run_db(User.by_id, context.user_id)

    def record():
        return workflow_runs.record(
            user,
            workflow,
            version.schema_json,
            version.version,
            arguments,
            MODE_SYNC,
            bot_id=context.bot_id,
            connector_id=context.connector_id or None,
        )

    run = await workflow_runs.Execution(await run_db(record), user=user).execute()
    if run.status == RUN_SUCCEEDED:
        return run.output
    if run.status == RUN_INTERRUPTED:
        await run_db(workflow_runs.fail_waiting, run, errors.WORKFLOW_SYNC_INTERRUPT)
        return json.dumps({"error": "the workflow waits for the user, which a tool call cannot"})
    return json.dumps({"error": run.error_msg or "the workflow failed"}, ensure_ascii=False)


def _tool_provider(config: dict) -> list[tools.Tool]:
    offered = []
    for workflow, version in bound_workflows(config):

        async def run(arguments: dict, context: tools.ToolContext, workflow=workflow, version=version) -> str:
            return await _run(workflow, version, arguments, context)

        offered.append(
            tools.Tool(
                name=workflow.name,
                description=(workflow.description or f"the workflow {workflow.name}")[:1000],
                parameters=_parameters(version.schema_json),
                run=run,
            )
        )
    return offered


tools.register_provider(_tool_provider)
