"""Team spaces through HTTP: creating, sharing, roles, transfer, removal (access ends at once), and
what each role may do, with refusals that change nothing."""

from __future__ import annotations

from conftest import assert_error, register

from models.agent import Bot
from models.identity import Space, SpaceMember

BASE = "/api/playground_api/space"


def team(account, name="Support team") -> str:
    response = account.post(f"{BASE}/create", {"name": name, "description": "the desk", "space_type": 2})
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert data["space"]["space_type"] == 2 and data["space"]["role_type"] == 1
    return data["id"]


def roles(space_id) -> dict:
    return {str(m.user_id): m.role for m in SpaceMember.select().where(SpaceMember.space == int(space_id))}


def test_create_share_and_list_members(client, alice, bob):
    space_id = team(alice)
    listed = alice.post(f"{BASE}/list").json()["data"]
    assert space_id in [s["id"] for s in listed["bot_space_list"]] and listed["team_space_num"] == 1
    added = alice.post(f"{BASE}/member/add", {"space_id": space_id, "user_ids": [bob.user_id]}).json()["data"]
    assert added == {"added": [bob.user_id], "already_members": []}
    again = alice.post(f"{BASE}/member/add", {"space_id": space_id, "user_ids": [bob.user_id, alice.user_id]})
    assert again.json()["data"] == {"added": [], "already_members": [bob.user_id, alice.user_id]}
    assert roles(space_id) == {alice.user_id: 1, bob.user_id: 3}
    members = bob.post(f"{BASE}/member/list", {"space_id": space_id}).json()["data"]
    assert [(m["user_id"], m["role_type"]) for m in members["members"]] == [
        (alice.user_id, 1),
        (bob.user_id, 3),
    ]
    assert members["total"] == 2
    # bob now works in it: his agents there are the space's
    bot = bob.post("/api/draftbot/create", {"name": "Shared", "space_id": space_id}).json()["data"]["bot_id"]
    assert Bot.get_by_id(int(bot)).space_id == int(space_id)
    assert alice.post("/api/draftbot/get_display_info", {"bot_id": bot}).status_code == 200


def test_a_removed_member_loses_access_at_once(alice, bob):
    space_id = team(alice)
    alice.post(f"{BASE}/member/add", {"space_id": space_id, "user_ids": [bob.user_id]})
    bot = alice.post("/api/draftbot/create", {"name": "Team bot", "space_id": space_id}).json()["data"][
        "bot_id"
    ]
    assert bob.post("/api/draftbot/get_display_info", {"bot_id": bot}).status_code == 200
    assert (
        alice.post(f"{BASE}/member/remove", {"space_id": space_id, "user_id": bob.user_id}).json()["code"]
        == 0
    )
    assert_error(bob.post("/api/draftbot/get_display_info", {"bot_id": bot}), 404, 100000002)
    assert_error(bob.post(f"{BASE}/info", {"space_id": space_id}), 404, 108000009)
    assert space_id not in [s["id"] for s in bob.post(f"{BASE}/list").json()["data"]["bot_space_list"]]


