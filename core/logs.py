"""Structured logs: one JSON object per line, with the request id of the request being served."""

from __future__ import annotations

import json
import logging
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
        request_id = request_id_var.get()
        if request_id:
            entry["request_id"] = request_id
        entry.update(getattr(record, "fields", None) or {})
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def _not_the_content_type_notice(record: logging.LogRecord) -> bool:
    # Connexion warns on every request to an operation that takes several content types (the
    # channel callbacks take XML and JSON), even though it picks the request's own.
    return not str(record.msg).startswith("this operation accepts multiple content types")


def configure_logging(level: str) -> None:
    root = logging.getLogger()
    if not any(getattr(h, "_cozeplus", False) for h in root.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonFormatter())
        handler._cozeplus = True
        root.addHandler(handler)
    root.setLevel(level)
    for noisy in ("connexion", "httpx", "mcp"):  # mcp: a line per session and per request
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    logging.getLogger("casbin").setLevel(logging.ERROR)  # it logs every decision, denials as warnings
    notices = logging.getLogger("connexion.operations.openapi3")
    if _not_the_content_type_notice not in notices.filters:
        notices.addFilter(_not_the_content_type_notice)
