"""Every cell of the permission matrix through HTTP, both ways.

Space cells: in a fresh team space, a member asks for an operation the cell governs once while
their role (space_member) lacks the cell, which must answer 403 with 108000006 naming it and change
nothing, and once while the role holds it, which must be served. Global cells: a user asks once
without any global role and once holding a custom role with just that cell. Together with
test_permission_matrix (the enforcer decides each documented default) this shows that HTTP obeys
the matrix in every cell."""

from __future__ import annotations

import pytest
from conftest import PASSWORD, assert_error, new_email, register
from test_references import OPERATIONS, World, _request, _send, snapshot

from core import authz
from models.corporation import Corporation, Department, Employee, EmployeeDepartment
from models.identity import Space, SpaceMember, User
from models.llm import LlmModel
from models.permission import PolicyRule, Role

SPACE = "/api/playground_api/space"
BY_ID = {op["id"]: op for op in OPERATIONS}
DENIED = 108000006


class TeamWorld(World):
    """Objects made by the space's owner in a team space."""

    def __init__(self, account, space_id: str):
        super().__init__(account)
        self._made["space"] = space_id

    def _make_agent(self):
        body = {"name": "Walked", "space_id": self.get("space")}
        bot_id = self._ok(self.account.post("/api/draftbot/create", body))["data"]["bot_id"]
        self._ok(self.account.post("/v1/bot/publish", {"bot_id": bot_id, "connector_ids": ["1024"]}))
        return bot_id

    def _make_dataset(self):
        body = {"name": f"kb {id(self)}", "space_id": self.get("space"), "format_type": 0}
        return self._ok(self.account.post("/api/knowledge/create", body))["data"]["dataset_id"]


# cell -> the operation it governs (sent as the spec's example, with the world's objects)
SPACE_CELLS = {
    ("workspace", "read"): "get_space",
    ("workspace", "update"): "update_space",
    ("agent", "read"): "get_draft_bot_info",
    ("agent", "update"): "update_draft_bot_info",
    ("agent", "delete"): "delete_bot",
    ("agent", "publish"): "publish_bot",
    ("project", "create"): "draft_project_create",
    ("project", "read"): "get_project_variables",
    ("project", "update"): "draft_project_update",
    ("project", "delete"): "draft_project_delete",
    ("workflow", "create"): "workflow_create",
    ("workflow", "read"): "workflow_canvas",
    ("workflow", "update"): "workflow_update_meta",
    ("workflow", "delete"): "workflow_delete",
    ("workflow", "execute"): "workflow_test_run",
    ("workflow", "publish"): "workflow_publish",
    ("knowledge", "create"): "create_dataset",
    ("knowledge", "read"): "dataset_detail",
    ("knowledge", "update"): "update_dataset",
    ("knowledge", "delete"): "delete_dataset",
    ("plugin", "create"): "register_plugin",
    ("plugin", "read"): "get_plugin_info",
    ("plugin", "update"): "update_plugin_meta",
    ("plugin", "delete"): "del_plugin",
    ("plugin", "execute"): "debug_api",
    ("plugin", "publish"): "publish_plugin",
    ("database", "create"): "add_database",
    ("database", "read"): "get_database",
    ("database", "update"): "update_database",
    ("database", "delete"): "delete_database",
    ("prompt", "read"): "get_prompt_resource_info",
    ("prompt", "delete"): "delete_prompt_resource",
    ("channel", "create"): "channel_create",
    ("channel", "read"): "channel_get",
    ("channel", "update"): "channel_update",
    ("channel", "delete"): "channel_delete",
    ("channel", "execute"): "channel_test",
    ("webhook", "read"): "webhook_list",
    ("webhook", "update"): "webhook_update",
    ("webhook", "delete"): "webhook_delete",
    ("webhook", "execute"): "webhook_test",
}
# Every list of a space's resources asks for that resource's read cell.
LISTS = (
    (("agent", "read"), "open_list_bots"),
    (("agent", "read"), "published_bots_list"),
    (("agent", "read"), "get_draft_intelligence_list"),
    (("knowledge", "read"), "list_datasets"),
    (("knowledge", "read"), "open_list_datasets"),
    (("plugin", "read"), "get_dev_plugin_list"),
    (("plugin", "read"), "get_playground_plugin_list"),
    (("workflow", "read"), "workflow_list"),
    (("workflow", "read"), "workflow_released"),
    (("workflow", "read"), "open_list_workflows"),
    (("database", "read"), "list_databases"),
    (("channel", "read"), "channel_list"),
    (("prompt", "read"), "library_resource_list"),
)
# Operations served with a domain error past the permission (the walk's objects cannot meet it):
# a tool on an unreachable host, a webhook channel's credentials check.
SERVED_OTHERWISE = {"debug_api", "channel_test"}


