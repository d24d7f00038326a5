"""Spaces and the authorization check point."""

from __future__ import annotations

import pytest
from conftest import ADMIN_EMAIL, assert_error

from core import authz, errors
from models.identity import ROLE_MEMBER, Space, SpaceMember, User


def test_list_has_the_personal_space(alice):
    data = alice.post("/api/playground_api/space/list").json()["data"]
    user = User.get_by_id(int(alice.user_id))
    assert [s["id"] for s in data["bot_space_list"]] == [str(user.personal_space().id)]
    space = data["bot_space_list"][0]
    assert space["space_type"] == 1 and space["role_type"] == 1 and space["owner_id"] == alice.user_id
    assert data["has_personal_space"] is True and data["team_space_num"] == 0 and data["total"] == 1


def test_get_own_space(alice):
    space_id = str(User.get_by_id(int(alice.user_id)).personal_space().id)
    for value in (space_id, int(space_id)):
        response = alice.post("/api/playground_api/space/info", json={"space_id": value})
        assert response.status_code == 200 and response.json()["data"]["space"]["id"] == space_id


def test_another_users_space_is_not_found(alice, bob):
    bobs = str(User.get_by_id(int(bob.user_id)).personal_space().id)
    assert_error(alice.post("/api/playground_api/space/info", json={"space_id": bobs}), 404, 108000009, bobs)


@pytest.mark.parametrize(
    "body,fragment",
    [
        ({}, "space_id"),
        ({"space_id": "x1"}, "space_id"),
        ({"space_id": -5}, "space_id"),
        ({"space_id": True}, "space_id"),
    ],
)
def test_bad_space_id(alice, body, fragment):
    assert_error(alice.post("/api/playground_api/space/info", json=body), 400, 108000000, fragment)


def test_members_and_roles(alice, bob):
    alice_user = User.get_by_id(int(alice.user_id))
    bob_user = User.get_by_id(int(bob.user_id))
    space = alice_user.personal_space()
    with pytest.raises(errors.ApiError) as denied:
        authz.require_space(bob_user, space.id, "workspace:read")
    assert denied.value.code == 108000009
    SpaceMember.create(space=space.id, user=bob_user.id, role=ROLE_MEMBER)
    assert authz.require_space(bob_user, space.id, "agent:update") == ROLE_MEMBER
    with pytest.raises(errors.ApiError) as manage:
        authz.require_space(bob_user, space.id, "member:create")
    assert manage.value.code == 108000006 and manage.value.status_code == 403
    listed = bob.post("/api/playground_api/space/list").json()["data"]["bot_space_list"]
    assert [s["role_type"] for s in listed if s["id"] == str(space.id)] == [ROLE_MEMBER]


def test_super_admin_reaches_existing_spaces_only(alice):
    admin = User.by_email(ADMIN_EMAIL)
    space = User.get_by_id(int(alice.user_id)).personal_space()
    assert authz.require_space(admin, space.id, "workspace:manage") == 2
    with pytest.raises(errors.ApiError):
        authz.require_space(admin, 12345, "workspace:read")
    assert Space.get_or_none(Space.id == 12345) is None
