"""The task queue (DESIGN.md §7): huey, stored in SQLite under the data directory, or in Redis
when REDIS_URL is set (the scale-out layout: docs/deploy.md).

By default its consumer runs as threads inside the server process, so one command serves and
processes; `cozeplus worker` runs a consumer alone (more of them on more machines sharing the
data directory). With `COZEPLUS_TASK_WORKERS=0` the server enqueues only, and a separate worker
must run. Task functions live with their services and register with `@queue.task()`."""

from __future__ import annotations

import atexit
import importlib
import logging
import threading
from urllib.parse import urlsplit

from huey import MemoryHuey
from huey.consumer import Consumer
from huey.signals import SIGNAL_CANCELED, SIGNAL_COMPLETE, SIGNAL_ERROR, SIGNAL_EXPIRED, SIGNAL_REVOKED
from huey.storage import RedisStorage, SqliteStorage

from core.fs import private_file
from core.metrics import JOBS
from core.settings import Settings

log = logging.getLogger("cozeplus.tasks")
logging.getLogger("huey").setLevel(logging.WARNING)  # its start-up banner and per-task lines

# Storage is chosen at start-up (configure); until then tasks would only reach memory.
queue = MemoryHuey("cozeplus", results=False)
_consumer: Consumer | None = None
_lock = threading.Lock()


# the modules whose functions are tasks: a consumer must know them all before it takes one
TASK_MODULES = (
    "services.ingestion",
    "services.memory_imports",
    "services.workflow_runs",
    "services.webhooks",
    "services.channels",
)


def pending() -> int:
    """Jobs waiting (0 when the queue cannot be read: the metric must not fail the scrape)."""
    try:
        return queue.pending_count()
    except Exception:  # noqa: BLE001
        return 0


@queue.signal(SIGNAL_COMPLETE, SIGNAL_ERROR, SIGNAL_CANCELED, SIGNAL_EXPIRED, SIGNAL_REVOKED)
def _count_outcome(signal, task, exc=None):
    JOBS.labels(task.name, signal).inc()


def load_task_modules() -> None:
    for name in TASK_MODULES:
        importlib.import_module(name)


class EmbeddedConsumer(Consumer):
    """A consumer inside another program: the server owns the signals."""

    def _set_signal_handlers(self):
        pass


def configure(settings: Settings) -> None:
    """The queue's storage: Redis when REDIS_URL is set (workers on several machines share it, and
    an idle consumer blocks on it instead of polling), else SQLite in the data directory."""
    if settings.redis_url:
        queue.storage = RedisStorage("cozeplus", url=settings.redis_url, blocking=True, read_timeout=1)
    else:
        path = private_file(settings.data_dir / "tasks.db")
        queue.storage = SqliteStorage("cozeplus", filename=str(path))


def describe_storage(settings: Settings) -> str:
    """Where the queue lives, for start-up lines (a Redis URL's password is not shown)."""
    if not settings.redis_url:
        return str(settings.data_dir / "tasks.db")
    parts = urlsplit(settings.redis_url)
    return f"{parts.scheme}://{parts.hostname}:{parts.port or 6379}{parts.path}"


def start_consumer(workers: int) -> None:
    """Start the in-process consumer once per process (the server and its tests call this on
    every start-up); it stops when the process exits, letting running tasks finish."""
    global _consumer
    with _lock:
        if _consumer is not None or workers <= 0:
            return
        # A short poll ceiling: an idle queue is one tiny SQLite read per worker per second.
        _consumer = EmbeddedConsumer(
            queue,
            workers=workers,
            worker_type="thread",
            initial_delay=0.05,
            backoff=1.5,
            max_delay=1.0,
            periodic=True,
            check_worker_health=False,
        )
        _consumer.start()
        atexit.register(stop_consumer)


def stop_consumer() -> None:
    global _consumer
    with _lock:
        if _consumer is not None:
            _consumer.stop(graceful=True)
            _consumer = None


def run_worker(workers: int) -> None:
    """The consumer as the whole program (`cozeplus worker`); it recovers what stopped processes left."""
    from services import recovery

    load_task_modules()
    recovery.start("worker")
    try:
        Consumer(queue, workers=max(workers, 1), worker_type="thread", max_delay=1.0).run()
    finally:
        recovery.stop()
