"""Workflows and variables: a run sees its agent's user variables (global_variable_user), its
project's (global_variable_app) and the system's (global_variable_system), each the run owner's
values; the Variable assign node (40) sets user and project variables, kept for later runs and
chats as the variables API keeps them."""

from __future__ import annotations

from core import errors
from models.db import run_db
from models.identity import User
from models.workflow import Workflow
from services import variables
from services import workflow_canvas as wc
from services.workflow_engine import NodeError, Outcome, Run, handles

VARIABLE_ASSIGN = "40"
USER_VARIABLES, APP_VARIABLES, SYSTEM_VARIABLES = (
    "global_variable_user",
    "global_variable_app",
    "global_variable_system",
)


def _holder(run) -> variables.Holder:
    return variables.Holder(str(run.creator_id), run.connector_id or 1024)


def _targets(user: User, run) -> dict[str, variables.Target]:
    found = {}
    if run.bot_id:
        found[USER_VARIABLES] = variables.target_of(user, variables.Owner(bot_id=run.bot_id))
    workflow = Workflow.by_id(run.workflow_id)
    if workflow is not None and workflow.project_id:
        found[APP_VARIABLES] = variables.target_of(user, variables.Owner(project_id=workflow.project_id))
    return found


def values_for(user: User, run) -> dict[str, dict]:
    """What a run's references to variables read, by source (loaded only for canvases naming one)."""
    if "global_variable" not in (run.schema_json or ""):
        return {}
    holder = _holder(run)
    found = {SYSTEM_VARIABLES: variables.system_values(holder)}
    for source, target in _targets(user, run).items():
        found[source] = {v.keyword: v.value for v in variables.values_of(target, holder)}
    return found


@handles(VARIABLE_ASSIGN)
async def assign_node(node: wc.Node, inputs: dict, run: Run) -> Outcome:
    user, owner = run.context.get("user"), run.context.get("run")
    if user is None or owner is None:
        raise NodeError(f"node {node.id} ({node.title}): runs only inside a workflow run of a user")
    changes: dict[str, list[tuple[str, str]]] = {}
    for index, parameter in enumerate(node.parameters):
        where = f"node {node.id} ({node.title}).inputParameters[{index}]"
        target = (((parameter or {}).get("left") or {}).get("value") or {}).get("content") or {}
        source = target.get("source")
        name = ((target.get("path") or [None])[0]) or target.get("name") or parameter.get("name")
        if source not in (USER_VARIABLES, APP_VARIABLES) or not name:
            raise NodeError(f"{where}.left: a user or app variable to set")
        value = inputs.get(parameter.get("name"))
        text = value if isinstance(value, str) else "" if value is None else wc.typed("string", value, where)
        changes.setdefault(source, []).append((str(name), text))
        run.scope.variables.setdefault(source, {})[str(name)] = text

    def save():
        targets = _targets(user, owner)
        for source, pairs in changes.items():
            if source not in targets:
                needs = "a bot_id" if source == USER_VARIABLES else "a project"
                raise errors.WORKFLOW_INVALID_PARAM(f"node {node.id}: {source} needs the run to have {needs}")
            variables.set_values(targets[source], _holder(owner), pairs, field=f"node {node.id}")

    await run_db(save)
    return Outcome({"isSuccess": True})
