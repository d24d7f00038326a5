"""Personal access tokens: create (shown once, hashed), list, get, rename, delete, expiry, isolation."""

from __future__ import annotations

import hashlib
import re
import time

import pytest
from conftest import assert_error

from models.identity import PersonalAccessToken

BASE = "/api/permission_api/pat/"


def create(account, **body):
    response = account.post(
        BASE + "create_personal_access_token_and_permission", json={"name": "token", **body}
    )
    assert response.status_code == 200, response.text
    return response.json()["data"]


class TestCreate:
    def test_token_is_shown_once_and_stored_hashed(self, alice):
        data = create(alice, name="ci")
        token = data["token"]
        assert re.fullmatch(r"pat_[0-9a-f]{64}", token)
        row = PersonalAccessToken.get_by_id(int(data["personal_access_token"]["id"]))
        assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
        assert token not in str(row.__data__)
        listed = alice.get(BASE + "list_personal_access_tokens").text
        assert token not in listed and row.token_hash not in listed

    def test_default_expiry_is_30_days(self, alice):
        pat = create(alice)["personal_access_token"]
        assert abs(pat["expire_at"] - (time.time() + 30 * 86400)) < 5
        assert pat["last_used_at"] == -1 and pat["expired"] is False

    @pytest.mark.parametrize(
        "body,expected",
        [
            ({"duration_day": "1"}, 86400),
            ({"duration_day": "365"}, 365 * 86400),
            ({"duration_day": "permanent"}, None),
        ],
    )
    def test_durations(self, alice, body, expected):
        pat = create(alice, **body)["personal_access_token"]
        if expected is None:
            assert pat["expire_at"] == -1
        else:
            assert abs(pat["expire_at"] - (time.time() + expected)) < 5

    def test_customize(self, alice):
        at = int(time.time()) + 3600
        assert (
            create(alice, duration_day="customize", expire_at=at)["personal_access_token"]["expire_at"] == at
        )

    @pytest.mark.parametrize(
        "body,fragment",
        [
            ({"name": ""}, "name"),
            ({"name": "   "}, "name"),
            ({}, "name"),
            ({"name": "x", "duration_day": "customize"}, "expire_at"),
            ({"name": "x", "duration_day": "customize", "expire_at": 5}, "expire_at"),
            ({"name": "x", "duration_day": "0"}, "duration_day"),
            ({"name": "x", "duration_day": "forever"}, "duration_day"),
            ({"name": "x", "duration_day": "99999"}, "duration_day"),
            ({"name": "x" * 101}, "name"),
        ],
    )
    def test_bad_input_creates_nothing(self, alice, body, fragment):
        before = PersonalAccessToken.select().count()
        response = alice.post(BASE + "create_personal_access_token_and_permission", json=body)
        assert_error(response, 400, 108000000, fragment)
        assert PersonalAccessToken.select().count() == before


class TestUse:
    def test_pat_authenticates_and_records_last_use(self, client, alice):
        data = create(alice)
        headers = {"Authorization": f"Bearer {data['token']}"}
        response = client.post("/api/passport/account/info/v2/", headers=headers)
        assert response.status_code == 200 and response.json()["data"]["user_id_str"] == alice.user_id
        row = PersonalAccessToken.get_by_id(int(data["personal_access_token"]["id"]))
        assert abs(row.last_used_at - time.time()) < 5

    def test_expired_pat_is_refused(self, client, alice):
        data = create(alice)
        PersonalAccessToken.update(expire_at=int(time.time()) - 1).where(
            PersonalAccessToken.id == int(data["personal_access_token"]["id"])
        ).execute()
        response = client.post(
            "/api/passport/account/info/v2/", headers={"Authorization": f"Bearer {data['token']}"}
        )
        assert_error(response, 401, 700012006, "expired")

    def test_deleted_pat_is_refused(self, client, alice):
        data = create(alice)
        alice.post(
            BASE + "delete_personal_access_token_and_permission",
            json={"id": data["personal_access_token"]["id"]},
        )
        response = client.post(
            "/api/passport/account/info/v2/", headers={"Authorization": f"Bearer {data['token']}"}
        )
        assert_error(response, 401, 700012006, "unknown")

    @pytest.mark.parametrize("token", ["pat_" + "0" * 64, "pat_short", "pat_"])
    def test_unknown_pat(self, client, token):
        response = client.post("/api/passport/account/info/v2/", headers={"Authorization": f"Bearer {token}"})
        assert_error(response, 401, 700012006)


