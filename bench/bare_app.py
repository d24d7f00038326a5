"""Baselines: bare Starlette endpoints doing the same work as cozeplus's, with no OpenAPI routing,
validation or envelope middleware. Run: uvicorn --factory bench.bare_app:create

- POST /api/passport/account/info/v2/ (bench/auth_reads.py): check the JWT, read the session and
  user in one query.
- POST /bare/memory/list (bench/memory.py): the same check, then a memory table's query as SQL
  written by hand (the page and the total), for the table named by BENCH_MEMORY_TABLE."""

from __future__ import annotations

import json
import os

import jwt
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from core.settings import get_settings
from models.db import db, init_db
from models.identity import LoginSession


def _user(request: Request):
    """The caller, or the response refusing them."""
    header = request.headers.get("authorization", "")
    if not header.startswith("Bearer "):
        return None, JSONResponse({"code": 4100, "msg": "no token"}, status_code=401)
    try:
        claims = jwt.decode(header[7:], get_settings().secret_key, algorithms=["HS256"])
    except jwt.InvalidTokenError:
        return None, JSONResponse({"code": 700012006, "msg": "bad token"}, status_code=401)
    user = LoginSession.active_user(claims["jti"])
    if user is None:
        return None, JSONResponse({"code": 700012006, "msg": "revoked"}, status_code=401)
    return user, None


def account_info(request: Request):  # sync: Starlette runs it in the thread pool, as Connexion does
    user, refusal = _user(request)
    if refusal:
        return refusal
    return JSONResponse(
        {
            "code": 0,
            "msg": "success",
            "data": {"user_id_str": str(user.id), "name": user.name, "email": user.email},
        }
    )


def _memory_page(user_refusal, body: dict) -> JSONResponse:
    from bench.memory import PAGE, direct_statements

    _, refusal = user_refusal
    if refusal:
        return refusal
    table, columns = os.environ["BENCH_MEMORY_TABLE"], json.loads(os.environ["BENCH_MEMORY_COLUMNS"])
    page, count, values = direct_statements(table, columns, body["shape"], body["params"])
    cursor = db.execute_sql(page.replace("?", db.param), values)
    names = [d[0] for d in cursor.description]
    rows = [{n: str(v) for n, v in zip(names, row)} for row in cursor.fetchall()]
    total = (
        db.execute_sql(count.replace("?", db.param), values).fetchone()[0] if len(rows) > PAGE else len(rows)
    )
    return JSONResponse({"code": 0, "data": rows[:PAGE], "has_more": len(rows) > PAGE, "total": total})


async def memory_list(request: Request):
    body = await request.json()
    return await run_in_threadpool(lambda: _memory_page(_user(request), body))


def create():
    init_db(get_settings().database_url)
    return Starlette(
        routes=[
            Route("/api/passport/account/info/v2/", account_info, methods=["POST"]),
            Route("/bare/memory/list", memory_list, methods=["POST"]),
        ]
    )
