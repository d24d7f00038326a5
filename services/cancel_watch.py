"""Cancels that reach another process. A chat or a workflow run is executed by the process that
started it; a cancel may arrive at any worker, which marks the run cancelled in the database. Each
process runs one thread that, while it executes runs, asks the database every
COZEPLUS_CANCEL_POLL_MS which of them are marked, and stops those: one query per kind of run per
interval, however many runs are live, and none when there are none."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable

from core.settings import get_settings

log = logging.getLogger("cozeplus.cancel")

# kind -> a query: of these run ids, the ones the database says are cancelled
_queries: dict[str, Callable[[list[int]], Iterable[int]]] = {}
_watched: dict[tuple[str, int], Callable[[], None]] = {}
_lock = threading.Lock()
_wake = threading.Event()
_thread: threading.Thread | None = None


def register(kind: str, cancelled_among: Callable[[list[int]], Iterable[int]]) -> None:
    _queries[kind] = cancelled_among


def watch(kind: str, run_id: int, stop: Callable[[], None]) -> None:
    """Call `stop` (from the watcher's thread) once the run shows as cancelled; until unwatch."""
    global _thread
    with _lock:
        _watched[(kind, run_id)] = stop
        if _thread is None or not _thread.is_alive():
            _thread = threading.Thread(target=_loop, name="cancel-watch", daemon=True)
            _thread.start()
    _wake.set()


def unwatch(kind: str, run_id: int) -> None:
    with _lock:
        _watched.pop((kind, run_id), None)


def _loop() -> None:
    while True:
        with _lock:
            idle = not _watched
        if idle:
            _wake.wait()
            _wake.clear()
            continue
        _wake.wait(get_settings().cancel_poll_ms / 1000)
        _wake.clear()
        try:
            check_once()
        except Exception:  # noqa: BLE001  a database hiccup must not end the watching
            log.exception("looking for cancelled runs failed")


def check_once() -> int:
    """Stop the watched runs that are cancelled; how many it stopped."""
    with _lock:
        by_kind: dict[str, list[int]] = {}
        for kind, run_id in _watched:
            by_kind.setdefault(kind, []).append(run_id)
    stopped = 0
    for kind, ids in by_kind.items():
        for run_id in _queries[kind](ids):
            with _lock:
                stop = _watched.pop((kind, run_id), None)
            if stop is not None:
                stop()
                stopped += 1
    return stopped
