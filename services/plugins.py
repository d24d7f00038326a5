"""Plugins (Coze's /api/plugin_api/*): registered from a manifest and an OpenAPI document, their
tools listed and debugged, and (services/agent_plugins) called by agents in chat.

The manifest's auth is kept apart from it: the type, where a service token goes, and the secret
itself encrypted at rest (core.crypto). Secrets are shown masked, and a masked value sent back
keeps the stored one."""

from __future__ import annotations

import dataclasses
import json
import re
import time

from peewee import fn

from core import authz, crypto, errors
from core.ids import parse_id
from models import paging
from models.db import write_transaction
from models.identity import User
from models.plugin import (
    AUTH_NONE,
    AUTH_OAUTH,
    AUTH_SERVICE,
    DEBUG_PASSED,
    LOCATION_HEADER,
    LOCATION_QUERY,
    SUB_OAUTH_CLIENT_CREDENTIALS,
    SUB_OAUTH_CODE,
    SUB_TOKEN,
    TYPE_MCP,
    TYPE_OPENAPI,
    Plugin,
    PluginTool,
    PluginVersion,
)
from services import plugin_calls, plugin_docs, plugin_mcp, plugin_oauth, projects, refs

MAX_MANIFEST = 64 * 1024
MODEL_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}")
MASK = plugin_calls.SECRET_SHOWN


def load(user: User, plugin_id, action: str = authz.READ, *, field: str = "plugin_id") -> Plugin:
    return refs.one(user, refs.PLUGIN, plugin_id, action, field=field)


def tool_of(plugin: Plugin, api_id, *, field: str = "api_id") -> PluginTool:
    return refs.under(refs.PLUGIN_TOOL, api_id, PluginTool.plugin == plugin.id, field=field)


def masked(secret: str) -> str:
    return MASK if secret else ""


# --- the manifest ------------------------------------------------------------------------------


@dataclasses.dataclass
class Auth:
    type: int = AUTH_NONE
    sub_type: int = SUB_TOKEN
    location: int = LOCATION_HEADER
    key: str = ""
    secret: str = ""  # plain text here; encrypted when stored


def manifest_of(text: str, where: str = "ai_plugin") -> tuple[dict, Auth]:
    """The manifest (its auth payload left out) and the auth it describes."""
    invalid = errors.PLUGIN_MANIFEST_INVALID
    if not isinstance(text, str) or len(text.encode()) > MAX_MANIFEST:
        raise invalid(f"{where}: a JSON object of at most {MAX_MANIFEST // 1024} KB")
    try:
        manifest = json.loads(text)
    except ValueError as exc:
        raise invalid(f"{where}: not JSON ({exc})")
    if not isinstance(manifest, dict):
        raise invalid(f"{where}: must be a JSON object")
    for key in ("name_for_human", "description_for_human", "description_for_model"):
        if not isinstance(manifest.get(key), str) or not manifest[key].strip():
            raise invalid(f"{where}.{key}: required")
    if not MODEL_NAME.fullmatch(str(manifest.get("name_for_model") or "")):
        raise invalid(f"{where}.name_for_model: a letter, then letters, digits and _ (at most 64)")
    api = manifest.get("api") or {"type": "openapi"}
    if not isinstance(api, dict) or api.get("type", "openapi") not in ("openapi", plugin_mcp.MCP_TYPE):
        raise invalid(f"{where}.api.type: openapi, or {plugin_mcp.MCP_TYPE} for an MCP server")
    auth = _auth_of(manifest.get("auth") or {"type": "none"}, f"{where}.auth")
    if plugin_mcp.is_mcp(manifest):
        plugin_mcp.server_of(manifest, where)
        if auth.type == AUTH_OAUTH:
            raise invalid(f"{where}.auth.type: none or service_http for an MCP server (or send headers)")
    kept = {k: v for k, v in manifest.items() if k != "auth"}
    kept["auth"] = {"type": (manifest.get("auth") or {}).get("type", "none")}
    return kept, auth


def _auth_of(auth, where: str) -> Auth:
    invalid = errors.PLUGIN_MANIFEST_INVALID
    if not isinstance(auth, dict):
        raise invalid(f"{where}: must be an object")
    kind = auth.get("type", "none")
    if kind == "none":
        return Auth()
    if kind == "service_http":
        payload = _payload_of(auth, where)
        merged = {k: auth[k] for k in ("location", "key", "service_token") if k in auth} | payload
        location = str(merged.get("location") or "header").lower()
        if location not in ("header", "query"):
            raise invalid(f"{where}.payload.location: header or query")
        key, token = merged.get("key"), merged.get("service_token")
        if not isinstance(key, str) or not key.strip():
            raise invalid(f"{where}.payload.key: the header or query parameter the token goes in")
        if not isinstance(token, str) or not token:
            raise invalid(f"{where}.payload.service_token: required")
        return Auth(
            AUTH_SERVICE, SUB_TOKEN, LOCATION_QUERY if location == "query" else LOCATION_HEADER, key, token
        )
    if kind == "oauth":
        return _oauth_of(auth, where)
    raise invalid(f"{where}.type: none, service_http or oauth")


