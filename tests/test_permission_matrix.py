"""The permission matrix: docs/permissions.md states it, the enforcer decides it, HTTP obeys it.

Every cell of the documented table is checked against the enforcer for each built-in role; the
cells of agents, spaces, webhooks and the global resources are then walked through HTTP (allowed
cells succeed, denied ones are 403 with 108000006 and change nothing); a policy change applies to
the next request, including one made by another process."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import assert_error, register

from core import authz
from models.agent import Bot
from models.identity import Space, SpaceMember, User
from models.permission import PolicyRule
from models.server_config import ServerConfig
from models.webhook import WebhookSubscription

DOC = Path(__file__).resolve().parent.parent / "docs" / "permissions.md"
ROLE_COLUMNS = ("super_admin", "space_owner", "space_admin", "space_member")
BASE = "/api/playground_api/space"


def documented() -> dict[tuple[str, str], dict[str, bool]]:
    rows = {}
    for line in DOC.read_text().splitlines():
        found = re.match(r"^\| (\w+) \| (\w+) \| (yes|no) \| (yes|no) \| (yes|no) \| (yes|no) \|$", line)
        if found:
            resource, action, *marks = found.groups()
            rows[(resource, action)] = {role: mark == "yes" for role, mark in zip(ROLE_COLUMNS, marks)}
    return rows


def test_the_documented_matrix_is_the_catalogue():
    assert set(documented()) == set(authz.cells())


@pytest.fixture
def team(alice, bob, client):
    """A team space owned by alice, with bob as admin and carol as member."""
    carol = register(client)
    space_id = alice.post(f"{BASE}/create", {"name": "Matrix", "space_type": 2}).json()["data"]["id"]
    alice.post(f"{BASE}/member/add", {"space_id": space_id, "user_ids": [bob.user_id], "role_type": 2})
    alice.post(f"{BASE}/member/add", {"space_id": space_id, "user_ids": [carol.user_id]})
    return {"space_id": space_id, "space_owner": alice, "space_admin": bob, "space_member": carol}


def test_the_enforcer_decides_every_cell_as_documented(team, admin):
    space = f"space:{team['space_id']}"
    users = {role: User.get_by_id(int(team[role].user_id)) for role in ROLE_COLUMNS[1:]}
    users["super_admin"] = User.get_by_id(int(admin.user_id))
    for (resource, action), expected in documented().items():
        domain = space if authz.RESOURCES[resource].domain == "space" else "global"
        for role, user in users.items():
            member_role = authz.SPACE_ROLE_CODES.get(SpaceMember.role_of(int(team["space_id"]), user.id))
            got = authz.allowed(user, domain, resource, action, member_role)
            assert got is expected[role], (resource, action, role)


def _agent_cells(space_id):
    """cell -> (path, body maker taking a fresh agent's id)."""
    return {
        ("agent", "read"): ("/api/playground_api/draftbot/get_draft_bot_info", lambda bot: {"bot_id": bot}),
        ("agent", "update"): (
            "/api/playground_api/draftbot/update_draft_bot_info",
            lambda bot: {"bot_info": {"bot_id": bot, "description": "changed"}},
        ),
        ("agent", "delete"): ("/api/draftbot/delete", lambda bot: {"bot_id": bot, "space_id": space_id}),
        ("agent", "publish"): (
            "/api/draftbot/publish",
            lambda bot: {"bot_id": bot, "space_id": space_id, "connectors": {"1024": {}}},
        ),
    }


def test_agent_cells_through_http(team):
    space_id = team["space_id"]
    expected = documented()
    for role in ROLE_COLUMNS[1:]:
        account = team[role]
        created = account.post("/api/draftbot/create", {"name": "Mine", "space_id": space_id})
        assert (
            created.json()["code"] == 0 if expected[("agent", "create")][role] else created.status_code == 403
        )
        for cell, (path, body) in _agent_cells(space_id).items():
            bot = team["space_owner"].post("/api/draftbot/create", {"name": "Cell", "space_id": space_id})
            bot_id = bot.json()["data"]["bot_id"]
            before = Bot.get_by_id(int(bot_id))
            answer = account.post(path, body(bot_id))
            if expected[cell][role]:
                assert answer.json()["code"] == 0, (cell, role, answer.text)
            else:
                assert_error(answer, 403, 108000006, f"{cell[0]}:{cell[1]}")
                after = Bot.get_or_none(Bot.id == int(bot_id))
                assert after is not None and after.description == before.description
                assert after.draft_version == before.draft_version


def test_space_and_webhook_cells_through_http(team, client):
    space_id = team["space_id"]
    expected = documented()
    outsider = register(client)
    for role in ("space_member", "space_admin"):
        account = team[role]
        renamed = account.post(f"{BASE}/update", {"space_id": space_id, "name": f"By {role}"})
        if expected[("workspace", "update")][role]:
            assert renamed.json()["data"]["space"]["name"] == f"By {role}"
        else:
            assert_error(renamed, 403, 108000006, "workspace:update")
            assert Space.get_by_id(int(space_id)).name != f"By {role}"
        added = account.post(f"{BASE}/member/add", {"space_id": space_id, "user_ids": [outsider.user_id]})
        if expected[("member", "create")][role]:
            assert added.json()["code"] == 0
            team["space_owner"].post(
                f"{BASE}/member/remove", {"space_id": space_id, "user_id": outsider.user_id}
            )
        else:
            assert_error(added, 403, 108000006, "member:create")
        assert SpaceMember.role_of(int(space_id), int(outsider.user_id)) is None
        hook = {"space_id": space_id, "url": "http://127.0.0.3:9/hook", "events": ["chat.completed"]}
        count = WebhookSubscription.select().where(WebhookSubscription.space == int(space_id)).count()
        made = account.post("/api/webhook/create", hook)
        if expected[("webhook", "create")][role]:
            assert made.json()["code"] == 0
            count += 1
        else:
            assert_error(made, 403, 108000006, "webhook:create")
        assert WebhookSubscription.select().where(WebhookSubscription.space == int(space_id)).count() == count
        deleted = account.post(f"{BASE}/delete", {"space_id": space_id})
        assert_error(deleted, 403, 108000006, "workspace:delete")
        assert Space.get_or_none(Space.id == int(space_id)) is not None


def test_global_cells_through_http(admin, alice):
    for path, body, cell in (
        ("/api/permission_api/user/list", {}, "user:read"),
        ("/api/permission_api/audit/list", {}, "audit:read"),
    ):
        assert admin.post(path, body).json()["code"] == 0
        assert_error(alice.post(path, body), 403, 108000006, cell)


def test_a_policy_change_applies_to_the_next_request(team):
    space_id, carol = team["space_id"], team["space_member"]
    bot = team["space_owner"].post("/api/draftbot/create", {"name": "Kept", "space_id": space_id})
    bot_id = bot.json()["data"]["bot_id"]
    rule = PolicyRule.get(
        (PolicyRule.ptype == "p")
        & (PolicyRule.v0 == "role:space_member")
        & (PolicyRule.v2 == "agent")
        & (PolicyRule.v3 == "delete")
    )
    try:
        rule.delete_instance()
        authz.policy_changed()
        assert_error(carol.post("/api/draftbot/delete", {"bot_id": bot_id}), 403, 108000006, "agent:delete")
        assert Bot.get_or_none(Bot.id == int(bot_id)) is not None
    finally:
        PolicyRule.create(ptype="p", v0="role:space_member", v1="space:*", v2="agent", v3="delete")
        # as another process would: only the stored revision changes; this one notices by itself
        ServerConfig.write("authz.policy", {"revision": "changed-elsewhere"})
    assert carol.post("/api/draftbot/delete", {"bot_id": bot_id}).json()["code"] == 0
    assert Bot.get_or_none(Bot.id == int(bot_id)) is None
