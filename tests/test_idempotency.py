"""Idempotency-Key on creating operations: a retry gets the first answer again and creates
nothing more; another body under the key is 422, a key still running or interrupted is 409, a
failed first attempt runs again, keys are per user and expire; streams and uploads replay too."""

from __future__ import annotations

import time

from conftest import assert_error
from test_chat import chat_body, new_agent

from models.agent import Bot
from models.conversation import ChatRun
from models.files import StoredFile
from models.idempotency import DONE, KEEP_SECONDS, RUNNING, IdempotencyKey
from services import recovery


def keyed(key: str) -> dict:
    return {"headers": {"Idempotency-Key": key}}


def agents_named(name: str) -> int:
    return Bot.select().where(Bot.name == name).count()


def test_a_retry_gets_the_first_answer_and_creates_nothing(alice, bob):
    first = alice.post("/api/draftbot/create", {"name": "Once only"}, **keyed("k-1"))
    again = alice.post("/api/draftbot/create", {"name": "Once only"}, **keyed("k-1"))
    assert first.json()["code"] == 0 and again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true" and "idempotent-replayed" not in first.headers
    assert agents_named("Once only") == 1
    row = IdempotencyKey.get(IdempotencyKey.key == "k-1")
    assert (row.owner, row.status, row.operation) == (f"user:{alice.user_id}", DONE, "create_bot")
    # the key is alice's: bob's request with it is his own
    theirs = bob.post("/api/draftbot/create", {"name": "Once only"}, **keyed("k-1"))
    assert theirs.json()["data"]["bot_id"] != first.json()["data"]["bot_id"]
    assert "idempotent-replayed" not in theirs.headers and agents_named("Once only") == 2
    # without a key every request runs
    alice.post("/api/draftbot/create", {"name": "Once only"})
    assert agents_named("Once only") == 3


def test_the_key_with_another_body_or_operation_is_refused(alice):
    alice.post("/api/draftbot/create", {"name": "Kept"}, **keyed("k-2"))
    other = alice.post("/api/draftbot/create", {"name": "Changed"}, **keyed("k-2"))
    assert_error(other, 422, 4222, "Idempotency-Key", "different request")
    elsewhere = alice.post("/api/knowledge/create", {"name": "Kept", "format_type": 0}, **keyed("k-2"))
    assert_error(elsewhere, 422, 4222)
    assert agents_named("Changed") == 0 and agents_named("Kept") == 1


def test_a_failed_first_attempt_runs_again_and_bad_keys_are_refused(alice):
    failed = alice.post("/api/draftbot/create", {"name": ""}, **keyed("k-3"))
    assert failed.status_code == 400
    assert IdempotencyKey.get_or_none(IdempotencyKey.key == "k-3") is None
    retried = alice.post("/api/draftbot/create", {"name": "Second try"}, **keyed("k-3"))
    assert retried.json()["code"] == 0 and agents_named("Second try") == 1
    for bad in ("x" * 256, "has space"):
        response = alice.post("/api/draftbot/create", {"name": "Bad key"}, **keyed(bad))
        body = assert_error(response, 400, 100000000)
        assert "Idempotency-Key" in body["msg"], body
    assert agents_named("Bad key") == 0


def test_a_key_in_progress_or_interrupted_is_409_and_old_keys_expire(alice):
    body = {"name": "Racing"}
    alice.post("/api/draftbot/create", body, **keyed("k-probe"))  # what this body's fingerprint is
    same = IdempotencyKey.get(IdempotencyKey.key == "k-probe").fingerprint
    common = dict(owner=f"user:{alice.user_id}", operation="create_bot", fingerprint=same, status=RUNNING)
    IdempotencyKey.create(key="k-live", worker_id=recovery.current_id(), **common)
    IdempotencyKey.create(key="k-dead", worker_id=12345, **common)
    live = alice.post("/api/draftbot/create", body, **keyed("k-live"))
    assert_error(live, 409, 4109, "still in progress")
    dead = alice.post("/api/draftbot/create", body, **keyed("k-dead"))
    assert_error(dead, 409, 4109, "interrupted", "outcome is unknown")
    assert agents_named("Racing") == 1

    alice.post("/api/draftbot/create", body, **keyed("k-old"))
    IdempotencyKey.update(created_at=int(time.time()) - KEEP_SECONDS - 1).where(
        IdempotencyKey.key == "k-old"
    ).execute()
    again = alice.post("/api/draftbot/create", body, **keyed("k-old"))
    assert "idempotent-replayed" not in again.headers and agents_named("Racing") == 3
    IdempotencyKey.update(created_at=int(time.time()) - KEEP_SECONDS - 1).execute()
    recovery.reap()
    assert IdempotencyKey.select().count() == 0


def test_a_streamed_chat_replays_its_stream_and_runs_once(alice):
    bot_id = new_agent(alice)
    body = chat_body(bot_id, "/echo Just once")
    first = alice.post("/v3/chat", body, **keyed("chat-1"))
    again = alice.post("/v3/chat", body, **keyed("chat-1"))
    assert "Just once" in first.text and again.text == first.text
    assert again.headers["content-type"].startswith("text/event-stream")
    assert ChatRun.select().where(ChatRun.bot == int(bot_id)).count() == 1


def test_an_upload_retried_with_a_new_boundary_is_the_same_upload(alice):
    first = alice.post(
        "/v1/files/upload", files={"file": ("a.txt", b"same bytes", "text/plain")}, **keyed("up")
    )
    again = alice.post(
        "/v1/files/upload", files={"file": ("a.txt", b"same bytes", "text/plain")}, **keyed("up")
    )
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json()["data"]["id"] == first.json()["data"]["id"]
    assert StoredFile.select().where(StoredFile.owner == int(alice.user_id)).count() == 1
