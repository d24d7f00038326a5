"""The local endpoint bench/plugin_calls.py calls: a JSON answer to GET /api/forecast/{city}.
Run: uvicorn --factory bench.tool_service:create"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


async def forecast(request: Request):
    days = int(request.query_params.get("days", "3"))
    return JSONResponse({"city": request.path_params["city"], "days": days, "high": [21.5] * days})


def create():
    return Starlette(routes=[Route("/api/forecast/{city}", forecast)])
