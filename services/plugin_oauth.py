"""OAuth 2.0 for plugins: the authorization code flow (each end user authorizes; their tokens
are kept, refreshed before they expire, and revoked on request) and client credentials (the
plugin's own token, fetched when needed). Every request to an authorization server goes through
the outbound guard; tokens and client secrets are stored encrypted."""

from __future__ import annotations

import dataclasses
import json
import secrets
import time
from urllib.parse import urlencode

from core import crypto, errors
from core.settings import get_settings
from models.db import write_transaction
from models.plugin import SUB_OAUTH_CLIENT_CREDENTIALS, Plugin, PluginOAuthState, PluginOAuthToken
from services import webfetch

STATE_SECONDS = 600  # an authorization must come back within this
REFRESH_MARGIN = 60  # a token this close to expiry is refreshed before use
APP_HOLDER = "app"
MAX_TOKEN_RESPONSE = 64 * 1024


@dataclasses.dataclass(frozen=True)
class Config:
    client_id: str
    client_secret: str
    authorize_url: str  # Coze's client_url (authorization code only)
    token_url: str  # Coze's authorization_url (code) or token_url (client credentials)
    scope: str = ""
    json_body: bool = False  # authorization_content_type application/json

    @classmethod
    def of(cls, plugin: Plugin) -> Config:
        payload = json.loads(crypto.decrypt(plugin.auth_secret) or "{}")
        return cls(
            payload.get("client_id", ""),
            payload.get("client_secret", ""),
            payload.get("client_url", ""),
            payload.get("authorization_url") or payload.get("token_url", ""),
            payload.get("scope", ""),
            payload.get("authorization_content_type", "") == "application/json",
        )


def holder_of(user_id: int, end_user: str = "", connector_id: int = 0) -> str:
    """Whose token: an Open API end user on a connector, or else the console's user."""
    return f"end:{connector_id}:{end_user}" if end_user else f"user:{user_id}"


def redirect_uri() -> str:
    return f"{get_settings().public_url}/api/oauth/authorization_code"


def authorization_url(plugin: Plugin, holder: str) -> str:
    """Where the holder goes to authorize the plugin (a new single-use state each time)."""
    config = Config.of(plugin)
    state = secrets.token_urlsafe(32)
    PluginOAuthState.create(
        state=state, plugin=plugin.id, holder=holder, expires_at=int(time.time()) + STATE_SECONDS
    )
    query = {
        "response_type": "code",
        "client_id": config.client_id,
        "redirect_uri": redirect_uri(),
        "state": state,
    }
    if config.scope:
        query["scope"] = config.scope
    separator = "&" if "?" in config.authorize_url else "?"
    return f"{config.authorize_url}{separator}{urlencode(query)}"


def _failed(message: str) -> errors.ApiError:
    return errors.PLUGIN_OAUTH_FAILED(message)


def _token_request(config: Config, fields: dict) -> dict:
    """POST to the token endpoint; the token response's JSON, or PLUGIN_OAUTH_FAILED."""
    fields = {**fields, "client_id": config.client_id, "client_secret": config.client_secret}
    if config.json_body:
        body, content_type = json.dumps(fields).encode(), "application/json"
    else:
        body, content_type = urlencode(fields).encode(), "application/x-www-form-urlencoded"
    settings = get_settings()
    try:
        sent = webfetch.send(
            "POST",
            config.token_url,
            headers={"Content-Type": content_type, "Accept": "application/json"},
            body=body,
            max_bytes=MAX_TOKEN_RESPONSE,
            timeout=settings.plugin_timeout_seconds,
            user_agent="cozeplus-plugin-oauth/1.0",
        )
    except webfetch.FetchError as exc:
        raise _failed(f"the token endpoint could not be reached: {exc}")
    try:
        answer = json.loads(sent.response_body)
    except ValueError:
        answer = {}
    if sent.status >= 400 or not isinstance(answer, dict) or not answer.get("access_token"):
        detail = answer.get("error_description") or answer.get("error") if isinstance(answer, dict) else ""
        raise _failed(
            f"the token endpoint answered HTTP {sent.status}" + (f": {str(detail)[:200]}" if detail else "")
        )
    return answer


