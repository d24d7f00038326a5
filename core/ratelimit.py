"""Counting failures in moving windows (the `limits` library): memory by default, Redis when
REDIS_URL is set so that several workers share the counts."""

from __future__ import annotations

import math
import time

from limits import RateLimitItemPerSecond
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from core.settings import get_settings

_limiter: MovingWindowRateLimiter | None = None


def limiter() -> MovingWindowRateLimiter:
    global _limiter
    if _limiter is None:
        _limiter = MovingWindowRateLimiter(storage_from_string(get_settings().redis_url or "memory://"))
    return _limiter


def reset_limiter() -> None:
    global _limiter
    _limiter = None


class FailureCounter:
    """At most `allowed` failures per `window_s` seconds for each key."""

    def __init__(self, namespace: str, allowed: int, window_s: int):
        self.namespace = namespace
        self.item = RateLimitItemPerSecond(allowed, window_s)

    def retry_after(self, key: str) -> int:
        """0 while more failures are allowed, else seconds until the oldest one ages out."""
        if limiter().test(self.item, self.namespace, key):
            return 0
        reset_at, _ = limiter().get_window_stats(self.item, self.namespace, key)
        return max(1, math.ceil(reset_at - time.time()))

    def count(self, key: str) -> int:
        """Failures recorded for `key` in the current window."""
        _, remaining = limiter().get_window_stats(self.item, self.namespace, key)
        return self.item.amount - remaining

    def record(self, key: str) -> None:
        limiter().hit(self.item, self.namespace, key)

    def clear(self, key: str) -> None:
        limiter().clear(self.item, self.namespace, key)