def _payload_of(auth: dict, where: str) -> dict:
    """Coze's auth payload: an object, or the same as a JSON string."""
    invalid = errors.PLUGIN_MANIFEST_INVALID
    payload = auth.get("payload") or {}
    if isinstance(payload, str):
        try:
            payload = json.loads(payload) if payload.strip() else {}
        except ValueError:
            raise invalid(f"{where}.payload: not JSON")
    if not isinstance(payload, dict):
        raise invalid(f"{where}.payload: must be an object")
    return payload


_OAUTH_FIELDS = {
    "authorization_code": ("client_id", "client_secret", "client_url", "authorization_url"),
    "client_credentials": ("client_id", "client_secret", "token_url"),
}
_OAUTH_URLS = ("client_url", "authorization_url", "token_url")


def _oauth_of(auth: dict, where: str) -> Auth:
    invalid = errors.PLUGIN_MANIFEST_INVALID
    sub_type = auth.get("sub_type") or "authorization_code"
    if sub_type not in _OAUTH_FIELDS:
        raise invalid(f"{where}.sub_type: authorization_code or client_credentials")
    payload = _payload_of(auth, where)
    for key in _OAUTH_FIELDS[sub_type]:
        if not isinstance(payload.get(key), str) or not payload[key]:
            raise invalid(f"{where}.payload.{key}: required")
    for key in _OAUTH_URLS:
        if key in payload and not re.match(r"https?://[^/\s]+", str(payload[key])):
            raise invalid(f"{where}.payload.{key}: an absolute http(s) URL")
    kept = {
        k: str(v)
        for k, v in payload.items()
        if k in (*_OAUTH_FIELDS[sub_type], "scope", "authorization_content_type")
    }
    sub = SUB_OAUTH_CODE if sub_type == "authorization_code" else SUB_OAUTH_CLIENT_CREDENTIALS
    return Auth(AUTH_OAUTH, sub, LOCATION_HEADER, "Authorization", json.dumps(kept))


# --- registering ---------------------------------------------------------------------------------


@dataclasses.dataclass
class Code:
    """A manifest and a document, checked: what registering and updating a plugin store."""

    manifest: dict
    auth: Auth
    document: dict
    server: str
    specs: list

    mcp_headers: dict | None = None  # an MCP server's headers, in plain text

    @classmethod
    def of(cls, ai_plugin: str, openapi: str, stored: Plugin | None = None) -> Code:
        manifest, auth = manifest_of(ai_plugin)
        if plugin_mcp.is_mcp(manifest):
            return cls._of_mcp(manifest, auth, stored)
        if not openapi:
            raise errors.PLUGIN_OPENAPI_INVALID("openapi: required (the plugin's OpenAPI document)")
        document = plugin_docs.parse(openapi, "openapi", errors.PLUGIN_OPENAPI_INVALID)
        plugin_docs.check_openapi(document)
        return cls(manifest, auth, document, plugin_docs.server_url(document), plugin_docs.tools_of(document))

    @classmethod
    def _of_mcp(cls, manifest: dict, auth: Auth, stored: Plugin | None) -> Code:
        """An MCP server's tools, listed now (masked headers and token sent back keep the stored)."""
        server = plugin_mcp.server_of(manifest)
        kept = (
            plugin_calls.mcp_headers(stored) if stored is not None and stored.plugin_type == TYPE_MCP else {}
        )
        headers = {k: kept.get(k, "") if v == MASK else v for k, v in server.headers.items()}
        server = plugin_mcp.Server(server.url, headers)
        secret = auth.secret
        if secret == MASK and stored is not None:
            secret = crypto.decrypt(stored.auth_secret)
        extra, query = plugin_calls.service_auth(auth.type, auth.location, auth.key, secret)
        try:
            listed = plugin_mcp.list_tools(server, extra, query)
        except plugin_mcp.Unreachable as exc:
            if exc.refused:
                raise errors.PLUGIN_CALL_REFUSED(f"ai_plugin.api: {exc}")
            raise errors.PLUGIN_MCP_UNREACHABLE(
                f"ai_plugin.api: the server's tools could not be listed: {exc}"
            )
        specs = plugin_mcp.specs_of(listed)
        shown = plugin_mcp.with_headers(manifest, {k: MASK for k in headers})
        document = {"info": {"title": manifest["name_for_human"], "version": "mcp"}}
        return cls(shown, auth, document, server.url, specs, mcp_headers=headers)

    def fields(self, secret: str) -> dict:
        """The plugin's columns it sets (`secret`: the stored, encrypted, secret)."""
        info = {k: self.document[k] for k in ("info",) if k in self.document}
        if self.mcp_headers is not None:
            info["mcp_headers"] = crypto.encrypt(json.dumps(self.mcp_headers))
        return {
            "name": self.manifest["name_for_human"].strip()[:255],
            "description": self.manifest["description_for_human"],
            "server_url": self.server,
            "plugin_type": TYPE_MCP if self.mcp_headers is not None else TYPE_OPENAPI,
            "manifest": self.manifest,
            "info": info,
            "auth_type": self.auth.type,
            "sub_auth_type": self.auth.sub_type,
            "auth_location": self.auth.location,
            "auth_key": self.auth.key,
            "auth_secret": secret,
        }


