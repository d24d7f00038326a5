"""An MCP server for the tests (the official SDK's FastMCP on the streamable HTTP transport),
behind a check of the header its plugin must send."""

from __future__ import annotations

import json

from mcp.server.fastmcp import FastMCP
from mcp.server.transport_security import TransportSecuritySettings
from starlette.responses import JSONResponse

MCP_KEY = "mcp-key-1"


class McpService:
    def __init__(self):
        self.seen_headers: list[dict] = []
        server = FastMCP(
            "Test tools",
            transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
        )

        @server.tool()
        def add(a: int, b: int) -> int:
            """Add two integers"""
            return a + b

        @server.tool(name="echo-text", description="Repeat a text")
        def echo(text: str, times: int = 1) -> str:
            return text * times

        @server.tool()
        def explode(reason: str) -> str:
            """Fail on purpose"""
            raise ValueError(reason)

        @server.tool()
        def big(size: int) -> str:
            """A long text"""
            return "x" * size

        inner = server.streamable_http_app()

        async def app(scope, receive, send):
            if scope["type"] == "http":
                headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
                self.seen_headers.append(headers)
                if headers.get("x-api-key") != MCP_KEY:
                    await JSONResponse({"error": "no key"}, status_code=401)(scope, receive, send)
                    return
            await inner(scope, receive, send)

        self.app = app


def mcp_manifest(url: str, key: str = MCP_KEY, **changes) -> str:
    body = {
        "schema_version": "v1",
        "name_for_human": "Calculator",
        "name_for_model": "calculator",
        "description_for_human": "Sums and echoes",
        "description_for_model": "Arithmetic tools",
        "api": {
            "type": "coze-studio-mcp",
            "extensions": {
                "mcp_config": {
                    "transport_type": "streamable_http",
                    "streamable_http_config": {"url": url, "headers": {"X-Api-Key": key}},
                }
            },
        },
        "auth": {"type": "none"},
        **changes,
    }
    return json.dumps(body)
