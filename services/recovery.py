"""Crash safety: work whose process died is resumed or marked failed, within a bounded time.

Every process that runs work (the server, each `cozeplus worker`) registers a WorkerInstance and
heartbeats it; documents being processed and chats being answered record the instance that owns
them. Each process, at start and on every heartbeat, reaps the work of instances that are gone:
a heartbeat older than three intervals, a process on this host that no longer exists (so a
restart after kill -9 recovers at once), or a row removed at shutdown. Documents are processed
again from the start (processing replaces a document's slices, so a second run is harmless), up
to MAX_ATTEMPTS, then fail with the reason; chats, whose client stream died with the process,
fail with the reason and can be asked again."""

from __future__ import annotations

import atexit
import logging
import os
import socket
import threading
import time

from core import errors
from core.ids import new_id
from core.settings import get_settings
from models.conversation import FAILED, LIVE_STATUSES, ChatRun
from models.db import db
from models.idempotency import KEEP_SECONDS, IdempotencyKey
from models.knowledge import DOC_FAILED, DOC_PROCESSING, DOC_RESEGMENTING, Document
from models.memory import IMPORT_FAILED, IMPORT_QUEUED, IMPORT_RUNNING, MemoryImport
from models.workers import WorkerInstance

log = logging.getLogger("cozeplus.recovery")

MAX_ATTEMPTS = 3
QUEUED_STALE_SECONDS = 600  # a document queued this long without starting: its task was lost
CHAT_INTERRUPTED = "the server stopped while this chat was being answered; send the question again"
RUN_STOPPED = "the server stopped while this workflow ran"

_instance: WorkerInstance | None = None
_lock = threading.Lock()
_stop = threading.Event()
_HOST = socket.gethostname()[:255]


def current_id(kind: str = "server") -> int:
    """This process's instance id, registered (with its heartbeat) on first use."""
    global _instance
    if _instance is None:
        with _lock:
            if _instance is None:
                now = int(time.time())
                _instance = WorkerInstance.create(
                    id=new_id(), host=_HOST, pid=os.getpid(), kind=kind, started_at=now, heartbeat_at=now
                )
                _stop.clear()
                threading.Thread(target=_heartbeat, name="heartbeat", daemon=True).start()
    return _instance.id


def start(kind: str) -> None:
    """Register this process (once; its row goes at exit) and recover what dead ones left.
    Called at every start-up, before serving (the tests' app starts many times per process)."""
    if _instance is None:
        current_id(kind)
        atexit.register(stop)
    reap()


def stop() -> None:
    """At a clean shutdown: the row goes, so others take over this process's unfinished work."""
    global _instance
    with _lock:
        if _instance is not None:
            _stop.set()
            WorkerInstance.delete().where(WorkerInstance.id == _instance.id).execute()
            _instance = None


def _heartbeat() -> None:
    interval = get_settings().heartbeat_seconds
    while not _stop.wait(interval):
        try:
            with _lock:
                if _instance is None:
                    return
                WorkerInstance.update(heartbeat_at=int(time.time())).where(
                    WorkerInstance.id == _instance.id
                ).execute()
            reap()
        except Exception:  # a busy or unreachable database: try again on the next beat
            log.exception("heartbeat failed")
        finally:
            db.close()  # this thread's connection