def space_to_register_in(user: User, space_id):
    return refs.one(user, refs.SPACE, space_id, "plugin:create", field="space_id")


def register(user: User, space_id, ai_plugin: str, openapi: str, *, project_id=None) -> tuple[Plugin, str]:
    space = space_to_register_in(user, space_id)
    project = projects.in_space(user, project_id, space.id)
    code = Code.of(ai_plugin, openapi)
    logo = str(code.manifest.get("logo_url") or "")
    icon = (
        refs.file_uri(user, logo, field="ai_plugin.logo_url", invalid=errors.PLUGIN_MANIFEST_INVALID)
        if logo.startswith("file:")
        else ""
    )
    secret = crypto.encrypt(code.auth.secret) if code.auth.secret else ""
    with write_transaction():
        plugin = Plugin.create(
            space=space.id, creator=user.id, project_id=project, icon_uri=icon, **code.fields(secret)
        )
        for spec in code.specs:
            PluginTool.create(plugin=plugin.id, name=spec.name, **spec.columns())
    return plugin, openapi or document(plugin)


def delete(user: User, plugin_id) -> None:
    load(user, plugin_id, authz.DELETE).delete_instance()


def tools(plugin: Plugin, api_ids=None, page: int = 1, size: int = 50) -> tuple[list[PluginTool], int]:
    query = PluginTool.select().where(PluginTool.plugin == plugin.id).order_by(PluginTool.id)
    if api_ids:
        wanted = [parse_id(a) for a in api_ids]
        rows = list(query.where(PluginTool.id.in_([w for w in wanted if w is not None])))
        return rows, len(rows)
    listed = paging.page(query, page, size, total=True)
    return listed.rows, listed.total


def document(plugin: Plugin, rows: list[PluginTool] | None = None) -> str:
    rows = (
        rows
        if rows is not None
        else list(PluginTool.select().where(PluginTool.plugin == plugin.id).order_by(PluginTool.id))
    )
    return plugin_docs.dump(plugin_docs.document_of((plugin.info or {}).get("info"), plugin.server_url, rows))


def manifest_text(plugin: Plugin) -> str:
    """The manifest as registered, its secret masked."""
    manifest = dict(plugin.manifest or {})
    if plugin.auth_type == AUTH_SERVICE:
        manifest["auth"] = {
            "type": "service_http",
            "sub_type": "token/api_key",
            "payload": json.dumps(
                {
                    "location": "query" if plugin.auth_location == LOCATION_QUERY else "header",
                    "key": plugin.auth_key,
                    "service_token": masked(plugin.auth_secret),
                }
            ),
        }
    if plugin.auth_type == AUTH_OAUTH:
        payload = json.loads(crypto.decrypt(plugin.auth_secret) or "{}")
        payload["client_secret"] = masked(payload.get("client_secret", ""))
        sub = (
            "client_credentials"
            if plugin.sub_auth_type == SUB_OAUTH_CLIENT_CREDENTIALS
            else "authorization_code"
        )
        manifest["auth"] = {"type": "oauth", "sub_type": sub, "payload": json.dumps(payload)}
    return json.dumps(manifest, ensure_ascii=False)


def oauth_info(plugin: Plugin) -> str:
    """The OAuth payload as the console shows it (the client secret masked), or ''."""
    if plugin.auth_type != AUTH_OAUTH:
        return ""
    payload = json.loads(crypto.decrypt(plugin.auth_secret) or "{}")
    payload["client_secret"] = masked(payload.get("client_secret", ""))
    return json.dumps(payload)


@dataclasses.dataclass(frozen=True)
class PluginQuery:
    space_id: object
    name: str = ""
    plugin_ids: tuple = ()
    project_id: object = None
    page: int = 1
    size: int = 20


