"""Passport: login, registration, logout, the current account, profile, password, avatar."""

from __future__ import annotations

from connexion.lifecycle import ConnexionResponse

from core import errors
from core.envelope import ok
from core.http import cleared_session_cookie, client_address, session_cookie
from core.security import require_session
from core.settings import get_settings
from services import accounts, avatars
from views.passport import open_user_view, user_view


def _logged_in(user, token: str, expires_at: int):
    data = {**user_view(user), "token": token, "user_id": str(user.id), "expire_at": expires_at}
    data["must_change_password"] = user.must_change_password
    return ok(data), 200, {"Set-Cookie": session_cookie(token, get_settings().jwt_ttl_seconds)}


def email_login(body):
    return _logged_in(*accounts.login(body["email"], body["password"], client_address()))


def email_login_seed(body):
    """The seed's login path (the Coze console's is email_login)."""
    return email_login(body)


def email_register(body):
    return _logged_in(*accounts.register(body["email"], body["password"], body.get("name"), client_address()))


def logout(token_info):
    if token_info["scheme"] != "session":
        raise errors.NOT_A_SESSION("a personal access token is not a login session; delete it instead")
    accounts.logout(token_info["jti"])
    return ok({"redirect_url": ""}), 200, {"Set-Cookie": cleared_session_cookie()}


def logout_post(token_info):
    """Logout by POST, as consoles send it."""
    return logout(token_info)


# No I/O (security has loaded the user), so on the event loop: a hop to the thread pool would be
# most of such a request's cost.
async def account_info(token_info, body=None):
    return ok(user_view(token_info["user"]))


def update_profile(token_info, body):
    return ok(user_view(accounts.update_profile(token_info["user"], body)))


def update_password(token_info, body):
    require_session(token_info, "changing the password")
    revoked = accounts.change_password(
        token_info["user"], body["old_password"], body["new_password"], keep_jti=token_info.get("jti")
    )
    return ok({"revoked_sessions": revoked})


def upload_avatar(token_info, avatar):
    url = avatars.store_avatar(token_info["user"], avatar.file, get_settings().max_avatar_bytes)
    return ok({"web_uri": url})


def get_avatar(avatar_key):
    content, media_type = avatars.read_avatar(avatar_key)
    return ConnexionResponse(
        status_code=200,
        body=content,
        mimetype=media_type,
        content_type=media_type,
        headers={"Cache-Control": "public, max-age=86400"},
    )


async def users_me(token_info):  # no I/O, as account_info
    return ok(open_user_view(token_info["user"]))
