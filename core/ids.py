"""64-bit, time-ordered ids: 41 bits of milliseconds since 2024-01-01, 10 bits of node, 12 of sequence.

Written in JSON as digit strings (JavaScript cannot hold int64). The node part is random per
process, so several workers rarely share one; the sequence makes ids unique within a process.
"""

from __future__ import annotations

import secrets
import threading
import time

EPOCH_MS = 1704067200000  # 2024-01-01T00:00:00Z
_NODE_BITS = 10
_SEQ_BITS = 12
_SEQ_MASK = (1 << _SEQ_BITS) - 1


class IdGenerator:
    def __init__(self, node: int | None = None):
        self.node = secrets.randbelow(1 << _NODE_BITS) if node is None else node
        self._lock = threading.Lock()
        self._last_ms = 0
        self._seq = 0

    def next_id(self) -> int:
        with self._lock:
            now = int(time.time() * 1000)
            if now < self._last_ms:  # clock went back: keep counting on the last millisecond
                now = self._last_ms
            if now == self._last_ms:
                self._seq = (self._seq + 1) & _SEQ_MASK
                if self._seq == 0:  # 4096 ids in one millisecond: borrow the next one
                    now = self._last_ms + 1
            else:
                self._seq = 0
            self._last_ms = now
            return ((now - EPOCH_MS) << (_NODE_BITS + _SEQ_BITS)) | (self.node << _SEQ_BITS) | self._seq


_generator = IdGenerator()


def new_id() -> int:
    return _generator.next_id()


def parse_id(value) -> int | None:
    """An id from a request: a digit string or a non-negative integer; None when it is neither."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 0 <= value < 1 << 63 else None
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 19:
        number = int(value)
        return number if number < 1 << 63 else None
    return None
