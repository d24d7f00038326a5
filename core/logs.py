"""Structured logs: one JSON object per line, with the request id of the request being served.

Records are handed to a writer thread (logging's QueueHandler): the JSON and the write to stderr
happen there, a batch of lines to a write. An access line skips the LogRecord too (access()): a
request pays for a tuple put on the queue, which is what made the access log nearly free."""

from __future__ import annotations

import atexit
import json
import logging
import logging.handlers
import queue
import sys
import threading
import time

from core.envelope import request_id_var


def _timestamp(created: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created)) + f".{int(created * 1000) % 1000:03d}Z"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": _timestamp(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None) or request_id_var.get()
        if request_id:
            entry["request_id"] = request_id
        entry.update(getattr(record, "fields", None) or {})
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exc"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False, default=str)


def _not_the_content_type_notice(record: logging.LogRecord) -> bool:
    # Connexion warns on every request to an operation that takes several content types (the
    # channel callbacks take XML and JSON), even though it picks the request's own.
    return not str(record.msg).startswith("this operation accepts multiple content types")


class _ToWriter(logging.handlers.QueueHandler):
    """Keeps what only the logging thread knows (the request id) and the message as it reads now
    (its arguments may change later); the rest waits for the writer."""

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        record.request_id = request_id_var.get()
        record.msg, record.args = record.getMessage(), None
        if record.exc_info:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
            record.exc_info = None
        return record


def _writing_to_stderr() -> logging.Handler:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    return handler


_STOP = object()
access_log = logging.getLogger("cozeplus.access")
_queue: queue.SimpleQueue | None = None  # the writer's, while it runs


class _Writer(threading.Thread):
    """Formats what the queue holds (records, or access lines as tuples) and writes them to
    stderr, as many lines to a write as have queued meanwhile."""

    def __init__(self, items: queue.SimpleQueue):
        super().__init__(name="cozeplus-log-writer", daemon=True)
        self.items, self.stream, self.formatter = items, sys.stderr, JsonFormatter()

    def run(self) -> None:
        while True:
            item, lines = self.items.get(), []
            while item is not _STOP:
                lines.append(self._line(item))
                if len(lines) >= 512:
                    break
                try:
                    item = self.items.get_nowait()
                except queue.Empty:
                    break
            self._write(lines)
            if item is _STOP:
                return

    def _line(self, item) -> str:
        if isinstance(item, logging.LogRecord):
            return self.formatter.format(item)
        created, request_id, fields = item
        entry = {"ts": _timestamp(created), "level": "info", "logger": access_log.name, "msg": "request"}
        if request_id:
            entry["request_id"] = request_id
        entry.update(fields)
        return json.dumps(entry, ensure_ascii=False, default=str)

    def _write(self, lines: list[str]) -> None:
        if lines:
            try:
                self.stream.write("\n".join(lines) + "\n")
                self.stream.flush()
            except (OSError, ValueError):  # stderr closed under us: the lines have nowhere to go
                pass


def access(fields: dict) -> None:
    """One access line (core/middleware.py), the same JSON as a record's."""
    if not access_log.isEnabledFor(logging.INFO):
        return
    if _queue is None:  # no writer (logging configured by someone else): an ordinary record
        access_log.info("request", extra={"fields": fields})
    else:
        _queue.put((time.time(), request_id_var.get(), fields))


def configure_logging(level: str) -> None:
    global _queue
    root = logging.getLogger()
    if not any(getattr(h, "_cozeplus", False) for h in root.handlers):
        records: queue.SimpleQueue = queue.SimpleQueue()
        handler = _ToWriter(records)
        handler._cozeplus = True
        writer = _Writer(records)
        writer.start()
        root.addHandler(handler)
        _queue = records

        def write_directly_from_now_on() -> None:  # at exit: the last lines are not left queued
            global _queue
            _queue = None
            root.removeHandler(handler)
            records.put(_STOP)
            writer.join(10)
            direct = _writing_to_stderr()
            direct._cozeplus = True
            root.addHandler(direct)

        atexit.register(write_directly_from_now_on)
    root.setLevel(level)
    for noisy in ("connexion", "httpx", "mcp"):  # mcp: a line per session and per request
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    logging.getLogger("casbin").setLevel(logging.ERROR)  # it logs every decision, denials as warnings
    notices = logging.getLogger("connexion.operations.openapi3")
    if _not_the_content_type_notice not in notices.filters:
        notices.addFilter(_not_the_content_type_notice)
