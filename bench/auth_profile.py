"""Where an authenticated read's time goes: drives POST /api/passport/account/info/v2/ in process
(no network), sequentially, through cozeplus and through the bare Starlette baseline, reports
microseconds per request (best of 3 x 1500), then profiles cozeplus and groups its own time by
package. Usage: .venv/bin/python bench/auth_profile.py
"""

from __future__ import annotations

import asyncio
import collections
import cProfile
import os
import pstats
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("COZEPLUS_DATA_DIR", tempfile.mkdtemp(prefix="cozeplus-profile-"))
# as shipped (access log, metrics, rate limits counting), but with limits no benchmark reaches
for name, value in {
    "COZEPLUS_LOG_LEVEL": "WARNING",
    "COZEPLUS_ADMIN_PASSWORD": "profile-password-1",
    "COZEPLUS_RATE_LIMITS": "read=100000000/minute",
    "COZEPLUS_ADDRESS_RATE_LIMITS": "read=100000000/minute",
}.items():
    os.environ.setdefault(name, value)

from core.settings import get_settings  # noqa: E402
from models.db import init_db, migrate  # noqa: E402

init_db(get_settings().database_url)
migrate()

from bench.bare_app import create as create_bare  # noqa: E402
from core.app import create_app  # noqa: E402
from core.security import issue_session  # noqa: E402
from models.identity import User  # noqa: E402

PATH = "/api/passport/account/info/v2/"


def make_scope(token: str) -> dict:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": PATH,
        "raw_path": PATH.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"bench"), (b"authorization", f"Bearer {token}".encode())],
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 8888),
    }


async def call(app, token: str) -> None:
    sent = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    await app(make_scope(token), receive, send)
    if sent[0]["status"] != 200:
        raise SystemExit(f"unexpected answer: {sent}")


async def per_request_us(app, token: str, n: int = 1500) -> float:
    for _ in range(200):
        await call(app, token)
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        for _ in range(n):
            await call(app, token)
        best = min(best, (time.perf_counter() - started) / n * 1e6)
    return best


def package_of(filename: str) -> str:
    if "/site-packages/" in filename:
        return filename.split("/site-packages/")[1].split("/")[0].replace(".py", "")
    if str(ROOT) in filename:
        return "cozeplus:" + filename.replace(str(ROOT) + "/", "").split("/")[0]
    if filename.startswith("~") or filename.startswith("<"):
        return "builtins"
    return "stdlib:" + Path(filename).stem


async def main() -> None:
    ours, bare = create_app(), create_bare()
    token, _ = issue_session(User.by_email(get_settings().admin_email))
    ours_us = await per_request_us(ours, token)
    bare_us = await per_request_us(bare, token)
    print(
        f"in process, sequential, best of 3 x 1500: cozeplus {ours_us:.0f} us/request, "
        f"bare Starlette {bare_us:.0f} us/request, ratio of rates {bare_us / ours_us:.2f}"
    )
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(1500):
        await call(ours, token)
    profiler.disable()
    stats = pstats.Stats(profiler).stats
    by_package = collections.Counter()
    for (filename, _, _), (_, _, tottime, _, _) in stats.items():
        by_package[package_of(filename)] += tottime
    total = sum(by_package.values())
    print("cozeplus, own time by package under cProfile (profiler overhead inflates small calls):")
    for package, seconds in by_package.most_common(14):
        print(f"  {package:28s} {seconds / total * 100:5.1f}%")


if __name__ == "__main__":
    asyncio.run(main())