def _store(
    plugin: Plugin, holder: str, answer: dict, previous: PluginOAuthToken | None = None
) -> PluginOAuthToken:
    expires_in = answer.get("expires_in")
    expires_at = (
        int(time.time()) + int(expires_in) if isinstance(expires_in, int | float) and expires_in > 0 else 0
    )
    refresh = answer.get("refresh_token") or ""
    fields = {
        "access_token": crypto.encrypt(str(answer["access_token"])),
        "refresh_token": crypto.encrypt(str(refresh))
        if refresh
        else (previous.refresh_token if previous else ""),
        "expires_at": expires_at,
        "scope": str(answer.get("scope") or ""),
    }
    with write_transaction():
        found = PluginOAuthToken.get_or_none(plugin=plugin.id, holder=holder)
        if found is not None:
            return found.touch(**fields)
        return PluginOAuthToken.create(plugin=plugin.id, holder=holder, **fields)


def complete(code: str, state: str) -> tuple[Plugin, str]:
    """The callback: the state must be one we gave out, unused and recent; the code is then
    exchanged for the holder's tokens. The plugin and who authorized it."""
    with write_transaction():
        pending = PluginOAuthState.get_or_none(PluginOAuthState.state == state)
        if pending is not None:
            pending.delete_instance()  # used once, whatever happens next
    if pending is None or pending.expires_at < time.time():
        raise _failed("state: this authorization is unknown, used or expired; start it again")
    plugin = Plugin.by_id(pending.plugin_id)
    if plugin is None:
        raise _failed("state: the plugin is gone")
    config = Config.of(plugin)
    answer = _token_request(
        config, {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri()}
    )
    _store(plugin, pending.holder, answer)
    return plugin, pending.holder


def access_token(plugin: Plugin, holder: str) -> str | None:
    """The token the holder's calls carry (refreshed or fetched as needed), or None when the
    holder must authorize first."""
    if plugin.sub_auth_type == SUB_OAUTH_CLIENT_CREDENTIALS:
        holder = APP_HOLDER
    found = PluginOAuthToken.get_or_none(plugin=plugin.id, holder=holder)
    fresh = found is not None and (found.expires_at == 0 or found.expires_at > time.time() + REFRESH_MARGIN)
    if fresh:
        return crypto.decrypt(found.access_token)
    config = Config.of(plugin)
    if plugin.sub_auth_type == SUB_OAUTH_CLIENT_CREDENTIALS:
        fields = {"grant_type": "client_credentials"}
        if config.scope:
            fields["scope"] = config.scope
        return crypto.decrypt(_store(plugin, holder, _token_request(config, fields)).access_token)
    if found is not None and found.refresh_token:
        refresh = crypto.decrypt(found.refresh_token)
        try:
            answer = _token_request(config, {"grant_type": "refresh_token", "refresh_token": refresh})
        except errors.ApiError:
            found.delete_instance()  # refused: the holder authorizes again
            return None
        return crypto.decrypt(_store(plugin, holder, answer, previous=found).access_token)
    if found is not None and found.expires_at and found.expires_at > time.time():
        return crypto.decrypt(found.access_token)  # near expiry with nothing to refresh it: still good
    return None


def authorized(plugin: Plugin, holder: str) -> bool:
    if plugin.sub_auth_type == SUB_OAUTH_CLIENT_CREDENTIALS:
        return True
    found = PluginOAuthToken.get_or_none(plugin=plugin.id, holder=holder)
    return found is not None and (
        found.expires_at == 0 or found.expires_at > time.time() or bool(found.refresh_token)
    )


def revoke(plugin: Plugin, holder: str) -> bool:
    return bool(
        PluginOAuthToken.delete()
        .where((PluginOAuthToken.plugin == plugin.id) & (PluginOAuthToken.holder == holder))
        .execute()
    )