def _example_request(op_id, world):
    op = BY_ID[op_id]
    kinds = {r[2] for r in op["refs"]} - {"none", "model", "organization", "department", "employee"}
    url, body = _request(op, {kind: world for kind in kinds})
    return op, url, body


def _explicit_request(cell, world, owner, client):
    """The cells whose operations need people or a body the spec's example cannot give."""
    space_id = world.get("space")
    if cell == ("workspace", "delete"):
        return "POST", f"{SPACE}/delete", {"space_id": space_id}
    if cell == ("member", "create"):
        body = {"space_id": space_id, "user_ids": [register(client).user_id], "role_type": 3}
        return "POST", f"{SPACE}/member/add", body
    if cell == ("workspace", "manage"):
        promoted = register(client)
        owner.post(f"{SPACE}/member/add", {"space_id": space_id, "user_ids": [promoted.user_id]})
        body = {"space_id": space_id, "user_id": promoted.user_id, "role_type": 2}
        return "POST", f"{SPACE}/member/update_role", body
    if cell == ("agent", "create"):
        return "POST", "/api/draftbot/create", {"name": "Walked", "space_id": space_id}
    if cell == ("webhook", "create"):
        hook = {"space_id": space_id, "url": "http://127.0.0.3:9/hook", "events": ["agent.published"]}
        return "POST", "/api/webhook/create", hook
    if cell == ("member", "delete"):
        leaving = register(client)
        owner.post(f"{SPACE}/member/add", {"space_id": space_id, "user_ids": [leaving.user_id]})
        return "POST", f"{SPACE}/member/remove", {"space_id": space_id, "user_id": leaving.user_id}
    if cell == ("agent", "execute"):
        message = [{"role": "user", "content": "hello", "content_type": "text"}]
        body = {
            "bot_id": world.get("agent"),
            "user_id": "walker",
            "stream": False,
            "additional_messages": message,
        }
        return "POST", "/v3/chat", body
    if cell == ("prompt", "create"):
        return (
            "POST",
            "/api/playground_api/upsert_prompt_resource",
            {"prompt": {"space_id": space_id, "name": "walked", "prompt_text": "x"}},
        )
    if cell == ("prompt", "update"):
        prompt = {"id": world.get("prompt"), "space_id": space_id, "name": "renamed", "prompt_text": "y"}
        return "POST", "/api/playground_api/upsert_prompt_resource", {"prompt": prompt}
    return None


def _rule(cell):
    return PolicyRule.get_or_none(
        (PolicyRule.ptype == "p")
        & (PolicyRule.v0 == "role:space_member")
        & (PolicyRule.v1 == authz.SPACE_ANY)
        & (PolicyRule.v2 == cell[0])
        & (PolicyRule.v3 == cell[1])
    )


def _set_member_cell(cell, granted: bool) -> None:
    found = _rule(cell)
    if granted and found is None:
        PolicyRule.create(ptype="p", v0="role:space_member", v1=authz.SPACE_ANY, v2=cell[0], v3=cell[1])
    elif not granted and found is not None:
        found.delete_instance()
    authz.policy_changed()


def _send_cell(client, account, request):
    if isinstance(request[0], dict):  # an operation of the spec: (op, url, body)
        op, url, body = request
        return _send(client, account, op, url, body), op["id"]
    method, url, body = request
    return client.request(method, url, headers=account.headers, json=body), url


