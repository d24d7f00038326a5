"""Passport: login (both paths), registration, logout, account info, profile, password, avatar."""

from __future__ import annotations

import time

import jwt
import pytest
from conftest import ADMIN_EMAIL, ADMIN_PASSWORD, PASSWORD, assert_error, new_email, register

from core.settings import get_settings
from models.identity import LoginSession, Space, SpaceMember, User


class TestLogin:
    @pytest.mark.parametrize(
        "path", ["/passport/web/email/login/", "/api/passport/web/email/login/", "/passport/web/email/login"]
    )
    def test_seed_login_returns_token_and_user_id(self, client, path):
        response = client.post(path, json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
        assert response.status_code == 200, response.text
        data = response.json()["data"]
        assert response.json()["code"] == 0 and response.json()["msg"] == "success"
        admin = User.by_email(ADMIN_EMAIL)
        assert data["user_id"] == str(admin.id) and data["email"] == ADMIN_EMAIL
        assert data["is_super_admin"] is True
        claims = jwt.decode(data["token"], get_settings().secret_key, algorithms=["HS256"])
        assert claims["sub"] == str(admin.id) and claims["exp"] == data["expire_at"]
        assert LoginSession.get(LoginSession.jti == claims["jti"]).revoked_at is None
        cookie = response.headers["set-cookie"]
        assert cookie.startswith(f"session_key={data['token']}") and "HttpOnly" in cookie
        assert "SameSite=Lax" in cookie

    def test_email_is_case_insensitive(self, client):
        response = client.post(
            "/api/passport/web/email/login/", json={"email": ADMIN_EMAIL.upper(), "password": ADMIN_PASSWORD}
        )
        assert response.status_code == 200

    def test_wrong_password_and_unknown_email_look_the_same(self, client):
        sessions_before = LoginSession.select().count()
        wrong = client.post(
            "/api/passport/web/email/login/", json={"email": ADMIN_EMAIL, "password": "not-the-password"}
        )
        unknown = client.post(
            "/api/passport/web/email/login/", json={"email": new_email("ghost"), "password": "whatever-1"}
        )
        for response in (wrong, unknown):
            assert_error(response, 401, 700000003, "invalid e-mail or password")
            assert "set-cookie" not in response.headers
        assert LoginSession.select().count() == sessions_before

    @pytest.mark.parametrize(
        "body,field",
        [
            ({"email": ADMIN_EMAIL}, "password"),
            ({"password": "x"}, "email"),
            ({"email": 5, "password": "x"}, "email"),
            ({"email": "not-an-email", "password": "x"}, "email"),
            ({"email": ADMIN_EMAIL, "password": ""}, "password"),
            ({"email": ADMIN_EMAIL, "password": "x", "admin": True}, "admin"),
        ],
    )
    def test_bad_body_names_the_field(self, client, body, field):
        assert_error(client.post("/api/passport/web/email/login/", json=body), 400, 700000006, field)

    def test_malformed_json(self, client):
        response = client.post(
            "/api/passport/web/email/login/",
            content=b'{"email": ',
            headers={"Content-Type": "application/json"},
        )
        assert_error(response, 400, 700000006)

    def test_wrong_content_type(self, client):
        response = client.post(
            "/api/passport/web/email/login/", content=b"email=a", headers={"Content-Type": "text/plain"}
        )
        assert_error(response, 415, 4115, "text/plain")

    def test_repeated_failures_are_throttled_per_email(self, client, settings_override):
        settings_override(login_max_failures_per_email=3)
        email = register(client).email
        for _ in range(3):
            assert (
                client.post(
                    "/api/passport/web/email/login/", json={"email": email, "password": "wrong-pass"}
                ).status_code
                == 401
            )
        # now even the right password waits: the attacker learns nothing
        response = client.post("/api/passport/web/email/login/", json={"email": email, "password": PASSWORD})
        assert_error(response, 429, 700000010, "retry in")
        assert 0 < int(response.headers["retry-after"]) <= get_settings().login_failure_window_seconds
        # another e-mail from the same address is not affected by this e-mail's counter
        assert (
            client.post(
                "/api/passport/web/email/login/", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
            ).status_code
            == 200
        )

    def test_repeated_failures_are_throttled_per_address(self, client, settings_override):
        settings_override(login_max_failures_per_address=4)
        for _ in range(4):
            client.post(
                "/api/passport/web/email/login/", json={"email": new_email("spray"), "password": "wrong-pass"}
            )
        response = client.post(
            "/api/passport/web/email/login/", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
        )
        assert_error(response, 429, 700000010)

    def test_success_resets_the_email_counter(self, client, settings_override):
        settings_override(login_max_failures_per_email=3)
        email = register(client).email
        login = lambda password: client.post(  # noqa: E731
            "/api/passport/web/email/login/", json={"email": email, "password": password}
        )
        for _ in range(2):  # twice two failures: without the reset the fourth would be refused
            for _ in range(2):
                login("wrong-pass")
            assert login(PASSWORD).status_code == 200

    def test_disabled_account_cannot_log_in_or_use_tokens(self, client):
        account = register(client)
        User.update(is_disabled=True).where(User.email == account.email).execute()
        try:
            assert_error(
                client.post(
                    "/api/passport/web/email/login/", json={"email": account.email, "password": PASSWORD}
                ),
                403,
                700000009,
            )
            assert_error(account.post("/api/passport/account/info/v2/"), 403, 700000009)
        finally:
            User.update(is_disabled=False).where(User.email == account.email).execute()


class TestRegister:
    def test_creates_user_personal_space_and_session(self, client):
        email = new_email("reg")
        response = client.post(
            "/api/passport/web/email/register/v2/",
            json={"email": email.upper(), "password": PASSWORD, "name": "Reg"},
        )
        assert response.status_code == 200, response.text
        data = response.json()["data"]
        user = User.by_email(email)
        assert data["user_id"] == str(user.id) and data["name"] == "Reg" and data["email"] == email
        assert user.password_hash.startswith("$argon2id$") and PASSWORD not in user.password_hash
        space = user.personal_space()
        assert SpaceMember.role_of(space.id, user.id) == 1
        assert (
            client.post(
                "/api/passport/account/info/v2/", headers={"Authorization": f"Bearer {data['token']}"}
            ).json()["data"]["email"]
            == email
        )

    def test_duplicate_email_conflicts_and_changes_nothing(self, client, alice):
        users = User.select().count()
        response = client.post(
            "/api/passport/web/email/register/v2/", json={"email": alice.email, "password": "another-pass-1"}
        )
        assert_error(response, 409, 700000001, alice.email)
        assert User.select().count() == users

    def test_short_password(self, client):
        email = new_email()
        response = client.post(
            "/api/passport/web/email/register/v2/", json={"email": email, "password": "short"}
        )
        assert_error(response, 400, 700000006, "password")
        assert User.by_email(email) is None

    def test_closed(self, client, settings_override):
        settings_override(registration="closed")
        email = new_email()
        response = client.post(
            "/api/passport/web/email/register/v2/", json={"email": email, "password": PASSWORD}
        )
        assert_error(response, 403, 700000008, "closed")
        assert User.by_email(email) is None

    def test_limited_to_domains(self, client, settings_override):
        settings_override(registration_email_domains=("corp.example",))
        response = client.post(
            "/api/passport/web/email/register/v2/", json={"email": new_email(), "password": PASSWORD}
        )
        assert_error(response, 403, 700000008, "corp.example")
        ok = client.post(
            "/api/passport/web/email/register/v2/",
            json={"email": f"someone{time.time_ns()}@corp.example", "password": PASSWORD},
        )
        assert ok.status_code == 200


class TestLogoutAndTokens:
    def test_logout_revokes_the_session(self, client, alice):
        response = alice.get("/api/passport/web/logout/")
        assert response.status_code == 200 and response.json()["data"] == {"redirect_url": ""}
        assert "Max-Age=0" in response.headers["set-cookie"]
        claims = jwt.decode(alice.token, options={"verify_signature": False})
        assert LoginSession.get(LoginSession.jti == claims["jti"]).revoked_at is not None
        assert_error(alice.post("/api/passport/account/info/v2/"), 401, 700012006, "revoked")

    def test_logout_with_post_and_without_slash(self, client, alice):
        assert alice.post("/api/passport/web/logout").status_code == 200
        assert alice.post("/api/passport/account/info/v2/").status_code == 401

    def test_logout_with_a_pat_is_refused(self, client, alice):
        pat = alice.post(
            "/api/permission_api/pat/create_personal_access_token_and_permission", json={"name": "p"}
        ).json()["data"]["token"]
        response = client.get("/api/passport/web/logout/", headers={"Authorization": f"Bearer {pat}"})
        assert_error(response, 400, 700000012)
        assert (
            client.post(
                "/api/passport/account/info/v2/", headers={"Authorization": f"Bearer {pat}"}
            ).status_code
            == 200
        )

    def test_cookie_authenticates(self, client):
        login = client.post(
            "/api/passport/web/email/login/", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
        )
        assert client.cookies.get("session_key") == login.json()["data"]["token"]
        response = client.post("/api/passport/account/info/v2/")
        assert response.status_code == 200 and response.json()["data"]["email"] == ADMIN_EMAIL
        client.get("/api/passport/web/logout/")
        client.cookies.set("session_key", login.json()["data"]["token"])
        assert_error(client.post("/api/passport/account/info/v2/"), 401, 700012006)

    def test_missing_credentials(self, client):
        assert_error(client.post("/api/passport/account/info/v2/"), 401, 4100)

    def _forge(self, claims, key=None, algorithm="HS256"):
        return jwt.encode(claims, key or get_settings().secret_key, algorithm=algorithm)

    def test_expired_token(self, client, alice):
        claims = jwt.decode(alice.token, options={"verify_signature": False})
        expired = self._forge({**claims, "exp": int(time.time()) - 10})
        response = client.post(
            "/api/passport/account/info/v2/", headers={"Authorization": f"Bearer {expired}"}
        )
        assert_error(response, 401, 700012006, "expired")

    def test_tampered_token(self, client, alice):
        header, payload, signature = alice.token.split(".")
        claims = jwt.decode(alice.token, options={"verify_signature": False})
        other = self._forge({**claims, "sub": "1"}).split(".")[1]
        for token in (
            f"{header}.{other}.{signature}",
            alice.token[:-2] + "xx",
            self._forge(claims, key="another-secret-entirely-32-bytes!"),
        ):
            response = client.post(
                "/api/passport/account/info/v2/", headers={"Authorization": f"Bearer {token}"}
            )
            assert_error(response, 401, 700012006, "not valid")

    def test_alg_none_token(self, client, alice):
        claims = jwt.decode(alice.token, options={"verify_signature": False})
        unsigned = jwt.encode(claims, None, algorithm="none")
        response = client.post(
            "/api/passport/account/info/v2/", headers={"Authorization": f"Bearer {unsigned}"}
        )
        assert_error(response, 401, 700012006)

    def test_token_for_unknown_session(self, client, alice):
        claims = jwt.decode(alice.token, options={"verify_signature": False})
        forged = self._forge({**claims, "jti": "0" * 32})
        response = client.post(
            "/api/passport/account/info/v2/", headers={"Authorization": f"Bearer {forged}"}
        )
        assert_error(response, 401, 700012006)

    @pytest.mark.parametrize("header", ["Bearer", "Basic YTpi", "Bearer a b", "garbage"])
    def test_malformed_authorization_header(self, client, header):
        response = client.post("/api/passport/account/info/v2/", headers={"Authorization": header})
        assert response.status_code == 401 and response.json()["code"] in (4100, 700012006)


class TestProfile:
    def test_account_info_accepts_empty_body_and_empty_object(self, alice):
        for kwargs in ({}, {"json": {}}):
            response = alice.post("/api/passport/account/info/v2/", **kwargs)
            assert response.status_code == 200
            assert response.json()["data"]["user_id_str"] == alice.user_id

    def test_update_profile(self, alice):
        response = alice.post(
            "/api/user/update_profile",
            json={
                "name": "Alice A",
                "user_unique_name": f"alice_{alice.user_id}",
                "description": "hi",
                "locale": "en-US",
            },
        )
        assert response.status_code == 200, response.text
        user = User.get_by_id(int(alice.user_id))
        assert (user.name, user.unique_name, user.description, user.locale) == (
            "Alice A",
            f"alice_{alice.user_id}",
            "hi",
            "en-US",
        )
        assert response.json()["data"]["user_unique_name"] == user.unique_name
        alice.post("/api/user/update_profile", json={"description": "only this"})
        user = User.get_by_id(int(alice.user_id))
        assert user.name == "Alice A" and user.description == "only this"

    def test_taken_unique_name(self, alice, bob):
        alice.post("/api/user/update_profile", json={"user_unique_name": f"taken_{alice.user_id}"})
        response = bob.post(
            "/api/user/update_profile", json={"user_unique_name": f"TAKEN_{alice.user_id}", "name": "Bob!"}
        )
        assert_error(response, 409, 700000002, "user_unique_name")
        assert User.get_by_id(int(bob.user_id)).name != "Bob!"

    @pytest.mark.parametrize(
        "body,field",
        [
            ({"name": ""}, "name"),
            ({"name": 3}, "name"),
            ({"user_unique_name": "a b"}, "user_unique_name"),
            ({"email": "x@y.z"}, "email"),
        ],
    )
    def test_bad_profile_fields(self, alice, body, field):
        assert_error(alice.post("/api/user/update_profile", json=body), 400, 700000006, field)


class TestPassword:
    def test_change_password_revokes_other_sessions(self, client, alice):
        other = client.post(
            "/api/passport/web/email/login/", json={"email": alice.email, "password": PASSWORD}
        ).json()["data"]["token"]
        client.cookies.clear()
        response = alice.post(
            "/api/user/update_password", json={"old_password": PASSWORD, "new_password": "brand-new-pass-2"}
        )
        assert response.status_code == 200 and response.json()["data"]["revoked_sessions"] == 1
        assert alice.post("/api/passport/account/info/v2/").status_code == 200
        assert (
            client.post(
                "/api/passport/account/info/v2/", headers={"Authorization": f"Bearer {other}"}
            ).status_code
            == 401
        )
        assert (
            client.post(
                "/api/passport/web/email/login/", json={"email": alice.email, "password": PASSWORD}
            ).status_code
            == 401
        )
        assert (
            client.post(
                "/api/passport/web/email/login/", json={"email": alice.email, "password": "brand-new-pass-2"}
            ).status_code
            == 200
        )

    def test_wrong_old_password_changes_nothing(self, alice):
        before = User.get_by_id(int(alice.user_id)).password_hash
        response = alice.post(
            "/api/user/update_password",
            json={"old_password": "wrong-one", "new_password": "brand-new-pass-2"},
        )
        assert_error(response, 403, 700000011, "old_password")
        assert User.get_by_id(int(alice.user_id)).password_hash == before

    def test_short_new_password(self, alice):
        response = alice.post(
            "/api/user/update_password", json={"old_password": PASSWORD, "new_password": "short"}
        )
        assert_error(response, 400, 700000006, "new_password")


PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
WEBP = b"RIFF\x24\x00\x00\x00WEBPVP8 " + b"\x00" * 32


class TestAvatar:
    @pytest.mark.parametrize(
        "content,ext,media",
        [
            (PNG, "png", "image/png"),
            (WEBP, "webp", "image/webp"),
            (b"GIF89a" + b"\x00" * 20, "gif", "image/gif"),
        ],
    )
    def test_upload_and_fetch(self, client, alice, content, ext, media):
        response = alice.post(
            "/api/web/user/update/upload_avatar/",
            files={"avatar": ("../../etc/passwd", content, "text/plain")},
        )
        assert response.status_code == 200, response.text
        url = response.json()["data"]["web_uri"]
        assert url.endswith(f".{ext}") and "passwd" not in url
        info = alice.post("/api/passport/account/info/v2/").json()["data"]
        assert info["avatar_url"] == url
        image = client.get(url)
        assert image.status_code == 200 and image.content == content
        assert image.headers["content-type"] == media

    def test_replacing_removes_the_old_file(self, client, alice):
        first = alice.post(
            "/api/web/user/update/upload_avatar/", files={"avatar": ("a.png", PNG, "image/png")}
        ).json()["data"]["web_uri"]
        alice.post("/api/web/user/update/upload_avatar/", files={"avatar": ("b.png", PNG, "image/png")})
        assert_error(client.get(first), 404, 104000009)

    def test_not_an_image(self, alice):
        response = alice.post(
            "/api/web/user/update/upload_avatar/",
            files={"avatar": ("evil.png", b"<?php system($_GET[1]);", "image/png")},
        )
        assert_error(response, 415, 104000008)
        assert User.get_by_id(int(alice.user_id)).avatar_key is None

    def test_too_large(self, alice, settings_override):
        settings_override(max_avatar_bytes=100)
        response = alice.post(
            "/api/web/user/update/upload_avatar/",
            files={"avatar": ("a.png", PNG + b"\x00" * 200, "image/png")},
        )
        assert_error(response, 413, 104000004)

    def test_missing_field(self, alice):
        response = alice.post(
            "/api/web/user/update/upload_avatar/", files={"picture": ("a.png", PNG, "image/png")}
        )
        assert_error(response, 400, 700000006, "picture")
        response = alice.post(
            "/api/web/user/update/upload_avatar/",
            data={},
            files={"other": ("", b"", "application/octet-stream")},
        )
        assert response.status_code == 400

    @pytest.mark.parametrize("key", ["..%2F..%2Fsecret_key", "123.exe", "abc.png"])
    def test_bad_keys(self, client, key):
        assert client.get(f"/api/user/avatar/{key}").status_code in (400, 404)

    def test_unknown_avatar(self, client):
        assert_error(client.get("/api/user/avatar/1.png"), 404, 104000009)


def test_admin_exists_with_personal_space():
    admin = User.by_email(ADMIN_EMAIL)
    assert admin.is_super_admin
    assert Space.select().where(Space.owner == admin.id).count() == 1


def test_a_cached_token_still_expires(client, alice, monkeypatch):
    """The verified-token cache must not outlive the token's exp."""
    import core.security as security

    assert alice.post("/api/passport/account/info/v2/").status_code == 200  # now cached
    claims = jwt.decode(alice.token, options={"verify_signature": False})
    monkeypatch.setattr(security.time, "time", lambda: claims["exp"] + 1)
    assert_error(alice.post("/api/passport/account/info/v2/"), 401, 700012006, "expired")


class TestLockoutCannotBeTurnedAgainstTheOwner:
    """Through a real server, with two loopback source addresses: 127.0.0.2 attacks, 127.0.0.1
    is the owner (the addresses the server sees on its sockets)."""

    @staticmethod
    def client_from(address: str):
        import httpx

        return httpx.Client(transport=httpx.HTTPTransport(local_address=address), timeout=10)

    def register_from(self, base, address, email):
        with self.client_from(address) as http:
            response = http.post(
                f"{base}/api/passport/web/email/register/v2/", json={"email": email, "password": PASSWORD}
            )
            assert response.status_code == 200, response.text

    def login(self, base, address, email, password):
        with self.client_from(address) as http:
            return http.post(
                f"{base}/api/passport/web/email/login/", json={"email": email, "password": password}
            )

    def test_an_attacker_locks_only_their_own_address(self, live_server):
        email = new_email("owner")
        self.register_from(live_server, "127.0.0.1", email)
        statuses = [self.login(live_server, "127.0.0.2", email, f"guess-{i}").status_code for i in range(30)]
        assert statuses[:5] == [401] * 5 and set(statuses[5:]) == {429}
        # the attacker's address is refused even with the right password ...
        assert self.login(live_server, "127.0.0.2", email, PASSWORD).status_code == 429
        # ... and the owner, from an address without failures, logs in at once
        response = self.login(live_server, "127.0.0.1", email, PASSWORD)
        assert response.status_code == 200, response.text
        assert response.json()["data"]["token"]

    def test_an_unregistered_email_cannot_be_locked_in_advance(self, live_server):
        email = new_email("future")
        for i in range(8):
            self.login(live_server, "127.0.0.2", email, f"guess-{i}")
        self.register_from(live_server, "127.0.0.1", email)
        assert self.login(live_server, "127.0.0.1", email, PASSWORD).status_code == 200

    def test_failing_addresses_are_slowed_per_email_but_a_clean_one_is_not(self, live_server):
        email = new_email("paced")
        self.register_from(live_server, "127.0.0.1", email)
        for address in ("127.0.0.4", "127.0.0.5"):  # three each: under the per-address-and-e-mail limit
            assert [self.login(live_server, address, email, "wrong-pass").status_code for _ in range(3)] == [
                401
            ] * 3
        paced = self.login(live_server, "127.0.0.4", email, PASSWORD)
        assert paced.status_code == 429 and 0 < int(paced.headers["retry-after"]) <= 60
        assert self.login(live_server, "127.0.0.1", email, PASSWORD).status_code == 200
