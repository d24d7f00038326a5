"""Rate limits on the `limits` library: failures counted in moving windows (logins), and requests
counted by route class per credential and per client address (RateLimitMiddleware); in memory by
default, in Redis when REDIS_URL is set so that several workers share the counts."""

from __future__ import annotations

import dataclasses
import functools
import math
import threading
import time

from anyio import to_thread
from limits import RateLimitItemPerSecond, parse_many
from limits.storage import MemoryStorage, Storage, storage_from_string
from limits.strategies import MovingWindowRateLimiter, SlidingWindowCounterRateLimiter

from core import errors
from core.settings import get_settings

_limiter: MovingWindowRateLimiter | None = None


class SweptMemoryStorage(MemoryStorage):
    """limits' memory storage, sweeping expired counters once a second. Its own starts a thread
    10 ms after any count whenever none is running: under load, a new thread every 10 ms, which
    cost a request more than the counting (bench/auth_reads.py). An expired counter is still
    never read: get() drops it first."""

    STORAGE_SCHEME = ["cozeplus-memory"]
    SWEEP_EVERY_S = 1.0

    def _MemoryStorage__schedule_expiry(self) -> None:  # the private hook its counting calls
        if not self.timer.is_alive():
            self.timer = threading.Timer(self.SWEEP_EVERY_S, self._MemoryStorage__expire_events)
            self.timer.daemon = True
            self.timer.start()


def _storage() -> Storage:
    url = get_settings().redis_url
    return storage_from_string(url) if url else SweptMemoryStorage()


def limiter() -> MovingWindowRateLimiter:
    global _limiter
    if _limiter is None:
        _limiter = MovingWindowRateLimiter(_storage())
    return _limiter


def reset_limiter() -> None:
    global _limiter, _counter
    _limiter = _counter = None


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


# --- request limits by route class, per credential and per client address ---------------------

CLASSES = ("login", "run", "write", "read")
CREDENTIAL = "cozeplus.credential"  # scope["extensions"]: "user:<id>" or "pat:<id>", set by security


@dataclasses.dataclass(frozen=True)
class Verdict:
    """Where a request stands against a limit (for the RateLimit-* headers), and whether it passed."""

    allowed: bool
    limit: int
    remaining: int
    reset_s: int

    def headers(self) -> list[tuple[bytes, bytes]]:
        found = [
            (b"ratelimit-limit", str(self.limit).encode()),
            (b"ratelimit-remaining", str(self.remaining).encode()),
            (b"ratelimit-reset", str(self.reset_s).encode()),
        ]
        return found if self.allowed else [*found, (b"retry-after", str(max(1, self.reset_s)).encode())]


@functools.lru_cache(maxsize=16)
def parse_limits(text: str, setting: str = "COZEPLUS_RATE_LIMITS") -> dict[str, tuple]:
    """ "read=20/second;3000/minute,write=600/minute" -> {"read": (items ...), ...}; "off": none."""
    text = (text or "").strip()
    if text.lower() in ("", "off", "none", "0"):
        return {}
    found = {}
    for part in text.split(","):
        name, _, value = part.partition("=")
        name = name.strip().lower()
        if name not in CLASSES or not value.strip():
            raise SystemExit(f"setting {setting}: {part.strip()!r} is not <{'|'.join(CLASSES)}>=<N>/<period>")
        try:
            found[name] = tuple(parse_many(value.strip()))
        except ValueError as exc:
            raise SystemExit(f"setting {setting}: {value.strip()!r}: {exc}") from None
    return found


def credential_key(info: dict) -> str:
    """Whose budget a request spends: a user's sessions share one, each access token has its own."""
    pat_id = info.get("pat_id")
    return f"pat:{pat_id}" if pat_id else f"user:{info['user'].id}"


_counter: SlidingWindowCounterRateLimiter | None = None


def counter() -> SlidingWindowCounterRateLimiter:
    """O(1) per request whatever the limit (a moving window keeps every hit)."""
    global _counter
    if _counter is None:
        _counter = SlidingWindowCounterRateLimiter(_storage())
    return _counter


def check(route_class: str, credential: str | None, address: str) -> Verdict | None:
    """Count one request of `route_class` against the credential's and the address's limits."""
    settings = get_settings()
    scopes = []
    if credential:
        scopes.append(("credential", credential, parse_limits(settings.rate_limits).get(route_class, ())))
    scopes.append(
        (
            "address",
            address,
            parse_limits(settings.address_rate_limits, "COZEPLUS_ADDRESS_RATE_LIMITS").get(route_class, ()),
        )
    )
    reported = None
    for scope, key, items in scopes:
        for item in items:
            allowed = counter().hit(item, "requests", route_class, scope, key)
            if allowed and reported is not None:
                continue  # the headers tell one limit: the first that applies (the credential's)
            stats = counter().get_window_stats(item, "requests", route_class, scope, key)
            verdict = Verdict(
                allowed,
                item.amount,
                max(0, stats.remaining),
                max(0, math.ceil(stats.reset_time - time.time())),
            )
            if not allowed:
                return verdict
            reported = verdict
    return reported


async def checked(route_class: str, credential: str | None, address: str) -> Verdict | None:
    """check() from async code: with Redis it is a network round trip, so it runs off the loop."""
    if get_settings().redis_url:
        return await to_thread.run_sync(check, route_class, credential, address)
    return check(route_class, credential, address)


class RateLimitMiddleware:
    """After routing and security: counts the request against its route class's limits (the spec's
    `x-rate-class`, else read or write as the audit log tells them), answers 429 in the envelope
    with Retry-After when one is exceeded, and tells every answer where it stands (RateLimit-*)."""

    def __init__(self, app, *, classes_by_operation: dict[str, str]):
        self.app = app
        self.classes = classes_by_operation

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        extensions = scope.get("extensions") or {}
        routing = extensions.get("connexion_routing") or {}
        route_class = self.classes.get(str(routing.get("operation_id") or "").rsplit(".", 1)[-1])
        if route_class is None:
            return await self.app(scope, receive, send)
        address = (scope.get("client") or ("", 0))[0]
        credential = extensions.get(CREDENTIAL)
        verdict = await checked(route_class, credential, address)
        if verdict is None:
            return await self.app(scope, receive, send)
        if not verdict.allowed:
            wait = max(1, verdict.reset_s)
            raise errors.RATE_LIMITED(
                f"too many {route_class} requests: {verdict.limit} allowed per window; retry in {wait} s",
                headers={k.decode(): v.decode() for k, v in verdict.headers()},
            )

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *verdict.headers()]}
            await send(message)

        return await self.app(scope, receive, send_with_headers)