def test_every_space_cell_is_walked():
    walked = set(SPACE_CELLS) | {
        ("workspace", "delete"),
        ("workspace", "manage"),
        ("agent", "create"),
        ("webhook", "create"),
        ("member", "create"),
        ("member", "delete"),
        ("agent", "execute"),
        ("prompt", "create"),
        ("prompt", "update"),
    }
    assert walked == set(authz.cells("space"))


CASES = [(cell, SPACE_CELLS.get(cell)) for cell in authz.cells("space")] + list(LISTS)


@pytest.mark.parametrize("cell, op_id", CASES, ids=[f"{c[0]}:{c[1]} {o or ''}".strip() for c, o in CASES])
def test_a_space_cell_decides_the_request(client, cell, op_id):
    owner, member = register(client), register(client)
    space_id = owner.post(f"{SPACE}/create", {"name": "Walk", "space_type": 2}).json()["data"]["id"]
    owner.post(f"{SPACE}/member/add", {"space_id": space_id, "user_ids": [member.user_id], "role_type": 3})
    world = TeamWorld(owner, space_id)
    originally = _rule(cell) is not None
    try:
        for granted in (False, True):
            request = (
                _example_request(op_id, world) if op_id else _explicit_request(cell, world, owner, client)
            )
            for kind in (
                "agent",
                "dataset",
                "workflow",
                "plugin",
                "database",
                "prompt",
                "channel",
                "webhook",
            ):
                if kind in str(request):
                    world.get(kind)  # made before the baseline
            _set_member_cell(cell, granted)
            before = snapshot(owner, member)
            response, name = _send_cell(client, member, request)
            if not granted:
                assert_error(response, 403, DENIED, f"{cell[0]}:{cell[1]}")
                assert snapshot(owner, member) == before, f"{name} was refused but changed something"
            elif name in SERVED_OTHERWISE:
                assert response.status_code != 403 and response.json()["code"] != DENIED, response.text
            else:
                assert response.status_code == 200 and response.json()["code"] == 0, (name, response.text)
    finally:
        _set_member_cell(cell, originally)
    assert Space.get_or_none(Space.id == int(space_id)) is not None or cell == ("workspace", "delete")


# --- global cells --------------------------------------------------------------------------------


def _organisation(admin):
    corp = admin.post("/api/v1/corporation/create", {"name": f"Walk {new_email()}"}).json()["data"]
    dept = admin.post("/api/v1/corporation/department/create", {"name": "Eng", "corp_id": corp["id"]}).json()[
        "data"
    ]
    body = {
        "name": "E",
        "mobile": f"+1{abs(hash(new_email())) % 10**10:010d}",
        "department_ids": [{"department_id": dept["id"]}],
    }
    person = admin.post("/api/v1/corporation/employee/create", body).json()["data"]
    return corp["id"], dept["id"], person["id"]


def _model(admin) -> str:
    body = {
        "name": "Walked model",
        "model_name": "walk-1",
        "base_url": "https://api.openai.com/v1",
        "api_key": "sk-walk",
    }
    created = admin.post("/api/admin/config/model/create", body).json()
    return created["data"]["model"]["id"]


def _role(admin) -> tuple[str, str]:
    code = f"walk_{abs(hash(new_email())) % 10**9}"
    body = {"role_code": code, "role_name": "Walk", "role_domain": "space"}
    return code, admin.post("/api/permission_api/role/create", body).json()["data"]["id"]


