"""Small request/response helpers for handlers: the body's fields, the client address, cookies."""

from __future__ import annotations

from http.cookies import SimpleCookie

from connexion import request

from core.security import SESSION_COOKIE
from core.settings import get_settings


def given(body: dict, *names: str) -> dict:
    """The fields of `names` the body sends, for a service whose parameters share their wire names
    (an update changes only what is given)."""
    return {name: body[name] for name in names if name in body}


def client_address() -> str:
    client = request.scope.get("client")
    return client[0] if client else ""


def session_cookie(token: str, max_age: int) -> str:
    cookie = SimpleCookie()
    cookie[SESSION_COOKIE] = token
    morsel = cookie[SESSION_COOKIE]
    morsel["path"] = "/"
    morsel["max-age"] = max_age
    morsel["httponly"] = True
    morsel["samesite"] = "Lax"
    if get_settings().cookie_secure:
        morsel["secure"] = True
    return morsel.OutputString()


def cleared_session_cookie() -> str:
    return session_cookie("", 0)
