"""Structured logs: one JSON object per line, with the request id of the request being served.

Records are handed to a writer thread (logging's QueueHandler and QueueListener): the JSON and
the write to stderr happen there, so an access log line costs a request only the record itself."""

from __future__ import annotations

import atexit
import json
import logging
import logging.handlers
import queue
import sys
import time

from core.envelope import request_id_var


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
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


def configure_logging(level: str) -> None:
    root = logging.getLogger()
    if not any(getattr(h, "_cozeplus", False) for h in root.handlers):
        records: queue.SimpleQueue = queue.SimpleQueue()
        handler = _ToWriter(records)
        handler._cozeplus = True
        writer = logging.handlers.QueueListener(records, _writing_to_stderr())
        writer.start()
        root.addHandler(handler)

        def write_directly_from_now_on() -> None:  # at exit: the last lines are not left queued
            writer.stop()
            root.removeHandler(handler)
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
