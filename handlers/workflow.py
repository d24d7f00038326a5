"""Workflows at design time and their debug runs (/api/workflow_api/*)."""

from __future__ import annotations

from core import authz, errors
from core.envelope import ok
from core.links import url_of
from models.workflow import MODE_ASYNC
from services import workflow_engine, workflow_runs, workflows
from services.workflow_canvas import CATALOG
from views.workflow import (
    NEVER_PUBLISHED,
    PUBLISHED,
    history_view,
    node_result_view,
    node_templates_view,
    process_view,
    released_view,
    workflow_view,
)


def workflow_create(token_info, body):
    workflow = workflows.create(
        token_info["user"],
        body["space_id"],
        body["name"],
        body.get("desc") or "",
        icon_uri=body.get("icon_uri") or "",
        flow_mode=body.get("flow_mode"),
        project_id=body.get("project_id"),
    )
    return ok(
        {
            "workflow_id": str(workflow.id),
            "name": workflow.name,
            "url": url_of(workflow.icon_uri),
            "status": NEVER_PUBLISHED,
            "type": 0,
        }
    )


def workflow_save(token_info, body):
    workflow = workflows.save(
        token_info["user"],
        body["workflow_id"],
        body.get("schema"),
        space_id=body.get("space_id"),
        name=body.get("name"),
        description=body.get("desc"),
        icon_uri=body.get("icon_uri"),
    )
    published = workflows.latest_version(workflow) is not None
    return ok(
        {
            "name": workflow.name,
            "url": url_of(workflow.icon_uri),
            "status": PUBLISHED if published else NEVER_PUBLISHED,
            "workflow_status": PUBLISHED if published else NEVER_PUBLISHED,
        }
    )


def workflow_canvas(token_info, body):
    user = token_info["user"]
    workflow = workflows.load(user, body["workflow_id"], space_id=body.get("space_id"))
    version = workflows.latest_version(workflow)
    creator = workflows.creators([workflow])[workflow.creator_id]
    return ok(
        {
            "workflow": workflow_view(workflow, creator, user.id, version is not None, with_schema=True),
            "vcs_data": {
                "submit_commit_id": workflow.commit_id,
                "draft_commit_id": workflow.commit_id,
                "can_edit": True,
                "publish_commit_id": version.commit_id if version else "",
            },
            "is_bind_agent": workflows.bound_to_agents(workflow),
            "workflow_version": version.version if version else "",
        }
    )


def workflow_update_meta(token_info, body):
    workflows.update_meta(
        token_info["user"],
        body["workflow_id"],
        space_id=body.get("space_id"),
        name=body.get("name"),
        description=body.get("desc"),
        icon_uri=body.get("icon_uri"),
        flow_mode=body.get("flow_mode"),
    )
    return ok()


def workflow_delete(token_info, body):
    workflows.delete(token_info["user"], body["workflow_id"], body.get("space_id"))
    return ok({"status": 0})


def workflow_list(token_info, body):
    user = token_info["user"]
    rows, published, total = workflows.space_workflows(
        user,
        body["space_id"],
        page=body.get("page", 1),
        size=body.get("size", 20),
        name=body.get("name") or "",
        workflow_ids=body.get("workflow_ids"),
        status=body.get("status"),
        flow_mode=body.get("flow_mode"),
        project_id=body.get("project_id"),
        mine_only=bool(body.get("login_user_create")),
    )
    people = workflows.creators(rows)
    listed = [workflow_view(w, people[w.creator_id], user.id, w.id in published) for w in rows]
    return ok({"workflow_list": listed, "auth_list": [], "total": total})


NODE_PROBLEM, PATH_PROBLEM = 1, 2  # Coze's ValidateErrorType
LEVEL_ERROR = 1


def _problem_view(problem) -> dict:
    view = {
        "message": problem.message,
        "type": PATH_PROBLEM if problem.path else NODE_PROBLEM,
        "level": LEVEL_ERROR,
    }
    if problem.node_id:
        view["node_error"] = {"node_id": problem.node_id}
    if problem.path:
        view["path_error"] = {"start": problem.path[0], "end": problem.path[-1], "path": list(problem.path)}
    return view


def workflow_validate_tree(token_info, body):
    user = token_info["user"]
    workflow, found = workflows.validate(user, body["workflow_id"], body.get("schema"), body.get("space_id"))
    report = {
        "workflow_id": str(workflow.id),
        "name": workflow.name,
        "errors": [_problem_view(p) for p in found],
    }
    return ok([report])


def workflow_publish(token_info, body):
    version = workflows.publish(
        token_info["user"],
        body["workflow_id"],
        space_id=body.get("space_id"),
        version=body.get("workflow_version"),
        description=body.get("version_description") or "",
        force=bool(body.get("force")),
    )
    return ok(
        {"workflow_id": str(version.workflow_id), "publish_commit_id": version.commit_id, "success": True}
    )