def test_roles_decide_who_manages(client, alice, bob):
    carol = register(client)
    space_id = team(alice)
    alice.post(f"{BASE}/member/add", {"space_id": space_id, "user_ids": [bob.user_id], "role_type": 2})
    alice.post(f"{BASE}/member/add", {"space_id": space_id, "user_ids": [carol.user_id]})
    before = roles(space_id)
    # a member manages nothing
    assert_error(carol.post(f"{BASE}/update", {"space_id": space_id, "name": "Mine"}), 403, 108000006)
    assert_error(
        carol.post(f"{BASE}/member/remove", {"space_id": space_id, "user_id": bob.user_id}), 403, 108000006
    )
    # an admin renames and adds members, but neither makes admins nor removes them, nor deletes
    assert (
        bob.post(f"{BASE}/update", {"space_id": space_id, "name": "Desk"}).json()["data"]["space"]["name"]
        == "Desk"
    )
    body = {"space_id": space_id, "user_ids": [carol.user_id], "role_type": 2}
    assert_error(bob.post(f"{BASE}/member/add", body), 403, 108000006, "workspace:manage")
    body = {"space_id": space_id, "user_id": carol.user_id, "role_type": 2}
    assert_error(bob.post(f"{BASE}/member/update_role", body), 403, 108000006)
    assert_error(bob.post(f"{BASE}/delete", {"space_id": space_id}), 403, 108000006)
    assert_error(
        bob.post(f"{BASE}/member/remove", {"space_id": space_id, "user_id": alice.user_id}), 409, 108000011
    )
    assert roles(space_id) == before and Space.get_by_id(int(space_id)).name == "Desk"
    # the owner changes roles; anyone may leave
    changed = alice.post(
        f"{BASE}/member/update_role", {"space_id": space_id, "user_id": carol.user_id, "role_type": 2}
    )
    assert changed.json()["data"]["role_type"] == 2 and roles(space_id)[carol.user_id] == 2
    assert (
        carol.post(f"{BASE}/member/remove", {"space_id": space_id, "user_id": carol.user_id}).json()["code"]
        == 0
    )
    assert carol.user_id not in roles(space_id)


def test_transfer_and_delete(alice, bob):
    space_id = team(alice)
    refused = alice.post(f"{BASE}/transfer", {"space_id": space_id, "user_id": bob.user_id})
    assert_error(refused, 400, 108000000, "not a member")
    alice.post(f"{BASE}/member/add", {"space_id": space_id, "user_ids": [bob.user_id]})
    moved = alice.post(f"{BASE}/transfer", {"space_id": space_id, "user_id": bob.user_id}).json()["data"]
    assert moved["space"]["owner_id"] == bob.user_id and moved["space"]["role_type"] == 2
    assert roles(space_id) == {alice.user_id: 2, bob.user_id: 1}
    assert_error(alice.post(f"{BASE}/delete", {"space_id": space_id}), 403, 108000006)
    bot = bob.post("/api/draftbot/create", {"name": "Doomed", "space_id": space_id}).json()["data"]["bot_id"]
    assert bob.post(f"{BASE}/delete", {"space_id": space_id}).json()["code"] == 0
    assert (
        Space.get_or_none(Space.id == int(space_id)) is None and Bot.get_or_none(Bot.id == int(bot)) is None
    )
    assert not roles(space_id)


def test_personal_spaces_stay_personal(alice, bob):
    personal = alice.post(f"{BASE}/list").json()["data"]["bot_space_list"][0]["id"]
    assert_error(
        alice.post(f"{BASE}/member/add", {"space_id": personal, "user_ids": [bob.user_id]}), 409, 108000010
    )
    assert_error(alice.post(f"{BASE}/delete", {"space_id": personal}), 409, 108000010)
    assert_error(
        alice.post(f"{BASE}/transfer", {"space_id": personal, "user_id": alice.user_id}), 409, 108000010
    )
    assert_error(alice.post(f"{BASE}/create", {"name": "x", "space_type": 1}), 400, 108000000, "space_type")
    assert_error(alice.post(f"{BASE}/create", {"name": ""}), 400, 108000000, "name")
    assert roles(personal) == {alice.user_id: 1}


def test_strangers_see_nothing(alice, bob):
    space_id = team(alice)
    for path, body in [
        ("update", {"space_id": space_id, "name": "x"}),
        ("delete", {"space_id": space_id}),
        ("member/add", {"space_id": space_id, "user_ids": [bob.user_id]}),
        ("member/list", {"space_id": space_id}),
        ("member/remove", {"space_id": space_id, "user_id": alice.user_id}),
        ("transfer", {"space_id": space_id, "user_id": bob.user_id}),
    ]:
        assert_error(bob.post(f"{BASE}/{path}", body), 404, 108000009)
    assert roles(space_id) == {alice.user_id: 1}
    assert_error(
        alice.post(f"{BASE}/member/add", {"space_id": space_id, "user_ids": ["123"]}),
        404,
        700000005,
        "user_ids[0]",
    )
