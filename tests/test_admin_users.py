"""Administrators' user management through HTTP: listing and searching users, creating them
(with a password to change first), disabling and enabling (at once), and resetting passwords."""

from __future__ import annotations

from conftest import PASSWORD, assert_error, new_email, register

from models.identity import LoginSession, User

BASE = "/api/permission_api/user"


def login(client, email, password):
    response = client.post("/api/passport/web/email/login/", json={"email": email, "password": password})
    client.cookies.clear()
    return response


def test_only_administrators_manage_users(alice, bob):
    for path, body in [
        ("list", {}),
        ("create", {"email": new_email(), "password": "first-password-1"}),
        ("status/update", {"user_id": bob.user_id, "is_disabled": 1}),
        ("reset_password", {"email": bob.email, "new_password": "reset-password-2"}),
    ]:
        assert_error(alice.post(f"{BASE}/{path}", body), 403, 108000006)
    assert User.get_by_id(int(bob.user_id)).is_disabled is False


def test_list_and_search(admin, alice, bob):
    listed = admin.post(f"{BASE}/list", {"keyword": alice.email.split("@")[0], "limit": 10}).json()["data"]
    assert [u["user_id"] for u in listed["users"]] == [alice.user_id] and listed["total"] == 1
    assert listed["users"][0]["email"] == alice.email and listed["has_more"] is False
    admin.post(f"{BASE}/status/update", {"user_id": bob.user_id, "is_disabled": 1})
    disabled = admin.post(f"{BASE}/list", {"is_disabled": 1, "limit": 100}).json()["data"]["users"]
    assert bob.user_id in [u["user_id"] for u in disabled] and alice.user_id not in [
        u["user_id"] for u in disabled
    ]


def test_a_created_user_changes_the_password_first(client, admin):
    email = new_email("colleague")
    made = admin.post(f"{BASE}/create", {"email": email, "password": "first-password-1", "name": "Colleague"})
    assert made.status_code == 200, made.text
    assert made.json()["data"]["user"]["must_change_password"] is True
    assert_error(
        admin.post(f"{BASE}/create", {"email": email, "password": "other-password-1"}), 409, 700000001
    )
    session = login(client, email, "first-password-1").json()["data"]
    assert session["must_change_password"] is True
    headers = {"Authorization": f"Bearer {session['token']}"}
    refused = client.post("/api/playground_api/space/list", headers=headers)
    assert_error(refused, 403, 700000014, "update_password")
    assert client.post("/api/passport/account/info/v2/", headers=headers).status_code == 200
    change = {"old_password": "first-password-1", "new_password": "my-own-password-3"}
    assert client.post("/api/user/update_password", json=change, headers=headers).status_code == 200
    assert User.by_email(email).must_change_password is False
    assert client.post("/api/playground_api/space/list", headers=headers).status_code == 200


def test_disabling_applies_at_once_and_enabling_restores(client, admin, bob):
    assert bob.post("/api/playground_api/space/list").status_code == 200
    off = admin.post(f"{BASE}/status/update", {"user_id": bob.user_id, "is_disabled": 1}).json()["data"]
    assert off["user"]["is_disabled"] is True
    assert_error(bob.post("/api/playground_api/space/list"), 403, 700000009)
    assert_error(login(client, bob.email, PASSWORD), 403, 700000009)
    admin.post(f"{BASE}/status/update", {"user_id": bob.user_id, "is_disabled": 0})
    assert bob.post("/api/playground_api/space/list").status_code == 200
    me = User.by_email(admin.email)
    assert_error(
        admin.post(f"{BASE}/status/update", {"user_id": str(me.id), "is_disabled": 1}), 400, 108000000
    )
    assert_error(admin.post(f"{BASE}/status/update", {"user_id": "123", "is_disabled": 1}), 404, 700000005)
    assert User.get_by_id(me.id).is_disabled is False


def test_reset_password_logs_out_and_asks_for_a_change(client, admin):
    user = register(client)
    assert user.post("/api/playground_api/space/list").status_code == 200
    reset = admin.post(f"{BASE}/reset_password", {"email": user.email, "new_password": "reset-password-2"})
    assert reset.json()["data"]["revoked_sessions"] >= 1
    assert user.post("/api/playground_api/space/list").status_code == 401
    assert (
        LoginSession.select()
        .where(LoginSession.user == int(user.user_id), LoginSession.revoked_at.is_null())
        .count()
        == 0
    )
    assert_error(login(client, user.email, PASSWORD), 401, 700000003)
    session = login(client, user.email, "reset-password-2").json()["data"]
    assert session["must_change_password"] is True
    body = {"email": "nobody@example.com", "new_password": "reset-password-2"}
    assert_error(admin.post(f"{BASE}/reset_password", body), 404, 700000005)