def space_plugins(user: User, criteria: PluginQuery) -> tuple[list[tuple[Plugin, list[PluginTool]]], int]:
    space = refs.one(user, refs.SPACE, criteria.space_id, "plugin:read", field="space_id")
    query = Plugin.select().where(Plugin.space == space.id)
    project = refs.optional(user, refs.PROJECT, criteria.project_id, field="project_id")
    if project is not None:
        query = query.where(Plugin.project_id == project)
    if criteria.name:
        named_tools = PluginTool.select(PluginTool.plugin).where(PluginTool.name.contains(criteria.name))
        query = query.where(Plugin.name.contains(criteria.name) | Plugin.id.in_(named_tools))
    if criteria.plugin_ids:
        wanted = [parse_id(i) for i in criteria.plugin_ids]
        query = query.where(Plugin.id.in_([w for w in wanted if w is not None]))
    listed = paging.page(
        query.order_by(Plugin.updated_at.desc(), Plugin.id.desc()), criteria.page, criteria.size, total=True
    )
    ids = [p.id for p in listed.rows]
    by_plugin: dict[int, list[PluginTool]] = {i: [] for i in ids}
    for tool in PluginTool.select().where(PluginTool.plugin.in_(ids or [0])).order_by(PluginTool.id):
        by_plugin[tool.plugin_id].append(tool)
    return [(p, by_plugin[p.id]) for p in listed.rows], listed.total


# --- debugging -----------------------------------------------------------------------------------


def debug(user: User, plugin_id, api_id, parameters: str) -> plugin_calls.Outcome:
    """Call the tool as the console's debug area does; a passing call marks the tool debugged."""
    plugin = load(user, plugin_id, authz.EXECUTE)
    tool = tool_of(plugin, api_id)
    try:
        arguments = json.loads(parameters) if parameters.strip() else {}
    except ValueError:
        raise errors.PLUGIN_INVALID_PARAM("parameters: not JSON (a JSON object of the tool's arguments)")
    holder = plugin_oauth.holder_of(user.id)
    outcome = plugin_calls.call(plugin, tool.method, tool.path, tool.operation, arguments, holder=holder)
    if outcome.refused:
        raise errors.PLUGIN_CALL_REFUSED(f"api_id {tool.id}: {outcome.reason}")
    if outcome.success:
        example = {"req_example": parameters, "resp_example": outcome.response[:10_000]}
        tool.touch(debug_status=DEBUG_PASSED, debug_example=example)
    return outcome


# --- editing: the lock, the code, the meta, tools one by one --------------------------------------

LOCK_SECONDS = 300  # an editor's lock lapses unless renewed (the console renews it while open)


def _now() -> int:
    return int(time.time())


def _holder(plugin: Plugin, user: User) -> int | None:
    """The other user whose lock on the plugin is current, if any."""
    if plugin.locked_by not in (None, user.id) and plugin.locked_until > _now():
        return plugin.locked_by
    return None


def editable(user: User, plugin_id, *, field: str = "plugin_id", action: str = authz.UPDATE) -> Plugin:
    """The plugin, if the caller may change it now (the permission, and nobody else's lock)."""
    plugin = load(user, plugin_id, action, field=field)
    holder = _holder(plugin, user)
    if holder is not None:
        other = User.by_id(holder)
        raise errors.PLUGIN_LOCKED(
            f"{field}: {other.name if other else 'another user'} is editing plugin {plugin.id};"
            " try again when they are done (or their lock lapses)"
        )
    return plugin


def lock(user: User, plugin_id) -> tuple[bool, User | None, bool]:
    """(occupied by someone else, who, whether the caller now holds the lock)."""
    plugin = load(user, plugin_id, authz.UPDATE)
    with write_transaction():
        plugin = Plugin.by_id(plugin.id)  # read again under the write lock
        holder = _holder(plugin, user)
        if holder is not None:
            return True, User.by_id(holder), False
        Plugin.update(locked_by=user.id, locked_until=_now() + LOCK_SECONDS).where(
            Plugin.id == plugin.id
        ).execute()
    return False, user, True


def unlock(user: User, plugin_id) -> bool:
    plugin = load(user, plugin_id, authz.UPDATE)
    released = (
        Plugin.update(locked_by=None, locked_until=0)
        .where((Plugin.id == plugin.id) & (Plugin.locked_by == user.id))
        .execute()
    )
    return bool(released)


def _bump(plugin: Plugin, **changes) -> Plugin:
    return plugin.touch(edit_version=plugin.edit_version + 1, **changes)


