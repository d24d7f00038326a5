"""Calling a plugin's tool: the HTTP request built from the tool's operation and the arguments
(path, query, header and body parameters; schema defaults; the plugin's auth and common
parameters), sent through the one outbound guard (services/webfetch) under a timeout and a size
limit, and the response turned into the tool's output (cut for the model, whole for debugging)."""

from __future__ import annotations

import dataclasses
import json
import time
from urllib.parse import quote, urlencode

from jsonschema import Draft7Validator

from core import crypto, errors
from core.settings import get_settings
from models.plugin import AUTH_OAUTH, AUTH_SERVICE, LOCATION_QUERY, TYPE_MCP, Plugin
from services import plugin_docs, plugin_mcp, plugin_oauth, webfetch

MODEL_OUTPUT_CHARS = 8_000  # what the model reads of a response
SECRET_SHOWN = "******"


@dataclasses.dataclass
class Outcome:
    success: bool
    reason: str
    request: dict  # method, url, headers (secrets masked), body
    status: int = 0
    response: str = ""  # the whole response body, as text
    output: str = ""  # what the model reads
    refused: bool = False  # the guard refused the address (nothing was sent)
    elapsed_ms: int = 0
    authorize_url: str = ""  # the holder must authorize the plugin first (OAuth)


def _text(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return str(value)


def _with_defaults(operation: dict, arguments: dict) -> dict:
    filled = dict(arguments)
    for parameter in operation.get("parameters") or []:
        default = parameter["schema"].get("default")
        if parameter["name"] not in filled and default is not None:
            filled[parameter["name"]] = default
    for name, prop in plugin_docs.body_properties(operation.get("requestBody")).items():
        if name not in filled and isinstance(prop, dict) and prop.get("default") is not None:
            filled[name] = prop["default"]
    return filled


def check_arguments(operation: dict, arguments) -> str:
    """Why the arguments do not fit the tool's parameters ('' when they do)."""
    if not isinstance(arguments, dict):
        return "the arguments must be a JSON object"
    problem = next(
        iter(Draft7Validator(plugin_docs.arguments_schema(operation)).iter_errors(arguments)), None
    )
    if problem is None:
        return ""
    where = ".".join(str(p) for p in problem.absolute_path) or "arguments"
    return f"{where}: {problem.message[:200]}"


def service_auth(auth_type: int, location: int, key: str, token: str) -> tuple[dict, dict]:
    """Where a service token goes: ({header: token}, {query parameter: token})."""
    if auth_type != AUTH_SERVICE or not token:
        return {}, {}
    return ({}, {key: token}) if location == LOCATION_QUERY else ({key: token}, {})


def _service_auth_of(plugin: Plugin) -> tuple[dict, dict]:
    token = crypto.decrypt(plugin.auth_secret) or "" if plugin.auth_secret else ""
    return service_auth(plugin.auth_type, plugin.auth_location, plugin.auth_key, token)


def mcp_headers(plugin: Plugin) -> dict[str, str]:
    """The headers an MCP plugin's sessions send, in plain text."""
    sealed = (plugin.info or {}).get("mcp_headers")
    return json.loads(crypto.decrypt(sealed) or "{}") if sealed else {}


def build(
    plugin: Plugin, method: str, path: str, operation: dict, arguments: dict, bearer: str = ""
) -> tuple[str, str, dict, bytes, dict]:
    """(method, url, headers, body, the request as shown with secrets masked)."""
    arguments = _with_defaults(operation, arguments)
    common = plugin.common_params or {}
    headers, query, shown_headers = {}, [], {}
    for item in common.get("4") or common.get(4) or []:
        headers[item["name"]] = str(item.get("value", ""))
    for item in common.get("2") or common.get(2) or []:
        query.append((item["name"], str(item.get("value", ""))))
    for parameter in operation.get("parameters") or []:
        name, location = parameter["name"], parameter["in"]
        if name not in arguments or arguments[name] is None:
            continue
        value = arguments[name]
        if location == "path":
            path = path.replace("{" + name + "}", quote(_text(value), safe=""))
        elif location == "query":
            query += [(name, _text(v)) for v in value] if isinstance(value, list) else [(name, _text(value))]
        else:
            headers[name] = _text(value)
    shown_headers.update(headers)
    secret_headers, secret_params = _service_auth_of(plugin)
    headers.update(secret_headers)
    shown_headers.update({name: SECRET_SHOWN for name in secret_headers})
    secret_query = list(secret_params.items())
    if bearer:
        headers["Authorization"] = f"Bearer {bearer}"
        shown_headers["Authorization"] = f"Bearer {SECRET_SHOWN}"
    body, content_type = b"", ""
    request_body = operation.get("requestBody")
    if request_body:
        media = next(iter(request_body["content"]))
        fields = {k: arguments[k] for k in plugin_docs.body_properties(request_body) if k in arguments}
        for item in common.get("3") or common.get(3) or []:
            fields.setdefault(item["name"], item.get("value", ""))
        if media == "application/json":
            body, content_type = json.dumps(fields, ensure_ascii=False).encode(), "application/json"
        else:
            body, content_type = urlencode({k: _text(v) for k, v in fields.items()}).encode(), media
        headers["Content-Type"] = shown_headers["Content-Type"] = content_type
    url = plugin.server_url + path
    shown_url = url + (
        "?" + urlencode(query + [(k, SECRET_SHOWN) for k, _ in secret_query]) if query or secret_query else ""
    )
    if query or secret_query:
        url += "?" + urlencode(query + secret_query)
    shown = {
        "method": method.upper(),
        "url": shown_url,
        "headers": shown_headers,
        "body": body.decode("utf-8", "replace"),
    }
    return method.upper(), url, headers, body, shown


def _for_model(text: str, hide: frozenset = frozenset()) -> str:
    """What the model reads: compact JSON without the fields the agent hides, cut to length."""
    try:
        value = json.loads(text)
        if hide and isinstance(value, dict):
            value = {k: v for k, v in value.items() if k not in hide}
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    except ValueError:
        pass
    if len(text) > MODEL_OUTPUT_CHARS:
        return text[:MODEL_OUTPUT_CHARS] + f"... [cut: {len(text)} characters in all]"
    return text


def call(
    plugin: Plugin,
    method: str,
    path: str,
    operation: dict,
    arguments: dict,
    *,
    holder: str = "",
    hide: frozenset = frozenset(),
) -> Outcome:
    """`holder`: whose OAuth token the call carries (services.plugin_oauth.holder_of); `hide`:
    top-level response fields the model does not read (an agent's settings)."""
    problem = check_arguments(operation, arguments)
    if problem:
        return Outcome(False, problem, {})
    bearer = ""
    if plugin.auth_type == AUTH_OAUTH:
        try:
            bearer = plugin_oauth.access_token(plugin, holder) or ""
        except errors.ApiError as exc:
            return Outcome(False, exc.msg, {})
        if not bearer:
            url = plugin_oauth.authorization_url(plugin, holder)
            return Outcome(False, f"the plugin needs authorization first: {url}", {}, authorize_url=url)
    if plugin.plugin_type == TYPE_MCP:
        return _call_mcp(plugin, operation, _with_defaults(operation, arguments), bearer, hide)
    method, url, headers, body, shown = build(plugin, method, path, operation, arguments, bearer)
    settings = get_settings()
    try:
        sent = webfetch.send(
            method,
            url,
            headers=headers,
            body=body,
            max_bytes=settings.plugin_max_response_bytes,
            timeout=settings.plugin_timeout_seconds,
            user_agent="cozeplus-plugin/1.0",
        )
    except webfetch.FetchError as exc:
        return Outcome(False, str(exc), shown, refused=exc.forbidden)
    text = sent.response_body.decode("utf-8", "replace")
    success = sent.status < 400
    reason = "" if success else f"the service answered HTTP {sent.status}"
    output = _for_model(text, hide)
    return Outcome(success, reason, shown, sent.status, text, output, elapsed_ms=sent.elapsed_ms)


def _call_mcp(plugin: Plugin, operation: dict, arguments: dict, bearer: str, hide: frozenset) -> Outcome:
    name = operation.get(plugin_mcp.TOOL_KEY) or ""
    headers, query = _service_auth_of(plugin)
    if bearer:
        headers["Authorization"] = f"Bearer {bearer}"
    server = plugin_mcp.Server(plugin.server_url, mcp_headers(plugin))
    shown = {
        "method": "tools/call",
        "url": plugin.server_url,
        "headers": {header: SECRET_SHOWN for header in {**server.headers, **headers}},
        "body": json.dumps({"name": name, "arguments": arguments}, ensure_ascii=False),
    }
    started = time.monotonic()
    try:
        called = plugin_mcp.call_tool(server, name, arguments, headers, query)
    except plugin_mcp.Unreachable as exc:
        return Outcome(False, str(exc), shown, refused=exc.refused)
    elapsed = int((time.monotonic() - started) * 1000)
    return Outcome(
        called.success,
        called.reason,
        shown,
        200,
        called.response,
        _for_model(called.output, hide),
        elapsed_ms=elapsed,
    )
