"""Plugins (Coze's /api/plugin_api/*): registered from a manifest and an OpenAPI document, their
tools listed and debugged, and (services/agent_plugins) called by agents in chat.

The manifest's auth is kept apart from it: the type, where a service token goes, and the secret
itself encrypted at rest (core.crypto). Secrets are shown masked, and a masked value sent back
keeps the stored one."""

from __future__ import annotations

import dataclasses
import json
import re

from core import authz, crypto, errors
from core.ids import parse_id
from models import paging
from models.db import write_transaction
from models.identity import User
from models.plugin import (
    AUTH_NONE,
    AUTH_SERVICE,
    DEBUG_PASSED,
    LOCATION_HEADER,
    LOCATION_QUERY,
    SUB_TOKEN,
    Plugin,
    PluginTool,
)
from services import plugin_calls, plugin_docs, projects, refs

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
    if not isinstance(api, dict) or api.get("type", "openapi") != "openapi":
        raise invalid(f"{where}.api.type: openapi (MCP servers are registered as such)")
    auth = _auth_of(manifest.get("auth") or {"type": "none"}, f"{where}.auth")
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
        payload = auth.get("payload") or {}
        if isinstance(payload, str):
            try:
                payload = json.loads(payload) if payload.strip() else {}
            except ValueError:
                raise invalid(f"{where}.payload: not JSON")
        if not isinstance(payload, dict):
            raise invalid(f"{where}.payload: must be an object")
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
        raise invalid(f"{where}.type: OAuth plugins are not available on this server yet")
    raise invalid(f"{where}.type: none, service_http or oauth")


# --- registering ---------------------------------------------------------------------------------


def register(user: User, space_id, ai_plugin: str, openapi: str, *, project_id=None) -> tuple[Plugin, str]:
    space = refs.one(user, refs.SPACE, space_id, authz.WRITE, field="space_id")
    project = projects.in_space(user, project_id, space.id)
    manifest, auth = manifest_of(ai_plugin)
    document = plugin_docs.parse(openapi, "openapi", errors.PLUGIN_OPENAPI_INVALID)
    plugin_docs.check_openapi(document)
    server = plugin_docs.server_url(document)
    specs = plugin_docs.tools_of(document)
    icon = (
        refs.file_uri(
            user,
            str(manifest.get("logo_url") or ""),
            field="ai_plugin.logo_url",
            invalid=errors.PLUGIN_MANIFEST_INVALID,
        )
        if str(manifest.get("logo_url") or "").startswith("file:")
        else ""
    )
    with write_transaction():
        plugin = Plugin.create(
            space=space.id,
            creator=user.id,
            project_id=project,
            name=manifest["name_for_human"].strip()[:255],
            description=manifest["description_for_human"],
            icon_uri=icon,
            server_url=server,
            manifest=manifest,
            info={k: document[k] for k in ("info",) if k in document},
            auth_type=auth.type,
            sub_auth_type=auth.sub_type,
            auth_location=auth.location,
            auth_key=auth.key,
            auth_secret=crypto.encrypt(auth.secret) if auth.secret else "",
        )
        for spec in specs:
            PluginTool.create(
                plugin=plugin.id,
                name=spec.name,
                description=spec.description,
                method=spec.method,
                path=spec.path,
                operation=spec.operation,
            )
    return plugin, openapi


def delete(user: User, plugin_id) -> None:
    load(user, plugin_id, authz.WRITE).delete_instance()


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
    return json.dumps(manifest, ensure_ascii=False)


@dataclasses.dataclass(frozen=True)
class PluginQuery:
    space_id: object
    name: str = ""
    plugin_ids: tuple = ()
    project_id: object = None
    page: int = 1
    size: int = 20


def space_plugins(user: User, criteria: PluginQuery) -> tuple[list[tuple[Plugin, list[PluginTool]]], int]:
    space = refs.one(user, refs.SPACE, criteria.space_id, field="space_id")
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
    plugin = load(user, plugin_id, authz.WRITE)
    tool = tool_of(plugin, api_id)
    try:
        arguments = json.loads(parameters) if parameters.strip() else {}
    except ValueError:
        raise errors.PLUGIN_INVALID_PARAM("parameters: not JSON (a JSON object of the tool's arguments)")
    outcome = plugin_calls.call(plugin, tool.method, tool.path, tool.operation, arguments)
    if outcome.refused:
        raise errors.PLUGIN_CALL_REFUSED(f"api_id {tool.id}: {outcome.reason}")
    if outcome.success:
        example = {"req_example": parameters, "resp_example": outcome.response[:10_000]}
        tool.touch(debug_status=DEBUG_PASSED, debug_example=example)
    return outcome