def _secret(plugin: Plugin, auth: Auth) -> str:
    """The stored secret for `auth`: a masked value sent back keeps the one stored (for OAuth,
    the masked client secret in the payload)."""
    if auth.secret == MASK:
        return plugin.auth_secret
    if auth.type == AUTH_OAUTH and plugin.auth_type == AUTH_OAUTH:
        payload = json.loads(auth.secret)
        if payload.get("client_secret") == MASK:
            stored = json.loads(crypto.decrypt(plugin.auth_secret) or "{}")
            payload["client_secret"] = stored.get("client_secret", "")
            return crypto.encrypt(json.dumps(payload))
    return crypto.encrypt(auth.secret) if auth.secret else ""


def update_code(user: User, plugin_id, ai_plugin: str, openapi: str) -> Plugin:
    """Replace the manifest and the document. Tools keep their ids by operationId, so agents
    that bind them keep them; operations no longer in the document are deleted."""
    plugin = editable(user, plugin_id)
    code = Code.of(ai_plugin, openapi, stored=plugin)
    with write_transaction():
        existing = {t.name: t for t in PluginTool.select().where(PluginTool.plugin == plugin.id)}
        for spec in code.specs:
            fields = spec.columns()
            if spec.name in existing:
                existing.pop(spec.name).touch(**fields)
            else:
                PluginTool.create(plugin=plugin.id, name=spec.name, **fields)
        for gone in existing.values():
            gone.delete_instance()
        _bump(plugin, **code.fields(_secret(plugin, code.auth)))
    return plugin


@dataclasses.dataclass
class Meta:
    """A plugin's meta as the console's form edits it (Coze's register/update_plugin_meta)."""

    name: str | None = None
    desc: str | None = None
    url: str | None = None
    icon_uri: str | None = None
    auth_type: int | None = None
    location: int | None = None
    key: str | None = None
    service_token: str | None = None
    common_params: dict | None = None
    oauth_info: str | None = None  # JSON: the OAuth payload (auth_type 3)
    sub_auth_type: int | None = None  # with OAuth: 10 client credentials, else authorization code


def _meta_auth(meta: Meta, plugin: Plugin | None) -> Auth | None:
    """The auth a meta change asks for; None when it changes none (a key, token or location
    sent alone changes the plugin's current service token)."""
    kind = meta.auth_type
    if kind is None and plugin is not None and (meta.key, meta.service_token, meta.location) != (None,) * 3:
        kind = plugin.auth_type
    if kind is None:
        return None
    if kind == AUTH_NONE:
        return Auth()
    if kind == AUTH_OAUTH:
        if meta.oauth_info is None and plugin is not None and plugin.auth_type == AUTH_OAUTH:
            return None  # unchanged
        sub = (
            meta.sub_auth_type if meta.sub_auth_type is not None else (plugin.sub_auth_type if plugin else 0)
        )
        sub_type = "client_credentials" if sub == SUB_OAUTH_CLIENT_CREDENTIALS else "authorization_code"
        try:
            return _oauth_of({"sub_type": sub_type, "payload": meta.oauth_info or ""}, "oauth_info")
        except errors.ApiError as exc:
            raise errors.PLUGIN_INVALID_PARAM(exc.msg.replace("oauth_info.payload", "oauth_info"))
    if kind != AUTH_SERVICE:
        raise errors.PLUGIN_INVALID_PARAM("auth_type: 0 none, 1 a service token or 3 OAuth")
    key = meta.key if meta.key is not None else (plugin.auth_key if plugin else "")
    token = meta.service_token if meta.service_token is not None else MASK
    if not key:
        raise errors.PLUGIN_INVALID_PARAM("key: the header or query parameter the token goes in")
    if token == MASK and not (plugin and plugin.auth_secret):
        raise errors.PLUGIN_INVALID_PARAM("service_token: required")
    location = meta.location or (plugin.auth_location if plugin else LOCATION_HEADER)
    return Auth(AUTH_SERVICE, SUB_TOKEN, location, key, token)


def _meta_url(url: str) -> str:
    if not re.match(r"https?://[^/\s]+", url or ""):
        raise errors.PLUGIN_INVALID_PARAM("url: the service's absolute http(s) URL")
    return url.rstrip("/")


def _common(params: dict | None) -> dict:
    checked = {}
    for location, items in (params or {}).items():
        if str(location) not in ("1", "2", "3", "4"):
            raise errors.PLUGIN_INVALID_PARAM(
                f"common_params.{location}: 1 path, 2 query, 3 body or 4 header"
            )
        checked[str(location)] = [
            {"name": str(i.get("name", "")), "value": str(i.get("value", ""))} for i in items
        ]
    return checked


