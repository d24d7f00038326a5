"""The response envelope {code, msg, data} for successes and errors, and Connexion's error hooks."""

from __future__ import annotations

import contextvars
import json
import logging
import re

from connexion.exceptions import ProblemException
from connexion.lifecycle import ConnexionRequest, ConnexionResponse
from connexion.middleware.abstract import ROUTING_CONTEXT
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.requests import ClientDisconnect

from core import errors

log = logging.getLogger("cozeplus.errors")

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")

SUCCESS_MSG = "success"


def ok(data=None) -> dict:
    return {"code": 0, "msg": SUCCESS_MSG, "data": data}


def error_body(code: int, msg: str) -> bytes:
    body = {"code": code, "msg": msg, "data": None, "detail": {"logid": request_id_var.get()}}
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def error_response(
    error: errors.ErrorCode, msg: str | None = None, headers: dict | None = None
) -> ConnexionResponse:
    return ConnexionResponse(
        status_code=error.status,
        mimetype="application/json",
        content_type="application/json",
        body=error_body(error.code, msg or error.message),
        headers=headers or {},
    )


class ErrorRenderer:
    """Turns every exception into the envelope; knows each operation's tag for its domain code."""

    def __init__(self, tag_by_operation: dict[str, str], methods_by_path: dict[str, set[str]]):
        self.tag_by_operation = tag_by_operation
        # Starlette's Allow names only one route's methods when a path has several operations.
        self.allow_by_pattern = [
            (
                re.compile("^" + re.sub(r"\\{[^/]+?\\}", "[^/]+", re.escape(path)) + "/?$"),
                ", ".join(sorted(methods | ({"HEAD"} if "GET" in methods else set()))),
            )
            for path, methods in methods_by_path.items()
        ]

    def _allow(self, path: str, fallback: str | None) -> str | None:
        for pattern, allow in self.allow_by_pattern:
            if pattern.match(path):
                return allow
        return fallback

    def _tag(self, request: ConnexionRequest) -> str:
        routing = request.scope.get("extensions", {}).get(ROUTING_CONTEXT, {})
        return self.tag_by_operation.get(routing.get("operation_id") or "") or ""

    def _invalid_param_code(self, request: ConnexionRequest) -> errors.ErrorCode:
        tag = self._tag(request)
        error = errors.INVALID_PARAM_BY_TAG.get(tag, errors.BAD_REQUEST)
        return errors.open_form(error) if tag in errors.OPEN_CODE_TAGS else error

    async def api_error(self, request: ConnexionRequest, exc: errors.ApiError):
        error = errors.open_form(exc.error) if self._tag(request) in errors.OPEN_CODE_TAGS else exc.error
        return error_response(error, exc.msg, exc.headers)

    async def problem(self, request: ConnexionRequest, exc: ProblemException):
        status = exc.status
        detail = _first_line(exc.detail) or exc.title or ""
        if status == 400:
            error = self._invalid_param_code(request)
        elif status == 401:
            error = errors.UNAUTHENTICATED
            detail = f"authentication required: {detail}" if detail else None
        elif status == 403:
            error = errors.FORBIDDEN
        elif status == 415:
            error = errors.UNSUPPORTED_MEDIA_TYPE
        elif status == 404:
            error = errors.ROUTE_NOT_FOUND
        else:
            log.error("unexpected problem %s: %s", status, detail)
            return error_response(errors.INTERNAL_ERROR)
        return error_response(error, detail, dict(exc.headers or {}))

    async def http_exception(self, request: ConnexionRequest, exc: HTTPException):
        headers = dict(exc.headers or {})  # keeps Allow on 405
        if exc.status_code == 404:
            return error_response(
                errors.ROUTE_NOT_FOUND, f"no route {request.method} {request.url.path}", headers
            )
        if exc.status_code == 405:
            headers["Allow"] = self._allow(request.url.path, headers.get("Allow"))
            headers.pop("allow", None)
            return error_response(
                errors.METHOD_NOT_ALLOWED,
                f"method {request.method} is not allowed on {request.url.path}",
                headers,
            )
        if 400 <= exc.status_code < 500:
            return error_response(errors.BAD_REQUEST, str(exc.detail), headers)
        return error_response(errors.INTERNAL_ERROR)

    async def not_utf8(self, request: ConnexionRequest, exc: UnicodeDecodeError):
        return error_response(self._invalid_param_code(request), "the request body is not valid UTF-8")

    async def bad_multipart(self, request: ConnexionRequest, exc: MultiPartException):
        return error_response(
            self._invalid_param_code(request), f"the multipart body is malformed: {exc.message}"
        )

    async def client_gone(self, request: ConnexionRequest, exc: ClientDisconnect):
        # Nobody is left to read this; answer quietly instead of logging a crash.
        return error_response(errors.BAD_REQUEST, "the client disconnected")

    async def unexpected(self, request: ConnexionRequest, exc: Exception):
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(errors.INTERNAL_ERROR)

    def install(self, app) -> None:
        app.add_error_handler(errors.ApiError, self.api_error)
        app.add_error_handler(ProblemException, self.problem)
        app.add_error_handler(HTTPException, self.http_exception)
        app.add_error_handler(UnicodeDecodeError, self.not_utf8)
        app.add_error_handler(MultiPartException, self.bad_multipart)
        app.add_error_handler(ClientDisconnect, self.client_gone)
        app.add_error_handler(Exception, self.unexpected)


def _first_line(text) -> str:
    if not text:
        return ""
    text = str(text).strip()
    return text.splitlines()[0][:500] if text else ""
