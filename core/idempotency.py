"""`Idempotency-Key` on the creating operations (the spec's IdempotencyKey parameter).

The first request with a key runs, and its successful answer (status, type and body, a stream's
whole text included) is kept for a day under the user and the key; a retry with the same
operation and body gets that answer again, marked `Idempotent-Replayed: true`, and does nothing.
A retry with another body is 422; one while the first runs is 409. A first request that failed
(4xx) is forgotten, so its retry runs again; one whose process died mid-way left its outcome
unknown, and its retry is 409 saying so rather than risking the work twice."""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable

from peewee import IntegrityError

from core import errors
from core.audit import ACTOR
from core.middleware import read_all, replay_body
from core.settings import get_settings
from models.db import db, run_db
from models.idempotency import DONE, KEEP_SECONDS, IdempotencyKey
from models.workers import WorkerInstance

HEADER = b"idempotency-key"
VALID_KEY = re.compile(r"[!-~]{1,255}")
MAX_KEPT_BYTES = 1024 * 1024  # a longer answer is not kept: its retry is told so
REPLAYED = (b"idempotent-replayed", b"true")


def _header(scope, name: bytes) -> bytes | None:
    for key, value in scope.get("headers") or []:
        if key == name:
            return value
    return None


def fingerprint(scope, body: bytes) -> str:
    """What makes two requests the same one: operation path, query and body. A multipart body's
    boundary is random per attempt, so it is taken out first."""
    content_type = (_header(scope, b"content-type") or b"").decode("latin-1")
    boundary = re.search(r"boundary=\"?([^\";]+)", content_type)
    if boundary:
        body = body.replace(boundary.group(1).encode("latin-1"), b"<boundary>")
    digest = hashlib.sha256()
    for part in (scope["path"].encode(), scope.get("query_string") or b"", body):
        digest.update(len(part).to_bytes(8, "big") + part)
    return digest.hexdigest()


def _claim(owner: str, key: str, operation: str, print_: str, worker_id: int) -> IdempotencyKey | None:
    """Reserve the key for this request (None), or the row of the request that holds it."""
    now = int(time.time())
    found = IdempotencyKey.get_or_none(IdempotencyKey.owner == owner, IdempotencyKey.key == key)
    if found is not None and found.created_at < now - KEEP_SECONDS:
        found.delete_instance()  # expired: the key is free again
        found = None
    if found is not None:
        return found
    try:
        with db.atomic():
            IdempotencyKey.create(
                owner=owner, key=key, operation=operation, fingerprint=print_, worker_id=worker_id
            )
        return None
    except IntegrityError:  # a concurrent request with the key reserved it first
        return IdempotencyKey.get(IdempotencyKey.owner == owner, IdempotencyKey.key == key)


def _finish(owner: str, key: str, status: int, content_type: str, body: bytes | None) -> None:
    IdempotencyKey.update(
        status=DONE, worker_id=None, response_status=status, response_type=content_type, response_body=body
    ).where(IdempotencyKey.owner == owner, IdempotencyKey.key == key).execute()


def _forget(owner: str, key: str) -> None:
    IdempotencyKey.delete().where(IdempotencyKey.owner == owner, IdempotencyKey.key == key).execute()


def _process_alive(worker_id: int | None) -> bool:
    if worker_id is None:
        return False
    beat = WorkerInstance.select(WorkerInstance.heartbeat_at).where(WorkerInstance.id == worker_id).first()
    return beat is not None and beat.heartbeat_at >= time.time() - 3 * get_settings().heartbeat_seconds


def _refusal(held: IdempotencyKey, operation: str, print_: str) -> errors.ApiError | None:
    if held.operation != operation or held.fingerprint != print_:
        return errors.IDEMPOTENCY_KEY_REUSED(
            "header Idempotency-Key: this key was used for a different request (another operation or "
            "body); use a new key for a new request"
        )
    if held.status == DONE:
        if held.response_body is None:
            return errors.IDEMPOTENCY_KEY_IN_USE(
                f"header Idempotency-Key: the request with this key was answered with HTTP "
                f"{held.response_status}, but its answer was too long to keep (or was cut off) and "
                "cannot be sent again; it will not be run twice"
            )
        return None
    if _process_alive(held.worker_id):
        return errors.IDEMPOTENCY_KEY_IN_USE(
            "header Idempotency-Key: a request with this key is still in progress; retry when it has ended"
        )
    return errors.IDEMPOTENCY_KEY_IN_USE(
        "header Idempotency-Key: the request with this key was interrupted (the server running it "
        "stopped) and its outcome is unknown; check whether it took effect, and use a new key to try again"
    )


class IdempotencyMiddleware:
    """After routing and security, on the operations whose spec takes the header."""

    def __init__(self, app, *, operations: frozenset[str], process_id: Callable[[], int]):
        self.app = app
        self.operations = operations
        self.process_id = process_id

    async def __call__(self, scope, receive, send):
        raw = _header(scope, HEADER) if scope["type"] == "http" else None
        extensions = scope.get("extensions") or {}
        routing = extensions.get("connexion_routing") or {}
        operation = str(routing.get("operation_id") or "").rsplit(".", 1)[-1]
        actor = extensions.get(ACTOR)
        key = raw.decode("latin-1") if raw is not None else ""
        if operation not in self.operations or actor is None or not VALID_KEY.fullmatch(key):
            return await self.app(scope, receive, send)  # a malformed key: validation answers 400
        owner = f"user:{actor}"
        body = await read_all(receive)
        print_ = fingerprint(scope, body)
        held = await run_db(_claim, owner, key, operation, print_, self.process_id())
        if held is not None:
            refusal = _refusal(held, operation, print_)
            if refusal is not None:
                raise refusal
            return await self._replay(held, send)

        answer = {"status": 0, "type": "", "body": bytearray(), "whole": True}

        async def capturing_send(message):
            if message["type"] == "http.response.start":
                answer["status"] = message["status"]
                answer["type"] = (dict(message.get("headers") or []).get(b"content-type") or b"").decode(
                    "latin-1"
                )
            elif message["type"] == "http.response.body" and answer["whole"]:
                answer["body"] += message.get("body", b"")
                if len(answer["body"]) > MAX_KEPT_BYTES:
                    answer["whole"], answer["body"] = False, bytearray()
            await send(message)

        try:
            await self.app(scope, replay_body(body, receive), capturing_send)
        except BaseException:
            if 200 <= answer["status"] < 400:  # it answered, then broke: it ran, but is not replayable
                await run_db(_finish, owner, key, answer["status"], answer["type"], None)
            else:
                await run_db(_forget, owner, key)
            raise
        if 200 <= answer["status"] < 400:
            kept = bytes(answer["body"]) if answer["whole"] else None
            await run_db(_finish, owner, key, answer["status"], answer["type"], kept)
        else:
            await run_db(_forget, owner, key)

    @staticmethod
    async def _replay(held: IdempotencyKey, send) -> None:
        body = bytes(held.response_body)
        headers = [
            (b"content-type", held.response_type.encode("latin-1")),
            (b"content-length", str(len(body)).encode()),
            REPLAYED,
        ]
        await send({"type": "http.response.start", "status": held.response_status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
