"""Workflows as the wire shows them (Coze's Workflow struct)."""

from __future__ import annotations

import json

from core import errors
from core.links import url_of
from core.settings import get_settings
from views.passport import creator_view

NEVER_PUBLISHED, PUBLISHED = 1, 3  # Coze's publish status


def workflow_view(workflow, creator, caller_id: int, published: bool, *, with_schema: bool = False) -> dict:
    view = {
        "workflow_id": str(workflow.id),
        "name": workflow.name,
        "desc": workflow.description,
        "url": url_of(workflow.icon_uri),
        "icon_uri": workflow.icon_uri,
        "status": PUBLISHED if published else NEVER_PUBLISHED,
        "type": 0,
        "plugin_id": "0",
        "create_time": workflow.created_at,
        "update_time": workflow.updated_at,
        "space_id": str(workflow.space_id),
        "project_id": str(workflow.project_id or 0),
        "flow_mode": workflow.flow_mode,
        "creator": creator_view(creator, caller_id),
    }
    if with_schema:
        view["schema_json"] = workflow.schema_json
    return view


# --- runs --------------------------------------------------------------------------------------------

# get_process's nodeStatus; a node waiting for the user shows as running
_NODE_STATUS = {"waiting": 1, "running": 2, "interrupted": 2, "succeeded": 3, "skipped": 3, "failed": 4}
# get_run_history's execute_status: cozepy knows only these three (a cancelled run failed, with
# 777777777; one waiting for the user is still running)
_OPEN_STATUS = {1: "Running", 2: "Success", 3: "Fail", 4: "Fail", 5: "Running"}


def _json_text(value) -> str:
    return json.dumps(value, ensure_ascii=False)


def node_result_view(run, node_id: str, record: dict) -> dict:
    return {
        "nodeId": node_id,
        "NodeType": record.get("type") or "",
        "NodeName": record.get("title") or "",
        "nodeStatus": _NODE_STATUS.get(record.get("status"), 1),
        "errorInfo": record.get("error") or "",
        "errorLevel": "Error" if record.get("error") else "",
        "input": _json_text(record.get("inputs") or {}),
        "output": _json_text(record.get("outputs") or {}),
        "raw_output": _json_text(record.get("outputs") or {}),
        "nodeExeCost": f"{(record.get('elapsed_ms') or 0) / 1000:.3f}s",
        "tokenAndCost": {
            "inputTokens": "0",
            "outputTokens": "0",
            "totalTokens": str(record.get("tokens") or 0),
        },
        "executeId": str(run.id),
        "subExecuteId": "",
        "isBatch": False,
        "index": 0,
        "items": "",
        "needAsync": False,
    }


def node_event_view(run, event: dict) -> dict:
    return {
        "id": event["id"],
        "type": event["type"],
        "node_title": event.get("title") or "",
        "node_icon": "",
        "data": event.get("data") or "{}",
        "node_id": event["node_id"],
        "schema_node_id": event["node_id"].rsplit("/", 1)[-1],  # inside a loop or batch: "<id>#<pass>/<node>"
    }


def process_view(run, pending: list[dict]) -> dict:
    nodes = run.nodes or {}
    finished = sum(1 for n in nodes.values() if n.get("status") in ("succeeded", "skipped", "failed"))
    last = next(reversed(nodes), "") if nodes else ""
    return {
        "workFlowId": str(run.workflow_id),
        "executeId": str(run.id),
        "executeStatus": run.status,
        "nodeResults": [node_result_view(run, node_id, record) for node_id, record in nodes.items()],
        "rate": f"{finished / len(nodes):.2f}" if nodes else "0.00",
        "workflowExeCost": f"{(run.state or {}).get('seconds', 0):.3f}s",
        "tokenAndCost": {"inputTokens": "0", "outputTokens": "0", "totalTokens": str(run.tokens)},
        "reason": run.error_msg,
        "lastNodeID": last,
        "logID": str(run.id),
        "nodeEvents": [node_event_view(run, e) for e in pending],
        "output": run.output,
    }


def debug_url(run) -> str:
    return (
        f"{get_settings().public_url}/work_flow?execute_id={run.id}&space_id={run.space_id}"
        f"&workflow_id={run.workflow_id}&execute_mode=2"
    )


def run_history_view(run) -> dict:
    return {
        "execute_id": str(run.id),
        "execute_status": _OPEN_STATUS.get(run.status, "Running"),
        "run_mode": run.run_mode,
        "input": _json_text(run.inputs or {}),
        "output": run.output,
        "token": run.tokens,
        "cost": "0.00000",
        "error_code": errors.open_code(run.error_code),
        "error_message": run.error_msg,
        "error_msg": run.error_msg,
        "create_time": run.created_at,
        "update_time": run.updated_at,
        "debug_url": debug_url(run),
        "bot_id": str(run.bot_id or 0),
        "connector_id": str(run.connector_id),
        "connector_uid": str(run.creator_id),
        "logid": str(run.id),
        "log_id": str(run.id),
        "is_output_trimmed": False,
        "usage": {"token_count": run.tokens, "input_count": 0, "output_count": 0},
    }


