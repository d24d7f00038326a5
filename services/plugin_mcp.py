"""MCP servers as plugins. A manifest whose `api.type` is `coze-studio-mcp` names a server on the
streamable HTTP transport (with headers to send, for its auth); its tools are listed when the
plugin is registered or updated and kept as tools like a document's operations (a JSON body whose
schema is the tool's input schema), so they are shown, bound, debugged and called like any other.
Sessions are made with the official `mcp` package over a client whose transport is the outbound
guard (services/webfetch), under the plugin call's timeout and response size limit."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import re
from typing import TYPE_CHECKING

import anyio
import httpx

from core import errors
from core.settings import get_settings
from services import plugin_docs, webfetch

if TYPE_CHECKING:  # the MCP SDK takes most of a second to import: loaded on first use
    from mcp import ClientSession, types

MCP_TYPE = "coze-studio-mcp"
TRANSPORT = "streamable_http"
MAX_HEADERS = 20
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}")
_UNSAFE = re.compile(r"[^A-Za-z0-9_]")
TOOL_KEY = "x-mcp-tool"  # the server's own name of a tool, kept in its operation


@dataclasses.dataclass(frozen=True)
class Server:
    url: str
    headers: dict[str, str]


class Unreachable(Exception):
    def __init__(self, msg: str, *, refused: bool = False):
        super().__init__(msg)
        self.refused = refused


def is_mcp(manifest: dict) -> bool:
    api = manifest.get("api")
    return isinstance(api, dict) and api.get("type") == MCP_TYPE


def server_of(manifest: dict, where: str = "ai_plugin") -> Server:
    """The server a manifest names: `api.extensions.mcp_config` with `transport_type`
    streamable_http and `streamable_http_config` {url, headers}."""
    invalid = errors.PLUGIN_MANIFEST_INVALID
    at = f"{where}.api.extensions.mcp_config"
    config = ((manifest.get("api") or {}).get("extensions") or {}).get("mcp_config")
    if not isinstance(config, dict):
        raise invalid(f"{at}: required for an MCP server ({{transport_type, streamable_http_config}})")
    transport = config.get("transport_type", TRANSPORT)
    if transport != TRANSPORT:
        raise invalid(
            f"{at}.transport_type: {TRANSPORT} (stdio would run a command on this server; the older"
            " SSE transport is superseded)"
        )
    http = config.get("streamable_http_config")
    if not isinstance(http, dict):
        raise invalid(f"{at}.streamable_http_config: an object with url and headers")
    url = http.get("url")
    try:
        webfetch.split(url if isinstance(url, str) else "")
    except webfetch.FetchError as exc:
        raise invalid(f"{at}.streamable_http_config.url: {exc}")
    headers = http.get("headers") or {}
    if not isinstance(headers, dict) or len(headers) > MAX_HEADERS:
        raise invalid(f"{at}.streamable_http_config.headers: an object of at most {MAX_HEADERS} headers")
    for name, value in headers.items():
        if not _HEADER_NAME.fullmatch(name) or not isinstance(value, str) or "\n" in value or "\r" in value:
            raise invalid(f"{at}.streamable_http_config.headers.{name}: a header name and a one-line text")
    return Server(url, dict(headers))


def with_headers(manifest: dict, headers: dict[str, str]) -> dict:
    """The manifest with other header values (masked ones, for storing and showing)."""
    copy = json.loads(json.dumps(manifest))
    copy["api"]["extensions"]["mcp_config"]["streamable_http_config"]["headers"] = headers
    return copy


# --- sessions --------------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def _session(
    server: Server, extra_headers: dict[str, str], query: dict[str, str], transport: webfetch.GuardedTransport
):
    from mcp import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    settings = get_settings()
    url = str(httpx.URL(server.url).copy_merge_params(query)) if query else server.url
    async with httpx.AsyncClient(
        transport=transport,
        headers={**server.headers, **extra_headers, "User-Agent": "cozeplus-mcp/1.0"},
        timeout=httpx.Timeout(settings.plugin_timeout_seconds),
        follow_redirects=True,
        max_redirects=webfetch.MAX_REDIRECTS,
        trust_env=False,
    ) as client:
        async with streamable_http_client(url, http_client=client) as (read, write, _):
            async with ClientSession(read, write) as session:
                await session.initialize()
                yield session


def _run(work, server: Server, extra_headers: dict[str, str], query: dict[str, str]):
    """Run `work(session)` in a session of its own, under the plugin call's timeout. Blocking:
    called from worker threads, as HTTP tool calls are."""

    settings = get_settings()
    failures: list[webfetch.FetchError] = []
    scopes: list[anyio.CancelScope] = []

    def failed(error: webfetch.FetchError) -> None:  # the SDK would swallow it and wait
        failures.append(error)
        scopes[0].cancel()

    transport = webfetch.GuardedTransport(max_bytes=settings.plugin_max_response_bytes, on_failure=failed)

    async def main():
        with anyio.fail_after(settings.plugin_timeout_seconds):
            with anyio.CancelScope() as stop:
                scopes.append(stop)
                async with _session(server, extra_headers, query, transport) as session:
                    return await work(session)
        raise failures[0]

    try:
        return anyio.run(main)
    except TimeoutError:
        raise Unreachable(f"no answer within {settings.plugin_timeout_seconds:g} s")
    except BaseException as exc:  # the SDK wraps failures in exception groups
        failure = _unreachable(exc)
        if transport.refusals and not failure.refused:  # the SDK's own message hides the status
            failure = Unreachable(f"the MCP server answered HTTP {transport.refusals[-1]}")
        raise failure


def _unreachable(exc: BaseException) -> Unreachable:
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    if isinstance(exc, Unreachable):
        return exc
    if isinstance(exc, webfetch.FetchError):
        return Unreachable(str(exc), refused=exc.forbidden)
    if isinstance(exc, httpx.HTTPStatusError) and exc.response.is_redirect:
        location = exc.response.headers.get("location", "")[:300]
        return Unreachable(
            f"the MCP server redirected to {location}, which is not followed: "
            "MCP requests follow redirects only on the server's own origin"
        )
    if isinstance(exc, httpx.HTTPStatusError):
        return Unreachable(f"the MCP server answered HTTP {exc.response.status_code}")
    if isinstance(exc, httpx.TimeoutException | TimeoutError):
        return Unreachable(f"no answer within {get_settings().plugin_timeout_seconds:g} s")
    if isinstance(exc, httpx.HTTPError):
        return Unreachable(f"the MCP server could not be reached: {type(exc).__name__}")
    if isinstance(exc, Exception):
        return Unreachable(f"the MCP session failed: {str(exc)[:300] or type(exc).__name__}")
    raise exc  # KeyboardInterrupt, SystemExit, cancellation: not ours to turn into a message


# --- tools -----------------------------------------------------------------------------------------


def list_tools(server: Server, extra_headers: dict[str, str], query: dict[str, str]) -> list[types.Tool]:
    async def work(session: ClientSession) -> list[types.Tool]:
        found, cursor = [], None
        while True:
            page = await session.list_tools(cursor)
            found.extend(page.tools)
            cursor = page.nextCursor
            if not cursor or len(found) > plugin_docs.MAX_TOOLS:
                return found

    return _run(work, server, extra_headers, query)


def specs_of(listed: list[types.Tool], where: str = "mcp") -> list[plugin_docs.ToolSpec]:
    """The server's tools as tools of ours: each a POST with a JSON body of its input schema
    (local $refs inlined); names the model cannot call are made callable, the server's kept."""
    if not listed:
        raise errors.PLUGIN_OPENAPI_INVALID(f"{where}: the MCP server offers no tools")
    if len(listed) > plugin_docs.MAX_TOOLS:
        raise errors.PLUGIN_OPENAPI_INVALID(f"{where}: at most {plugin_docs.MAX_TOOLS} tools")
    specs, taken = [], set()
    for index, tool in enumerate(listed):
        name = _callable_name(tool.name, taken)
        try:
            schema = plugin_docs.inline_refs(tool.inputSchema or {}, f"{where}.tools[{index}].inputSchema")
        except errors.ApiError:  # a recursive schema: the server checks what it is sent
            schema = {"type": "object", "additionalProperties": True}
        schema = {k: v for k, v in schema.items() if k not in ("$defs", "definitions", "$schema")}
        schema.setdefault("type", "object")
        description = tool.description or tool.title or tool.name
        operation = {
            "summary": (tool.title or "")[:300],
            "description": description,
            "parameters": [],
            "requestBody": {"required": True, "content": {"application/json": {"schema": schema}}},
            "responses": {"200": {"description": "OK"}},
            TOOL_KEY: tool.name,
        }
        if tool.outputSchema:
            operation["responses"]["200"]["content"] = {"application/json": {"schema": tool.outputSchema}}
        specs.append(plugin_docs.ToolSpec(name, description, "post", f"/{name}", operation))
    return specs