def register_meta(user: User, space_id, meta: Meta, *, project_id=None) -> Plugin:
    """A plugin made in the console's form: its meta now, its tools one by one afterwards."""
    space = refs.one(user, refs.SPACE, space_id, "plugin:create", field="space_id")
    project = projects.in_space(user, project_id, space.id)
    auth = _meta_auth(meta, None) or Auth()
    name = (meta.name or "").strip()
    model_name = re.sub(r"[^A-Za-z0-9_]", "_", name).strip("_")[:64]
    model_name = model_name if MODEL_NAME.fullmatch(model_name) else "plugin"
    icon = refs.file_uri(user, meta.icon_uri or "", field="icon.uri", invalid=errors.PLUGIN_INVALID_PARAM)
    return Plugin.create(
        space=space.id,
        creator=user.id,
        project_id=project,
        name=name[:255],
        description=meta.desc or "",
        icon_uri=icon,
        server_url=_meta_url(meta.url or ""),
        manifest={
            "schema_version": "v1",
            "name_for_human": name,
            "name_for_model": model_name,
            "description_for_human": meta.desc or "",
            "description_for_model": meta.desc or "",
            "api": {"type": "openapi"},
            "auth": {"type": {AUTH_SERVICE: "service_http", AUTH_OAUTH: "oauth"}.get(auth.type, "none")},
        },
        info={"info": {"title": name, "version": "v1", "description": meta.desc or ""}},
        auth_type=auth.type,
        sub_auth_type=auth.sub_type,
        auth_location=auth.location,
        auth_key=auth.key,
        auth_secret=crypto.encrypt(auth.secret) if auth.secret else "",
        common_params=_common(meta.common_params),
    )


def update_meta(user: User, plugin_id, meta: Meta) -> Plugin:
    plugin = editable(user, plugin_id)
    changes: dict = {}
    if meta.name is not None:
        changes["name"] = meta.name.strip()[:255]
    if meta.desc is not None:
        changes["description"] = meta.desc
    if meta.url is not None:
        changes["server_url"] = _meta_url(meta.url)
    if meta.icon_uri is not None:
        changes["icon_uri"] = refs.file_uri(
            user, meta.icon_uri, field="icon.uri", invalid=errors.PLUGIN_INVALID_PARAM
        )
    if meta.common_params is not None:
        changes["common_params"] = _common(meta.common_params)
    auth = _meta_auth(meta, plugin)
    if auth is not None:
        changes |= {
            "auth_type": auth.type,
            "sub_auth_type": auth.sub_type,
            "auth_location": auth.location,
            "auth_key": auth.key,
            "auth_secret": _secret(plugin, auth),
        }
        manifest = dict(plugin.manifest or {})
        manifest["auth"] = {
            "type": {AUTH_SERVICE: "service_http", AUTH_OAUTH: "oauth"}.get(auth.type, "none")
        }
        changes["manifest"] = manifest
    return _bump(plugin, **changes)


METHOD_NAMES = {number: name for name, number in plugin_docs.METHODS.items()}


def _unique_name(plugin: Plugin, name: str, keep: int | None = None) -> str:
    if not plugin_docs.NAME.fullmatch(name or ""):
        raise errors.PLUGIN_INVALID_PARAM("name: a letter, then letters, digits and _ (at most 64)")
    taken = PluginTool.select().where(
        (PluginTool.plugin == plugin.id) & (fn.LOWER(PluginTool.name) == name.lower())
    )
    if keep is not None:
        taken = taken.where(PluginTool.id != keep)
    if taken.exists():
        raise errors.PLUGIN_INVALID_PARAM(f"name: plugin {plugin.id} already has a tool named {name}")
    return name


def _tool_path(path: str | None, name: str) -> str:
    path = path or f"/{name}"
    if not path.startswith("/") or any(c.isspace() for c in path):
        raise errors.PLUGIN_INVALID_PARAM("path: the tool's path under the plugin's URL, starting with /")
    return path


def create_tool(
    user: User,
    plugin_id,
    name: str,
    desc: str,
    *,
    path: str | None = None,
    method: int | None = None,
    request: list[dict] | None = None,
    response: list[dict] | None = None,
    disabled: bool = False,
) -> tuple[Plugin, PluginTool]:
    plugin = editable(user, plugin_id)
    name = _unique_name(plugin, name)
    verb = METHOD_NAMES.get(method or 1)
    if verb is None:
        raise errors.PLUGIN_INVALID_PARAM("method: 1 GET, 2 POST, 3 PUT, 4 DELETE or 5 PATCH")
    path = _tool_path(path, name)
    operation = plugin_docs.operation_from_params(desc, request or [], response or [], verb, "")
    _check_path_params(path, operation)
    with write_transaction():
        tool = PluginTool.create(
            plugin=plugin.id,
            name=name,
            description=desc,
            method=verb,
            path=path,
            operation=operation,
            disabled=disabled,
        )
        _bump(plugin)
    return plugin, tool


