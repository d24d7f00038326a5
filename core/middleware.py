"""ASGI middleware around the Connexion stack: request ids, access logs, body limits, and the
trailing-slash aliases of Coze's passport paths."""

from __future__ import annotations

import itertools
import re
import secrets
import time
from urllib.parse import parse_qsl, urlencode

from core import errors, logs
from core.envelope import error_body, request_id_var
from core.metrics import record_request

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
# Generated ids: a random per-process prefix and a counter (uuid4 per request cost ~4% of a read).
_ID_PREFIX = secrets.token_hex(8)
RAW_BODY = "cozeplus.raw_body"  # in scope["extensions"]: the bytes of an x-raw-body operation's body
_id_counter = itertools.count(1)
# on every answer: no MIME sniffing, no framing, no referrer leaking ids in URLs; the API's JSON may
# run nothing (the Swagger UI pages, which run scripts, get all but the policy)
SECURITY_HEADERS = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
)
API_POLICY = (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'")
HSTS = (b"strict-transport-security", b"max-age=31536000")
NO_STORE = (b"cache-control", b"no-store")


class RequestContextMiddleware:
    def __init__(
        self,
        app,
        *,
        slash_paths: set[str],
        shadowing_paths: dict[str, set[str]] | None = None,
        raw_body_prefixes: tuple[str, ...] = (),
        max_json_body: int,
        max_upload_body: int,
        log_requests: bool = True,
        metrics: bool = True,
        https: bool = False,
    ):
        self.app = app
        self.https = https  # behind TLS (COZEPLUS_COOKIE_SECURE): browsers are told to stay on it
        self.slash_paths = slash_paths  # spec paths that end in "/": also answered without it
        # literal paths a templated one also matches (POST /v1/workflows/chat, GET /v1/workflows/{id}):
        # another method on them is 405, not the templated route's complaint about its parameter
        self.shadowing_paths = shadowing_paths or {}
        self.raw_body_prefixes = raw_body_prefixes
        self.max_json_body = max_json_body
        self.max_upload_body = max_upload_body
        self.log_requests = log_requests
        self.metrics = metrics  # counted here, where the status and the time already are

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        # Inner middlewares record routing and auth here; it must be shared with the outer ones.
        scope.setdefault("extensions", {})
        headers = dict(scope["headers"])
        incoming = headers.get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if _REQUEST_ID.match(incoming) else f"{_ID_PREFIX}{next(_id_counter):016x}"
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status_holder = {"status": 0}
        id_header = request_id.encode()

        query = scope.get("query_string", b"")
        if query and (b"=&" in query or query.endswith(b"=")):
            # SDKs send unset parameters as "name=" (cozepy turns None into ""): treat as absent.
            kept = [(k, v) for k, v in parse_qsl(query.decode("latin-1"), keep_blank_values=True) if v != ""]
            scope = dict(scope, query_string=urlencode(kept).encode("latin-1"))
        if scope["path"] + "/" in self.slash_paths:
            scope = dict(scope, path=scope["path"] + "/", raw_path=scope["raw_path"] + b"/")

        protected = [*SECURITY_HEADERS, *((HSTS,) if self.https else ())]
        if not scope["path"].startswith("/ui"):
            protected.append(API_POLICY)

        async def send_with_id(message):
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                message = dict(message)
                answer = message.get("headers", [])
                cached = any(name.lower() == b"cache-control" for name, _ in answer)
                message["headers"] = [
                    *answer,
                    (b"x-request-id", id_header),
                    (b"x-tt-logid", id_header),
                    *protected,
                    *(() if cached else (NO_STORE,)),
                ]
            await send(message)

        content_type = headers.get(b"content-type", b"")
        # JSON and forms are parsed in memory: they get the small limit; files (multipart, raw) the large one.
        parsed = b"json" in content_type or content_type.startswith(b"application/x-www-form-urlencoded")
        limit = self.max_json_body if parsed or not content_type else self.max_upload_body
        try:
            declared = int(headers.get(b"content-length", b"0") or 0)
        except ValueError:
            declared = 0
        try:
            if declared > limit:
                await _send_error(
                    send_with_id,
                    errors.PAYLOAD_TOO_LARGE,
                    f"the request body is {declared} bytes; the limit is {limit}",
                )
            elif b"content-length" not in headers and b"chunked" in headers.get(b"transfer-encoding", b""):
                # Connexion treats a body without Content-Length as absent: buffer it (bounded).
                body = await read_all(_limited(receive, limit, reject_nul=b"json" in content_type))
                scope = dict(scope, headers=[*scope["headers"], (b"content-length", str(len(body)).encode())])
                await self.app(scope, replay_body(body, receive), send_with_id)
            elif scope["method"] not in self.shadowing_paths.get(scope["path"], (scope["method"],)):
                allowed = ", ".join(sorted(self.shadowing_paths[scope["path"]]))
                await _send_error(
                    send_with_id,
                    errors.METHOD_NOT_ALLOWED,
                    f"method {scope['method']} is not allowed on {scope['path']}",
                    [(b"allow", allowed.encode())],
                )
            elif b"%00" in query:
                await _send_error(
                    send_with_id, errors.BAD_REQUEST, "query parameters must not contain NUL characters"
                )
            elif scope["method"] == "POST" and scope["path"].startswith(self.raw_body_prefixes or ("\0",)):
                body = await read_all(_limited(receive, limit))
                scope["extensions"][RAW_BODY] = body
                await self.app(scope, replay_body(body, receive), send_with_id)
            else:
                await self.app(
                    scope, _limited(receive, limit, reject_nul=b"json" in content_type), send_with_id
                )
        except errors.ApiError as exc:  # a body over the limit, noticed while streaming it
            if status_holder["status"] == 0:
                await _send_error(send_with_id, exc.error, exc.msg)
        finally:
            if self.metrics:
                record_request(scope, status_holder["status"] or 500, time.perf_counter() - started)
            if self.log_requests:
                _log_access(scope, status_holder["status"], started)
            request_id_var.reset(token)


def _limited(receive, limit: int, reject_nul: bool = False):
    """Count the body against the limit; in JSON, refuse NUL characters (PostgreSQL cannot store
    them in text, and no field of ours means one), whichever database is in use."""
    received = 0
    tail = b""

    async def wrapped():
        nonlocal received, tail
        message = await receive()
        if message["type"] == "http.request":
            chunk = message.get("body", b"")
            received += len(chunk)
            if received > limit:
                raise errors.PAYLOAD_TOO_LARGE(f"the request body is over the limit of {limit} bytes")
            if reject_nul:
                window = tail + chunk
                if b"\\u0000" in window or b"\x00" in window:
                    raise errors.BAD_REQUEST("JSON strings must not contain NUL characters (\\u0000)")
                tail = window[-5:]
        return message

    return wrapped


async def read_all(receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    return b"".join(chunks)


def replay_body(body: bytes, receive):
    sent = False

    async def wrapped():
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()  # after the body: wait for the disconnect

    return wrapped


async def _send_error(send, error: errors.ErrorCode, msg: str, headers: list | None = None) -> None:
    body = error_body(error.code, msg)
    await send(
        {
            "type": "http.response.start",
            "status": error.status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _log_access(scope, status: int, started: float) -> None:
    context = scope.get("extensions", {}).get("connexion_context", {})
    client = scope.get("client") or ("", 0)
    logs.access(
        {
            "method": scope["method"],
            "path": scope["path"],
            "status": status,
            "duration_ms": round((time.perf_counter() - started) * 1000, 2),
            "user_id": context.get("user"),
            "client": client[0],
        }
    )
