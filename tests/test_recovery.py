"""Work whose process died is resumed (documents) or failed with a reason (chats), never left
`processing` or `in_progress`. Here the dead process is simulated in the database; test_crash.py
kills a real server with SIGKILL. The session's own heartbeat may reap before a test calls
reap(), so tests check the outcome, not which call did it."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from conftest import register
from test_chat import new_agent, open_chat
from test_knowledge import add_and_wait, make_dataset, text_source, wait_done

from models.conversation import ChatRun
from models.knowledge import Document
from models.workers import WorkerInstance
from services import recovery


def dead_instance(**fields) -> WorkerInstance:
    now = int(time.time())
    values = {
        "host": "elsewhere.example",
        "pid": 1,
        "kind": "server",
        "started_at": now - 100,
        "heartbeat_at": now - 3600,
        **fields,
    }
    return WorkerInstance.create(**values)


def a_finished_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def processing_document(account, worker: WorkerInstance, attempts: int = 1) -> str:
    """A document that stopped half-way: indexed once, then claimed again by a process that died."""
    dataset_id = make_dataset(account, name=f"kb {worker.id}")
    document_id = add_and_wait(account, dataset_id, [text_source("page", "Parcels ship from Lyon daily.")])[
        0
    ]["document_id"]
    Document.update(status=0, progress=30, worker_id=worker.id, attempts=attempts).where(
        Document.id == int(document_id)
    ).execute()
    return document_id


def test_a_dead_processs_document_is_processed_again(client):
    account = register(client)
    worker = dead_instance()
    document_id = processing_document(account, worker)
    recovery.reap()
    state = wait_done(account, [document_id])[0]
    assert state["status"] == 1 and state["progress"] == 100
    row = Document.get_by_id(int(document_id))
    assert row.worker_id is None and row.attempts == 2 and row.slice_count == 1
    assert WorkerInstance.get_or_none(WorkerInstance.id == worker.id) is None


def test_a_document_interrupted_too_often_fails_with_the_reason(client):
    account = register(client)
    document_id = processing_document(account, dead_instance(), attempts=recovery.MAX_ATTEMPTS)
    recovery.reap()
    state = wait_done(account, [document_id])[0]
    assert state["status"] == 9 and "interrupted 3 times" in state["status_descript"]
    # and a resegment starts it afresh
    dataset_id = str(Document.get_by_id(int(document_id)).dataset_id)
    response = account.post(
        "/api/knowledge/document/resegment", {"dataset_id": dataset_id, "document_ids": [document_id]}
    )
    assert response.status_code == 200, response.text
    assert wait_done(account, [document_id])[0]["status"] == 1


def test_a_dead_processs_chat_fails_with_the_reason(client):
    account = register(client)
    bot_id = new_agent(account)
    chat = open_chat(account, bot_id, "Hello", stream=False).json()["data"]
    for _ in range(200):
        if ChatRun.get_by_id(int(chat["id"])).status not in ("created", "in_progress"):
            break
        time.sleep(0.02)
    worker = dead_instance(host=recovery._HOST, pid=a_finished_pid(), heartbeat_at=int(time.time()))
    ChatRun.update(status="in_progress", worker_id=worker.id).where(ChatRun.id == int(chat["id"])).execute()
    recovery.reap()  # same host, process gone: at once, not after a heartbeat timeout
    state = account.get(
        f"/v3/chat/retrieve?conversation_id={chat['conversation_id']}&chat_id={chat['id']}"
    ).json()["data"]
    assert state["status"] == "failed" and "server stopped" in state["last_error"]["msg"]
    assert state["last_error"]["code"] == 103100001


def test_the_work_of_live_processes_is_left_alone(client):
    account = register(client)
    beating = dead_instance(heartbeat_at=int(time.time()))  # another machine, heartbeat fresh
    ours = WorkerInstance.get_by_id(recovery.current_id())
    mine = dead_instance(host=recovery._HOST, pid=os.getppid(), heartbeat_at=int(time.time()))  # alive pid
    documents = [processing_document(account, worker) for worker in (beating, ours, mine)]
    done = recovery.reap()
    assert not set(done["resumed_documents"]) & {int(d) for d in documents}
    assert all(Document.get_by_id(int(d)).status == 0 for d in documents)
    Document.update(status=1, worker_id=None).where(Document.id.in_([int(d) for d in documents])).execute()
    WorkerInstance.delete().where(WorkerInstance.id.in_([beating.id, mine.id])).execute()