def workflow_copy(token_info, body):
    workflow = workflows.copy(token_info["user"], body["workflow_id"], body.get("space_id"))
    return ok({"workflow_id": str(workflow.id), "schema_type": 1})


# --- debug runs of the draft ------------------------------------------------------------------------


def workflow_test_run(token_info, body):
    user = token_info["user"]
    run = workflow_runs.prepare(
        user,
        body["workflow_id"],
        workflow_runs.parameters_of(body.get("input"), "input"),
        mode=MODE_ASYNC,
        debug=True,
        bot_id=body.get("bot_id"),
        space_id=body.get("space_id"),
    )
    workflow_runs.enqueue(run)
    return ok({"workflow_id": str(run.workflow_id), "execute_id": str(run.id), "session_id": ""})


def workflow_get_process(token_info, workflow_id, space_id=None, execute_id=None, **_):
    user = token_info["user"]
    if execute_id:
        run = workflow_runs.load(user, execute_id, workflow_id, space_id)
    else:
        run = workflow_runs.latest_test_run(user, workflow_id, space_id)
    return ok(process_view(run, workflow_runs.pending_events(run)))


def workflow_test_resume(token_info, body):
    user = token_info["user"]
    run = workflow_runs.load(
        user, body["execute_id"], body["workflow_id"], body.get("space_id"), authz.EXECUTE
    )
    workflow_runs.enqueue(workflow_runs.resume(user, run, body["event_id"], body["data"], mode=MODE_ASYNC))
    return ok()


def workflow_cancel(token_info, body):
    user = token_info["user"]
    run = workflow_runs.load(
        user, body["execute_id"], body.get("workflow_id"), body.get("space_id"), authz.EXECUTE
    )
    workflow_runs.cancel(run)
    return ok()


def workflow_node_execute_history(token_info, workflow_id, execute_id, node_id, space_id=None, **_):
    run = workflow_runs.load(token_info["user"], execute_id, workflow_id, space_id)
    record = (run.nodes or {}).get(node_id)
    if record is None:
        raise errors.WORKFLOW_RUN_NOT_FOUND(f"node_id: run {run.id} has no result for node {node_id}")
    return ok(node_result_view(run, node_id, record))


# --- more design time ---------------------------------------------------------------------------


def workflow_batch_delete(token_info, body):
    workflows.delete_many(token_info["user"], body["workflow_id_list"], body["space_id"])
    return ok({"status": 0})


def workflow_history_schema(token_info, body):
    workflow, schema, commit_id = workflows.history_schema(
        token_info["user"],
        body["workflow_id"],
        body["space_id"],
        body["type"],
        commit_id=body.get("commit_id") or "",
        version=body.get("workflow_version") or "",
        execute_id=body.get("execute_id") or "",
    )
    return ok(history_view(workflow, schema, commit_id, body.get("execute_id") or ""))


def workflow_references(token_info, body):
    user = token_info["user"]
    found = workflows.references(user, body["workflow_id"], body.get("space_id"))
    people = workflows.creators(found)
    published = workflows.published_ids(found)
    return ok(
        {"workflow_list": [workflow_view(w, people[w.creator_id], user.id, w.id in published) for w in found]}
    )


def workflow_node_type(token_info, body):
    used, inner = workflows.node_types(token_info["user"], body["workflow_id"], body.get("space_id"))
    return ok({"node_types": used, "sub_workflow_node_types": inner})


def workflow_node_template_list(token_info, body):
    wanted = set(body.get("node_types") or [])
    listed = [
        entry
        for entry in CATALOG
        if workflow_engine.supported(entry[0]) and (not wanted or entry[0] in wanted)
    ]
    return ok(node_templates_view(listed))


def workflow_released(token_info, body):
    found, total = workflows.released(
        token_info["user"],
        body["space_id"],
        page=body.get("page", 1),
        size=body.get("size", 20),
        name=body.get("name") or "",
        flow_mode=body.get("flow_mode"),
    )
    return ok({"workflow_list": [released_view(w, v) for w, v in found], "total": total})


def workflow_detail(token_info, body):
    user = token_info["user"]
    found = workflows.details(user, body["workflow_ids"], body.get("space_id"))
    people = workflows.creators(found)
    published = workflows.published_ids(found)
    return ok([workflow_view(w, people[w.creator_id], user.id, w.id in published) for w in found])


def workflow_node_debug(token_info, body):
    run = workflow_runs.node_debug(
        token_info["user"],
        body["workflow_id"],
        body["node_id"],
        body.get("input") or {},
        space_id=body.get("space_id"),
        bot_id=body.get("bot_id"),
    )
    workflow_runs.enqueue(run)
    return ok(
        {
            "workflow_id": str(run.workflow_id),
            "node_id": body["node_id"],
            "execute_id": str(run.id),
            "session_id": "",
        }
    )