def _check_path_params(path: str, operation: dict) -> None:
    in_path = set(plugin_docs._TEMPLATE.findall(path))
    declared = {p["name"] for p in operation.get("parameters") or [] if p["in"] == "path"}
    if in_path != declared:
        names = ", ".join(sorted(in_path ^ declared))
        raise errors.PLUGIN_INVALID_PARAM(
            f"request_params: the path's {{names}} and the path parameters differ ({names})"
        )


def update_tool(user: User, plugin_id, api_id, changes: dict) -> Plugin:
    """`changes`: any of name, desc, path, method, request_params, response_params, disabled,
    debug_example (as the console sends them)."""
    plugin = editable(user, plugin_id)
    tool = tool_of(plugin, api_id)
    fields: dict = {}
    if changes.get("name") is not None:
        fields["name"] = _unique_name(plugin, changes["name"], keep=tool.id)
    if changes.get("desc") is not None:
        fields["description"] = changes["desc"]
    if changes.get("method") is not None:
        if changes["method"] not in METHOD_NAMES:
            raise errors.PLUGIN_INVALID_PARAM("method: 1 GET, 2 POST, 3 PUT, 4 DELETE or 5 PATCH")
        fields["method"] = METHOD_NAMES[changes["method"]]
    if changes.get("path") is not None:
        fields["path"] = _tool_path(changes["path"], tool.name)
    operation = dict(tool.operation)
    if changes.get("request_params") is not None or changes.get("response_params") is not None:
        request = changes.get("request_params")
        response = changes.get("response_params")
        rebuilt = plugin_docs.operation_from_params(
            fields.get("description", tool.description),
            request if request is not None else plugin_docs.request_params(operation),
            response if response is not None else plugin_docs.response_params(operation),
            fields.get("method", tool.method),
            "",
        )
        operation = rebuilt
    elif "description" in fields:
        operation["summary"] = fields["description"]
    _check_path_params(fields.get("path", tool.path), operation)
    fields["operation"] = operation
    if changes.get("disabled") is not None:
        fields["disabled"] = bool(changes["disabled"])
    if changes.get("save_example") and changes.get("debug_example") is not None:
        fields["debug_example"] = changes["debug_example"]
    with write_transaction():
        tool.touch(**fields)
        _bump(plugin)
    return plugin


def delete_tool(user: User, plugin_id, api_id) -> Plugin:
    plugin = editable(user, plugin_id)
    with write_transaction():
        tool_of(plugin, api_id).delete_instance()
        _bump(plugin)
    return plugin


def batch_create(
    user: User, plugin_id, openapi: str, *, replace_same_paths: bool
) -> tuple[Plugin, list, list]:
    """Add a document's operations as tools: (plugin, created, duplicated). An operation on a
    method and path the plugin already has is a duplicate: replaced when asked, else nothing is
    created and the duplicates are returned."""
    plugin = editable(user, plugin_id)
    document = plugin_docs.parse(openapi, "openapi", errors.PLUGIN_OPENAPI_INVALID)
    plugin_docs.check_openapi(document)
    specs = plugin_docs.tools_of(document)
    existing = {(t.method, t.path): t for t in PluginTool.select().where(PluginTool.plugin == plugin.id)}
    duplicated = [existing[(s.method, s.path)] for s in specs if (s.method, s.path) in existing]
    if duplicated and not replace_same_paths:
        return plugin, [], duplicated
    created = []
    with write_transaction():
        for spec in specs:
            fields = {"description": spec.description, "operation": spec.operation}
            same = existing.get((spec.method, spec.path))
            if same is not None:
                created.append(same.touch(name=_unique_name(plugin, spec.name, keep=same.id), **fields))
            else:
                name = _unique_name(plugin, spec.name)
                created.append(
                    PluginTool.create(
                        plugin=plugin.id, name=name, method=spec.method, path=spec.path, **fields
                    )
                )
        _bump(plugin)
    return plugin, created, []


# --- versions ------------------------------------------------------------------------------------


def _snapshot(plugin: Plugin) -> dict:
    tools_now = PluginTool.select().where(PluginTool.plugin == plugin.id).order_by(PluginTool.id)
    return {
        "name": plugin.name,
        "description": plugin.description,
        "server_url": plugin.server_url,
        "manifest": plugin.manifest,
        "tools": [
            {
                "id": t.id,
                "name": t.name,
                "description": t.description,
                "method": t.method,
                "path": t.path,
                "operation": t.operation,
                "disabled": t.disabled,
            }
            for t in tools_now
        ],
    }