def _global_request(cell, admin, client):
    """(method, path, body) exercising a global cell, with what it needs made by the admin."""
    api = "/api/permission_api"
    simple = {
        ("user", "read"): f"{api}/user/list",
        ("role", "read"): f"{api}/role/list",
        ("audit", "read"): f"{api}/audit/list",
        ("model", "read"): "/api/admin/config/model/list",
    }
    if cell in simple:
        return "POST", simple[cell], {}
    if cell == ("user", "create"):
        return "POST", f"{api}/user/create", {"email": new_email("made"), "password": PASSWORD}
    if cell == ("user", "update"):
        return "POST", f"{api}/user/status/update", {"user_id": register(client).user_id, "is_disabled": 1}
    if cell == ("role", "create"):
        return (
            "POST",
            f"{api}/role/create",
            {"role_code": f"new_{abs(hash(new_email())) % 10**9}", "role_name": "N"},
        )
    if cell == ("role", "update"):
        return "POST", f"{api}/role/update", {"id": _role(admin)[1], "role_name": "Renamed"}
    if cell == ("role", "delete"):
        return "POST", f"{api}/role/delete", {"id": _role(admin)[1]}
    if cell == ("role", "manage"):
        body = {"user_id": register(client).user_id, "role_ids": [_role(admin)[1]]}
        return "POST", f"{api}/user/assign_roles", body
    if cell == ("model", "manage"):
        return "POST", "/api/admin/config/model/delete", {"id": _model(admin)}
    corp, dept, person = _organisation(admin)
    base = "/api/v1/corporation"
    requests = {
        ("organization", "create"): ("POST", f"{base}/create", {"name": "New"}),
        ("organization", "read"): ("GET", f"{base}/{corp}", None),
        ("organization", "update"): ("PUT", f"{base}/{corp}", {"name": "Renamed"}),
        ("organization", "delete"): ("DELETE", f"{base}/{corp}", None),
        ("department", "create"): ("POST", f"{base}/department/create", {"name": "Ops", "corp_id": corp}),
        ("department", "read"): ("GET", f"{base}/department/{dept}", None),
        ("department", "update"): ("PUT", f"{base}/department/{dept}", {"name": "Renamed"}),
        ("department", "delete"): ("DELETE", f"{base}/department/{dept}", None),
        ("employee", "create"): (
            "POST",
            f"{base}/employee/create",
            {"name": "N", "mobile": "+19990001111", "department_ids": [{"department_id": dept}]},
        ),
        ("employee", "read"): ("GET", f"{base}/employee/{person}", None),
        ("employee", "update"): ("PUT", f"{base}/employee/{person}", {"nickname": "Renamed"}),
        ("employee", "delete"): ("DELETE", f"{base}/employee/{person}", None),
    }
    if cell in (("organization", "delete"), ("department", "delete")):
        admin.delete(f"{base}/employee/{person}")
        if cell == ("organization", "delete"):
            admin.delete(f"{base}/department/{dept}")
    return requests[cell]


def _global_state():
    tables = (User, Role, PolicyRule, LlmModel, Corporation, Department, Employee, EmployeeDepartment)
    return [sorted(tuple(row) for row in model.select().tuples()) for model in tables]


@pytest.mark.parametrize("cell", authz.cells("global"), ids=lambda cell: f"{cell[0]}:{cell[1]}")
def test_a_global_cell_decides_the_request(client, admin, cell):
    caller = register(client)
    code = f"only_{cell[0]}_{cell[1]}_{caller.user_id[-6:]}"
    grants = [{"resources": [{"resource": cell[0], "actions": [{"action": cell[1]}]}]}]
    role = admin.post(
        "/api/permission_api/role/create",
        {"role_code": code, "role_name": "One cell", "role_domain": "global", "permissions": grants},
    ).json()["data"]["id"]
    for granted in (False, True):
        method, path, body = _global_request(cell, admin, client)
        if granted:
            admin.post(
                "/api/permission_api/user/assign_roles", {"user_id": caller.user_id, "role_ids": [role]}
            )
        before = _global_state()
        response = client.request(method, path, headers=caller.headers, json=body)
        if not granted:
            assert_error(response, 403, DENIED, f"{cell[0]}:{cell[1]}")
            assert _global_state() == before, f"{path} was refused but changed something"
        else:
            assert response.status_code == 200 and response.json()["code"] == 0, (path, response.text)
    assert SpaceMember.select().where(SpaceMember.user == int(caller.user_id)).count() == 1