def is_gone(row: WorkerInstance, now: int) -> bool:
    if _instance is not None and row.id == _instance.id:
        return False
    if row.heartbeat_at < now - 3 * get_settings().heartbeat_seconds:
        return True
    if row.host != _HOST:
        return False
    if row.pid == os.getpid():
        return True  # its pid is ours now: that process is long gone
    try:
        os.kill(row.pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        pass  # someone else's process: alive
    return False


def _reap_imports(orphaned, now: int) -> tuple[list[int], list[int]]:
    """Imports into databases resume after their last finished batch (each batch and the
    import's counts commit together, so no row goes in twice), up to MAX_ATTEMPTS."""
    running = MemoryImport.status == IMPORT_RUNNING
    resumed, failed = [], []
    for job in MemoryImport.select(MemoryImport.id, MemoryImport.worker_id, MemoryImport.attempts).where(
        running & orphaned(MemoryImport.worker_id)
    ):
        unchanged = (MemoryImport.id == job.id) & running & (MemoryImport.worker_id == job.worker_id)
        if job.attempts >= MAX_ATTEMPTS:
            reason = f"the import was interrupted {job.attempts} times (the process running it stopped)"
            changes = {"status": IMPORT_FAILED, "status_reason": reason, "worker_id": None, "updated_at": now}
            if MemoryImport.update(**changes).where(unchanged).execute():
                failed.append(job.id)
        elif (
            MemoryImport.update(status=IMPORT_QUEUED, worker_id=None, updated_at=now)
            .where(unchanged)
            .execute()
        ):
            resumed.append(job.id)
    if resumed:
        from services import memory_imports  # it records its owner through this module

        for import_id in resumed:
            memory_imports.import_task(import_id)
    return resumed, failed


def _reap_workflow_runs(orphaned, now: int) -> tuple[list[int], int]:
    """Async runs resume after their last finished node (saved as each finishes), up to
    MAX_ATTEMPTS; sync and stream runs, whose caller went with the process, fail with the reason.
    An async run queued long ago that no worker took lost its task: it is queued again."""
    from models.workflow import MODE_ASYNC, RUN_FAILED, RUN_RUNNING, WorkflowRun

    running = WorkflowRun.status == RUN_RUNNING
    stale = WorkflowRun.worker_id.is_null() & (WorkflowRun.updated_at < now - QUEUED_STALE_SECONDS)
    resumed, failed = [], 0
    for run in WorkflowRun.select(
        WorkflowRun.id, WorkflowRun.worker_id, WorkflowRun.attempts, WorkflowRun.run_mode
    ).where(running & (orphaned(WorkflowRun.worker_id) | (stale & (WorkflowRun.run_mode == MODE_ASYNC)))):
        owner = (WorkflowRun.worker_id == run.worker_id) if run.worker_id else WorkflowRun.worker_id.is_null()
        unchanged = (WorkflowRun.id == run.id) & running & owner
        if run.run_mode != MODE_ASYNC or run.attempts >= MAX_ATTEMPTS:
            reason = (
                RUN_STOPPED
                if run.run_mode != MODE_ASYNC
                else (f"{RUN_STOPPED} {run.attempts} times; run it again")
            )
            changes = {"status": RUN_FAILED, "worker_id": None, "updated_at": now}
            changes.update(error_code=errors.WORKFLOW_EXECUTION_FAILED.code, error_msg=reason)
            failed += WorkflowRun.update(**changes).where(unchanged).execute()
        elif WorkflowRun.update(worker_id=None, updated_at=now).where(unchanged).execute():
            resumed.append(run.id)
    if resumed:
        from services import workflow_runs  # it records its owner through this module

        for run_id in resumed:
            workflow_runs.run_task(run_id)
    return resumed, failed


def _reap_channel_replies(chat_ids: list[int]) -> list[int]:
    """Channel messages whose chat died with its process: their senders get the error reply."""
    if not chat_ids:
        return []
    from models.channel import ANSWERING, ChannelMessage
    from services import channels  # it reaches the chat modules, which record through this one

    waiting = ChannelMessage.select(ChannelMessage.id).where(
        ChannelMessage.chat_id.in_(chat_ids), ChannelMessage.status == ANSWERING
    )
    ids = [row.id for row in waiting]
    for message_id in ids:
        channels.send_reply_task(message_id)
    return ids


def _reap_webhooks(orphaned, now: int) -> list[int]:
    """Subscriptions whose delivering process died (its lease is taken back) or whose due
    deliveries no task will send (the task was lost with its queue): delivered again. A receiver
    may then get an event twice (the kill came between its answer and the record): the
    X-Cozeplus-Delivery header, the event's id, is the same on every attempt, to deduplicate."""
    from models.webhook import PENDING, WebhookDelivery, WebhookSubscription

    held = (WebhookSubscription.lease_until >= now) & orphaned(WebhookSubscription.lease_worker_id)
    subscriptions = set()
    for row in WebhookSubscription.select(WebhookSubscription.id, WebhookSubscription.lease_worker_id).where(
        held
    ):
        unchanged = (WebhookSubscription.id == row.id) & (
            WebhookSubscription.lease_worker_id == row.lease_worker_id
        )
        if WebhookSubscription.update(lease_until=0, lease_worker_id=None).where(unchanged).execute():
            subscriptions.add(row.id)
    cutoff = now - QUEUED_STALE_SECONDS
    stale = WebhookDelivery.select(WebhookDelivery.subscription).where(
        WebhookDelivery.status == PENDING,
        WebhookDelivery.created_at < cutoff,
        WebhookDelivery.next_attempt_at < cutoff * 1000,
    )
    enabled = WebhookSubscription.enabled == True  # noqa: E712  (a SQL comparison)
    free = WebhookSubscription.lease_until < now
    subscriptions.update(
        row.id
        for row in WebhookSubscription.select(WebhookSubscription.id).where(
            enabled, free, WebhookSubscription.id.in_(stale)
        )
    )
    if subscriptions:
        from services import webhooks  # it records its lease's owner through this module

        for subscription_id in sorted(subscriptions):
            webhooks.kick(subscription_id)
    return sorted(subscriptions)


def reap(now: int | None = None) -> dict:
    """Resume or fail the work of instances that are gone; returns what was done (for logs, tests)."""
    now = now or int(time.time())
    instances = list(WorkerInstance.select())
    dead = [row.id for row in instances if is_gone(row, now)]
    alive = [row.id for row in instances if row.id not in dead]
    orphaned = lambda field: field.is_null(False) & field.not_in(alive or [0])  # noqa: E731
    live_chats = ChatRun.status.in_(LIVE_STATUSES) & orphaned(ChatRun.worker_id)
    orphan_chats = [row.id for row in ChatRun.select(ChatRun.id).where(live_chats)]
    failed_chats = (
        ChatRun.update(
            status=FAILED,
            failed_at=now,
            updated_at=now,
            worker_id=None,
            last_error={"code": errors.AGENT_RUN_FAILED.code, "msg": CHAT_INTERRUPTED},
        )
        .where(ChatRun.id.in_(orphan_chats or [0]), live_chats)
        .execute()
    )
    channel_replies = _reap_channel_replies(orphan_chats)
    resumed, failed = [], []
    busy = Document.status.in_((DOC_PROCESSING, DOC_RESEGMENTING))
    stale = Document.worker_id.is_null() & (Document.updated_at < now - QUEUED_STALE_SECONDS)
    for document in Document.select(Document.id, Document.worker_id, Document.attempts).where(
        busy & (orphaned(Document.worker_id) | stale)
    ):
        same_owner = (
            (Document.worker_id == document.worker_id) if document.worker_id else Document.worker_id.is_null()
        )
        unchanged = (Document.id == document.id) & busy & same_owner  # only one process wins each
        if document.attempts >= MAX_ATTEMPTS:
            reason = (
                f"processing was interrupted {document.attempts} times (the process running it "
                "stopped); resegment it to try again"
            )
            if (
                Document.update(
                    status=DOC_FAILED, status_reason=reason, worker_id=None, progress=0, updated_at=now
                )
                .where(unchanged)
                .execute()
            ):
                failed.append(document.id)
        elif Document.update(worker_id=None, progress=0, updated_at=now).where(unchanged).execute():
            resumed.append(document.id)
    if resumed:
        from services import ingestion  # it records its owner through this module

        for document_id in resumed:
            ingestion.process_document_task(document_id)
    imports_resumed, imports_failed = _reap_imports(orphaned, now)
    runs_resumed, runs_failed = _reap_workflow_runs(orphaned, now)
    webhooks_resumed = _reap_webhooks(orphaned, now)
    IdempotencyKey.delete().where(IdempotencyKey.created_at < now - KEEP_SECONDS).execute()
    if dead:
        WorkerInstance.delete().where(WorkerInstance.id.in_(dead)).execute()
    done = {
        "dead_instances": len(dead),
        "failed_chats": failed_chats,
        "channel_replies": channel_replies,
        "resumed_documents": resumed,
        "failed_documents": failed,
        "resumed_imports": imports_resumed,
        "failed_imports": imports_failed,
        "resumed_workflow_runs": runs_resumed,
        "failed_workflow_runs": runs_failed,
        "resumed_webhooks": webhooks_resumed,
    }
    if any(done[key] for key in done if key != "dead_instances"):
        log.warning("recovered work of stopped processes", extra={"fields": done})
    return done