class TestManage:
    def test_list_pages_newest_first(self, alice):
        ids = [create(alice, name=f"t{i}")["personal_access_token"]["id"] for i in range(3)]
        page1 = alice.get(BASE + "list_personal_access_tokens", params={"page": 1, "size": 2}).json()["data"]
        page2 = alice.get(BASE + "list_personal_access_tokens", params={"page": 2, "size": 2}).json()["data"]
        assert [p["id"] for p in page1["personal_access_tokens"]] == ids[::-1][:2]
        assert page1["has_more"] is True and page1["total"] == 3
        assert [p["id"] for p in page2["personal_access_tokens"]] == ids[:1]
        assert page2["has_more"] is False

    @pytest.mark.parametrize("params", [{"page": 0}, {"size": 101}, {"size": "x"}, {"sort": "name"}])
    def test_list_bad_params(self, alice, params):
        response = alice.get(BASE + "list_personal_access_tokens", params=params)
        assert_error(response, 400, 108000000, next(iter(params)))

    def test_get_rename_delete(self, alice):
        pat_id = create(alice, name="old")["personal_access_token"]["id"]
        got = alice.get(BASE + "get_personal_access_token_and_permission", params={"id": pat_id})
        assert got.json()["data"]["personal_access_token"]["name"] == "old"
        renamed = alice.post(
            BASE + "update_personal_access_token_and_permission", json={"id": int(pat_id), "name": "new"}
        )
        assert renamed.json()["data"]["personal_access_token"]["name"] == "new"
        assert PersonalAccessToken.get_by_id(int(pat_id)).name == "new"
        deleted = alice.post(BASE + "delete_personal_access_token_and_permission", json={"id": pat_id})
        assert deleted.status_code == 200 and deleted.json() == {"code": 0, "msg": "success", "data": None}
        assert PersonalAccessToken.get_or_none(PersonalAccessToken.id == int(pat_id)) is None
        assert_error(
            alice.get(BASE + "get_personal_access_token_and_permission", params={"id": pat_id}),
            404,
            108000008,
            pat_id,
        )

    def test_another_users_pat_is_invisible(self, client, alice, bob):
        data = create(alice, name="alice-only")
        pat_id = data["personal_access_token"]["id"]
        assert_error(
            bob.get(BASE + "get_personal_access_token_and_permission", params={"id": pat_id}), 404, 108000008
        )
        assert_error(
            bob.post(
                BASE + "update_personal_access_token_and_permission", json={"id": pat_id, "name": "stolen"}
            ),
            404,
            108000008,
        )
        assert_error(
            bob.post(BASE + "delete_personal_access_token_and_permission", json={"id": pat_id}),
            404,
            108000008,
        )
        listed = bob.get(BASE + "list_personal_access_tokens").json()["data"]["personal_access_tokens"]
        assert pat_id not in [p["id"] for p in listed]
        row = PersonalAccessToken.get_by_id(int(pat_id))
        assert row.name == "alice-only"
        # Alice's PAT acts as Alice, never as Bob
        me = client.post(
            "/api/passport/account/info/v2/", headers={"Authorization": f"Bearer {data['token']}"}
        ).json()["data"]
        assert me["user_id_str"] == alice.user_id

    @pytest.mark.parametrize("pat_id", ["abc", "-1", "1" * 25])
    def test_bad_ids(self, alice, pat_id):
        response = alice.get(BASE + "get_personal_access_token_and_permission", params={"id": pat_id})
        assert_error(response, 400, 108000000, "id")


def test_a_personal_access_token_cannot_mint_tokens_or_change_the_password(client, alice):
    """Otherwise a leaked token would outlive its deletion (a fresh token, or the account)."""
    from models.identity import User

    token = create(alice, name="leaked")["token"]
    leaked = {"Authorization": f"Bearer {token}"}
    before = PersonalAccessToken.select().where(PersonalAccessToken.user == int(alice.user_id)).count()
    response = client.post(
        "/api/permission_api/pat/create_personal_access_token_and_permission",
        json={"name": "spawn", "duration_day": "permanent"},
        headers=leaked,
    )
    assert_error(response, 403, 700000013, "login session")
    assert (
        PersonalAccessToken.select().where(PersonalAccessToken.user == int(alice.user_id)).count() == before
    )
    password_hash = User.get_by_id(int(alice.user_id)).password_hash
    response = client.post(
        "/api/user/update_password",
        headers=leaked,
        json={"old_password": alice.password, "new_password": "taken-over-123"},
    )
    assert_error(response, 403, 700000013, "login session")
    assert User.get_by_id(int(alice.user_id)).password_hash == password_hash
    pat_id = PersonalAccessToken.get(
        PersonalAccessToken.name == "leaked", PersonalAccessToken.user == int(alice.user_id)
    ).id
    assert (
        alice.post(
            "/api/permission_api/pat/delete_personal_access_token_and_permission", {"id": str(pat_id)}
        ).status_code
        == 200
    )
    assert client.post("/api/passport/account/info/v2/", headers=leaked).status_code == 401
