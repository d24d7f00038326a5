"""The audit log's recorder: an ASGI middleware that, once a write operation has answered, records
who (the authenticated user), what (the operation and the ids its request named), where (the
client address and agent), when, and the outcome (HTTP status and the envelope's code).

Reads are not recorded: an operation is a read when its name says so (list, get, info ...) and
names no change. Request bodies are never stored, only the values of their id fields (and the
e-mail of passport operations, which have no user yet)."""

from __future__ import annotations

import json
import logging
import re

from core.envelope import request_id_var

log = logging.getLogger("cozeplus.audit")

ACTOR = "cozeplus.actor"  # scope["extensions"][ACTOR]: the user the security layer authenticated
READ_WORDS = frozenset(
    "list get info search retrieve status detail details history histories messages deliveries "
    "types progress schema preview references template templates me process online".split()
)
WRITE_WORDS = frozenset(
    "create update delete add remove set save publish upsert copy move clear reset submit "
    "register login logout cancel resume assign unassign transfer import revoke".split()
)
MAX_CAPTURE = 64 * 1024
_CODE = re.compile(rb'"code"\s*:\s*(-?\d+)')
_ID_KEY = re.compile(r"(^id$|_id$|_ids$|^ids$|Id$|ID$)")


def is_write(operation: str, method: str) -> bool:
    if method in ("GET", "HEAD", "OPTIONS"):
        return False
    words = set(operation.lower().split("_"))
    return bool(words & WRITE_WORDS) or not words & READ_WORDS


def named_ids(body) -> tuple[list[str], int | None]:
    """(the id values at the top of a JSON body, its space_id)."""
    if not isinstance(body, dict):
        return [], None
    found: list[str] = []
    for key, value in body.items():
        if not _ID_KEY.search(key) and key != "email":
            continue
        values = value if isinstance(value, list) else [value]
        found += [
            str(v)[:64].encode("utf-8", "replace").decode()  # a lone surrogate cannot be stored
            for v in values[:20]
            if isinstance(v, str | int) and not isinstance(v, bool)
        ]
    space = body.get("space_id")
    try:
        space_id = int(space) if space is not None else None
    except (TypeError, ValueError):
        space_id = None
    return found[:50], space_id


class AuditMiddleware:
    def __init__(
        self, app, *, tag_by_operation: dict[str, str], reads: frozenset[tuple[str, str]] = frozenset()
    ):
        self.app = app
        self.tag_by_operation = tag_by_operation
        # (method, path) of the reads sent by POST at literal paths: known before routing, so their
        # bodies and answers are not watched only to be dropped
        self.reads = reads

    async def __call__(self, scope, receive, send):
        if (
            scope["type"] != "http"
            or scope["method"] in ("GET", "HEAD", "OPTIONS")
            or (scope["method"], scope["path"]) in self.reads
        ):
            return await self.app(scope, receive, send)
        extensions = scope.setdefault("extensions", {})
        body = bytearray()
        outcome = {"status": 0, "head": b""}

        async def teed_receive():
            message = await receive()
            if message.get("type") == "http.request" and len(body) < MAX_CAPTURE:
                body.extend(message.get("body", b"")[: MAX_CAPTURE - len(body)])
            return message

        async def watched_send(message):
            if message["type"] == "http.response.start":
                outcome["status"] = message["status"]
            elif message["type"] == "http.response.body" and len(outcome["head"]) < 512:
                outcome["head"] += message.get("body", b"")[:512]
            await send(message)

        try:
            await self.app(scope, teed_receive, watched_send)
        finally:
            routing = extensions.get("connexion_routing") or {}
            operation = str(routing.get("operation_id") or "").rsplit(".", 1)[-1]
            if operation and is_write(operation, scope["method"]):
                await self._record(scope, extensions, operation, bytes(body), outcome)

    async def _record(self, scope, extensions, operation: str, body: bytes, outcome: dict) -> None:
        from models.audit import AuditEntry
        from models.db import run_db

        try:
            parsed = json.loads(body) if body[:1] in (b"{", b"[") else None
        except (ValueError, RecursionError):  # refused by validation; the entry still says so
            parsed = None
        ids, space_id = named_ids(parsed)
        actor = extensions.get(ACTOR)
        headers = dict(scope.get("headers") or [])
        code = _CODE.search(outcome["head"])
        entry = AuditEntry(
            actor_id=actor,
            operation=operation[:100],
            method=scope["method"],
            path=scope["path"][:500],
            resource_type=self.tag_by_operation.get(operation, ""),
            resource_ids=ids,
            space_id=space_id,
            status=outcome["status"],
            code=int(code.group(1)) if code else 0,
            client_ip=(scope.get("client") or ("", 0))[0][:64],
            user_agent=headers.get(b"user-agent", b"").decode("latin-1")[:300],
            request_id=request_id_var.get("")[:64],
        )
        try:
            await run_db(entry.insert_new)
        except Exception:  # the request's own outcome stands; a lost entry is logged loudly
            log.exception("audit entry not recorded", extra={"fields": {"operation": operation}})