def _io_schema(variables: list[dict]) -> dict:
    return {
        v.get("name"): {
            "type": v.get("type") or "string",
            "required": bool(v.get("required")),
            "description": v.get("description") or "",
        }
        for v in variables
        if isinstance(v, dict) and v.get("name")
    }


def open_workflow_view(workflow, creator, *, with_io: bool = False) -> dict:
    """Coze's Open API workflow (cozepy workflows.retrieve's workflow_detail)."""
    view = {
        "workflow_detail": {
            "workflow_id": str(workflow.id),
            "workflow_name": workflow.name,
            "description": workflow.description,
            "icon_url": url_of(workflow.icon_uri),
            "app_id": str(workflow.project_id or 0),
            "created_at": workflow.created_at,
            "updated_at": workflow.updated_at,
            "creator": {"id": str(creator.id), "name": creator.name},
        }
    }
    if with_io:
        try:
            canvas = json.loads(workflow.schema_json or "{}")
        except ValueError:
            canvas = {}
        nodes = [n for n in canvas.get("nodes") or [] if isinstance(n, dict)]
        start = next((n for n in nodes if n.get("type") == "1"), {})
        end = next((n for n in nodes if n.get("type") == "2"), {})
        end_inputs = ((end.get("data") or {}).get("inputs") or {}).get("inputParameters") or []
        view["input"] = {"parameters": _io_schema((start.get("data") or {}).get("outputs") or [])}
        view["output"] = {
            "parameters": _io_schema(
                [{"name": p.get("name"), **(p.get("input") or {})} for p in end_inputs if isinstance(p, dict)]
            )
        }
    return view


def chat_turn_view(run, conversation_id: str) -> dict:
    """A chatflow's run as the Open API's Chat (/v1/workflows/chat)."""
    return {
        "id": str(run.id),
        "conversation_id": conversation_id,
        "bot_id": str(run.bot_id or 0),
        "section_id": conversation_id,
        "status": "in_progress",
        "created_at": run.created_at,
        "usage": {"token_count": run.tokens, "output_count": 0, "input_count": 0},
        "last_error": {"code": 0, "msg": ""},
        "meta_data": {},
    }


def chat_message_view(run, conversation_id: str) -> dict:
    return {
        "id": str(run.id + 1),
        "conversation_id": conversation_id,
        "bot_id": str(run.bot_id or 0),
        "chat_id": str(run.id),
        "section_id": conversation_id,
        "role": "assistant",
        "type": "answer",
        "content": "",
        "content_type": "text",
        "reasoning_content": "",
        "meta_data": {},
        "created_at": run.created_at,
        "updated_at": run.created_at,
    }


def history_view(workflow, schema: str, commit_id: str, execute_id: str) -> dict:
    view = {
        "name": workflow.name,
        "describe": workflow.description,
        "url": url_of(workflow.icon_uri),
        "schema": schema,
        "flow_mode": workflow.flow_mode,
        "workflow_id": str(workflow.id),
        "commit_id": commit_id,
    }
    if execute_id:
        view["execute_id"] = str(execute_id)
    return view


def node_templates_view(listed: list[tuple[str, str, str, str]]) -> dict:
    """Node kinds (type, name, description, category) as Coze's NodeTemplate list and categories."""
    templates = [
        {
            "id": kind,
            "type": int(kind),
            "name": name,
            "desc": about,
            "icon_url": "",
            "support_batch": 1,
            "node_type": kind,
            "color": "",
        }
        for kind, name, about, _ in listed
    ]
    categories: dict[str, list[str]] = {}
    for kind, _, _, category in listed:
        categories.setdefault(category, []).append(kind)
    return {
        "template_list": templates,
        "cate_list": [{"name": name, "node_type_list": kinds} for name, kinds in categories.items()],
        "plugin_api_list": [],
        "plugin_category_list": [],
    }


def released_view(workflow, version) -> dict:
    return {
        "workflow_id": str(workflow.id),
        "name": workflow.name,
        "desc": workflow.description,
        "icon": url_of(workflow.icon_uri),
        "space_id": str(workflow.space_id),
        "flow_mode": workflow.flow_mode,
        "version": version.version if version else "",
        "commit_id": version.commit_id if version else "",
        "publish_time": version.created_at if version else 0,
    }


def version_view(version, creator) -> dict:
    """A published version as cozepy's WorkflowVersionInfo (its times as strings)."""
    return {
        "version": version.version,
        "description": version.description,
        "created_at": str(version.created_at),
        "updated_at": str(version.updated_at),
        "workflow_id": str(version.workflow_id),
        "creator": {"id": str(creator.id), "name": creator.name},
    }