def _callable_name(name: str, taken: set[str]) -> str:
    base = _UNSAFE.sub("_", name)
    if not base[:1].isalpha():
        base = f"tool_{base}"
    base = base[:64]
    candidate, number = base, 2
    while candidate.lower() in taken:
        suffix = f"_{number}"
        candidate, number = base[: 64 - len(suffix)] + suffix, number + 1
    taken.add(candidate.lower())
    return candidate


@dataclasses.dataclass
class Called:
    success: bool
    response: str  # the result as JSON, whole
    output: str  # the result as the model reads it (before cutting)
    reason: str = ""


def call_tool(
    server: Server, name: str, arguments: dict, extra_headers: dict[str, str], query: dict[str, str]
) -> Called:
    async def work(session: ClientSession) -> types.CallToolResult:
        return await session.call_tool(name, arguments)

    result = _run(work, server, extra_headers, query)
    response = json.dumps(result.model_dump(mode="json", exclude_none=True), ensure_ascii=False)
    if result.structuredContent is not None:
        output = json.dumps(result.structuredContent, ensure_ascii=False)
    else:
        output = "\n".join(_content_text(part) for part in result.content)
    reason = f"the tool reported an error: {output[:300]}" if result.isError else ""
    return Called(not result.isError, response, output, reason)


def _content_text(part) -> str:
    from mcp import types

    if isinstance(part, types.TextContent):
        return part.text
    if isinstance(part, types.ImageContent | types.AudioContent):
        return f"[{part.type}: {part.mimeType}, {len(part.data) * 3 // 4} bytes]"
    if isinstance(part, types.ResourceLink):
        return f"[resource: {part.uri}]"
    if isinstance(part, types.EmbeddedResource):
        resource = part.resource
        return getattr(resource, "text", None) or f"[resource: {resource.uri}]"
    return json.dumps(part.model_dump(mode="json", exclude_none=True), ensure_ascii=False)
