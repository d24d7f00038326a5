"""The baseline for bench/auth_reads.py: a bare Starlette endpoint doing the same work as
POST /api/passport/account/info/v2/ — check the JWT, read the session and user in one query —
with no OpenAPI routing, validation or envelope middleware. Run: uvicorn --factory bench.bare_app:create"""

from __future__ import annotations

import jwt
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from core.settings import get_settings
from models.db import init_db
from models.identity import LoginSession


def account_info(request: Request):  # sync: Starlette runs it in the thread pool, as Connexion does
    header = request.headers.get("authorization", "")
    if not header.startswith("Bearer "):
        return JSONResponse({"code": 4100, "msg": "no token"}, status_code=401)
    try:
        claims = jwt.decode(header[7:], get_settings().secret_key, algorithms=["HS256"])
    except jwt.InvalidTokenError:
        return JSONResponse({"code": 700012006, "msg": "bad token"}, status_code=401)
    user = LoginSession.active_user(claims["jti"])
    if user is None:
        return JSONResponse({"code": 700012006, "msg": "revoked"}, status_code=401)
    return JSONResponse(
        {
            "code": 0,
            "msg": "success",
            "data": {"user_id_str": str(user.id), "name": user.name, "email": user.email},
        }
    )


def create():
    init_db(get_settings().database_url)
    return Starlette(routes=[Route("/api/passport/account/info/v2/", account_info, methods=["POST"])])