def publish(user: User, plugin_id, version_name: str, version_desc: str = "") -> PluginVersion:
    plugin = editable(user, plugin_id, action=authz.PUBLISH)
    if not PluginTool.select().where(PluginTool.plugin == plugin.id).exists():
        raise errors.PLUGIN_INVALID_PARAM(f"plugin_id: plugin {plugin.id} has no tools to publish")
    name = (version_name or "").strip() or next_version(plugin)
    if (
        PluginVersion.select()
        .where((PluginVersion.plugin == plugin.id) & (PluginVersion.version_name == name))
        .exists()
    ):
        raise errors.PLUGIN_INVALID_PARAM(f"version_name: plugin {plugin.id} already has a version {name}")
    return PluginVersion.create(
        plugin=plugin.id,
        creator=user.id,
        version_name=name[:64],
        version_desc=version_desc or "",
        snapshot=_snapshot(plugin),
    )


def next_version(plugin: Plugin) -> str:
    """v1.0.0, then the last version's patch number plus one."""
    last = (
        PluginVersion.select()
        .where(PluginVersion.plugin == plugin.id)
        .order_by(PluginVersion.id.desc())
        .first()
    )
    if last is None:
        return "v1.0.0"
    found = re.fullmatch(r"v?(\d+)\.(\d+)\.(\d+)", last.version_name)
    if not found:
        return f"{last.version_name}.1"
    major, minor, patch = (int(g) for g in found.groups())
    return f"v{major}.{minor}.{patch + 1}"


def latest_version(plugin_id: int) -> PluginVersion | None:
    return (
        PluginVersion.select()
        .where(PluginVersion.plugin == plugin_id)
        .order_by(PluginVersion.id.desc())
        .first()
    )


def published_plugins(user: User, criteria: PluginQuery) -> tuple[list[tuple[Plugin, PluginVersion]], int]:
    """The space's plugins that have a published version (what agents choose from), each with
    its latest version."""
    space = refs.one(user, refs.SPACE, criteria.space_id, "plugin:read", field="space_id")
    query = Plugin.select().where(
        (Plugin.space == space.id) & Plugin.id.in_(PluginVersion.select(PluginVersion.plugin))
    )
    if criteria.name:
        query = query.where(Plugin.name.contains(criteria.name))
    if criteria.plugin_ids:
        wanted = [parse_id(i) for i in criteria.plugin_ids]
        query = query.where(Plugin.id.in_([w for w in wanted if w is not None]))
    listed = paging.page(
        query.order_by(Plugin.updated_at.desc(), Plugin.id.desc()), criteria.page, criteria.size, total=True
    )
    return [(p, latest_version(p.id)) for p in listed.rows], listed.total


@dataclasses.dataclass(frozen=True)
class VersionTool:
    """A tool as a published version holds it (what the playground list shows)."""

    id: int
    name: str
    description: str

    @classmethod
    def of(cls, entry: dict) -> VersionTool:
        return cls(entry["id"], entry["name"], entry.get("description") or "")


def creators(rows: list[Plugin]) -> dict[int, User]:
    return {u.id: u for u in User.select().where(User.id.in_([p.creator_id for p in rows] or [0]))}


# --- OAuth ---------------------------------------------------------------------------------------


def oauth_status(
    user: User, plugin_id, *, end_user: str = "", connector_id: int = 0
) -> tuple[bool, bool, str]:
    """(is an OAuth plugin, the caller has authorized it, where to authorize it)."""
    plugin = load(user, plugin_id)
    if plugin.auth_type != AUTH_OAUTH:
        return False, False, ""
    holder = plugin_oauth.holder_of(user.id, end_user, connector_id)
    if plugin_oauth.authorized(plugin, holder):
        return True, True, ""
    return True, False, plugin_oauth.authorization_url(plugin, holder)


def revoke_token(user: User, plugin_id) -> bool:
    plugin = load(user, plugin_id)
    return plugin_oauth.revoke(plugin, plugin_oauth.holder_of(user.id))


def oauth_plugins_of_agent(user: User, bot_id) -> list[tuple[Plugin, bool]]:
    """The OAuth plugins an agent's tools need, and whether the caller has authorized each."""
    from services import agent_plugins, agents

    bot = agents.load(user, bot_id)
    holder = plugin_oauth.holder_of(user.id)
    seen, found = set(), []
    for plugin, _ in agent_plugins.bound_tools(bot.config):
        if plugin.auth_type == AUTH_OAUTH and plugin.id not in seen:
            seen.add(plugin.id)
            found.append((plugin, plugin_oauth.authorized(plugin, holder)))
    return found


def complete_authorization(code: str, state: str) -> tuple[Plugin, str]:
    return plugin_oauth.complete(code, state)
