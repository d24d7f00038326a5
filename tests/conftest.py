"""Test fixtures: one migrated database (SQLite in a temp dir, or DATABASE_URL's PostgreSQL) and
one app with response validation on; a fresh client (no cookies) per test."""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import os
import tempfile
import warnings
from pathlib import Path

import pytest

warnings.filterwarnings("ignore", message=".*httpx.*")
from starlette.testclient import TestClient  # noqa: E402

from core import security  # noqa: E402
from core.ratelimit import reset_limiter  # noqa: E402
from core.settings import Settings, get_settings, use_settings  # noqa: E402

ADMIN_EMAIL = "admin@example.com"
ADMIN_PASSWORD = "admin-password-1"
PASSWORD = "user-password-1"

_emails = itertools.count(1)


def _reset_database(url: str) -> None:
    """Start the PostgreSQL run from an empty schema (SQLite gets a fresh file instead)."""
    if url.startswith("postgres"):
        from playhouse.db_url import connect

        database = connect(url)
        database.execute_sql("DROP SCHEMA public CASCADE")
        database.execute_sql("CREATE SCHEMA public")
        database.close()


_session: dict = {}
VIEWS_DIR = str(Path(__file__).resolve().parent.parent / "views")
_view_queries: list[str] = []


def _forbid_queries_in_views() -> None:
    """Views are given loaded rows; SQL run from inside one (a lazily loaded foreign key, a
    lookup) fails the test that caused it, here and in the check after each test."""
    import sys

    from models.db import db

    database_class = type(db.obj)  # the class: create_app opens the database again
    execute = database_class.execute_sql

    def guarded(self, sql, params=None, *args, **kwargs):
        frame = sys._getframe(1)
        while frame is not None:
            if frame.f_code.co_filename.startswith(VIEWS_DIR):
                where = f"{frame.f_code.co_filename}:{frame.f_lineno} ({frame.f_code.co_name})"
                _view_queries.append(f"{where}: {sql[:120]}")
                raise AssertionError(f"a view ran SQL at {where}")
            frame = frame.f_back
        return execute(self, sql, params, *args, **kwargs)

    database_class.execute_sql = guarded


@pytest.fixture(autouse=True)
def _no_queries_in_views():
    yield
    found, _view_queries[:] = list(_view_queries), []
    assert found == [], "views ran SQL (load the rows they need in the service):\n" + "\n".join(found)


def session_app():
    """The one app of the test session (built on first use: Schemathesis needs it at import)."""
    if "app" not in _session:
        from core.app import create_app
        from models.db import init_db, migrate

        data_dir = Path(tempfile.mkdtemp(prefix="cozeplus-test-"))
        url = os.environ.get("DATABASE_URL") or f"sqlite:///{data_dir / 'test.db'}"
        _reset_database(url)
        settings = Settings.from_env(
            {},
            data_dir=data_dir,
            database_url=url,
            admin_email=ADMIN_EMAIL,
            admin_password=ADMIN_PASSWORD,
            argon2_time_cost=1,
            argon2_memory_cost=1024,
            validate_responses=True,
            log_requests=False,
            login_max_failures_per_address=10_000,
            rate_limits="off",  # tests/test_rate_limits.py turns them on
            address_rate_limits="off",
            max_runs_per_user=0,
            max_runs_per_agent=0,
            offline_model_delay_ms=0,
            outbound_allow=("127.0.0.3",),  # tests.fake_openai.MODEL_HOST
        ).with_secret()
        use_settings(settings)
        security.reset_password_hasher()
        init_db(settings.database_url)
        _forbid_queries_in_views()
        migrate()
        _session["settings"] = settings
        _session["app"] = create_app(settings)
    return _session["app"]


@pytest.fixture(scope="session")
def app():
    return session_app()


@pytest.fixture(scope="session")
def base_settings(app) -> Settings:
    return _session["settings"]


@pytest.fixture
def client(app):
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def settings_override(base_settings):
    """Change settings for one test: settings_override(registration="closed")."""

    def apply(**changes):
        use_settings(dataclasses.replace(get_settings(), **changes))
        reset_limiter()

    yield apply
    use_settings(base_settings)
    reset_limiter()


def new_email(prefix: str = "user") -> str:
    return f"{prefix}{next(_emails)}.{os.getpid()}@example.com"


class Account:
    def __init__(self, client, email: str, password: str, data: dict):
        self.client = client
        self.email = email
        self.password = password
        self.token = data["token"]
        self.user_id = data["user_id"]

    @property
    def headers(self) -> dict:
        return {"Authorization": f"Bearer {self.token}"}

    def post(self, path, json=None, **kwargs):
        return self.client.post(
            path, json=json, headers={**self.headers, **kwargs.pop("headers", {})}, **kwargs
        )

    def get(self, path, **kwargs):
        return self.client.get(path, headers={**self.headers, **kwargs.pop("headers", {})}, **kwargs)

    def put(self, path, json=None, **kwargs):
        return self.client.put(
            path, json=json, headers={**self.headers, **kwargs.pop("headers", {})}, **kwargs
        )

    def delete(self, path, **kwargs):
        return self.client.delete(path, headers={**self.headers, **kwargs.pop("headers", {})}, **kwargs)


def register(client, email: str | None = None, password: str = PASSWORD) -> Account:
    email = email or new_email()
    response = client.post(
        "/api/passport/web/email/register/v2/", json={"email": email, "password": password}
    )
    assert response.status_code == 200, response.text
    client.cookies.clear()  # callers choose their credential explicitly
    return Account(client, email, password, response.json()["data"])


@pytest.fixture
def admin(client) -> Account:
    response = client.post(
        "/api/passport/web/email/login/", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
    )
    client.cookies.clear()
    return Account(client, ADMIN_EMAIL, ADMIN_PASSWORD, response.json()["data"])


@pytest.fixture
def alice(client) -> Account:
    return register(client, new_email("alice"))


@pytest.fixture
def bob(client) -> Account:
    return register(client, new_email("bob"))


def assert_error(response, status: int, code: int, *fragments: str) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["code"] == code, body
    assert body["data"] is None
    assert body["detail"]["logid"] == response.headers["x-request-id"]
    for fragment in fragments:
        assert fragment in body["msg"], body
    return body


def run_python(env: dict, *args: str, check: bool = False):
    """`python <args>` from the repository in a subprocess with this environment (output as text)."""
    import subprocess
    import sys

    from core.settings import REPO_ROOT

    return subprocess.run(
        [sys.executable, *args],
        cwd=REPO_ROOT,
        env=env,
        check=check,
        capture_output=True,
        text=True,
        timeout=120,
    )


def run_cli(env: dict, *args: str, check: bool = False):
    """`cozeplus <args>` in a subprocess with this environment."""
    return run_python(env, "-m", "core.cli", *args, check=check)


def start_server(env: dict, *arguments: str):
    """`cozeplus serve [arguments]` on a free loopback port, once /healthz answers: (process, base URL)."""
    import subprocess
    import sys
    import time

    import httpx

    from core.settings import REPO_ROOT

    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "core.cli", "serve", "--port", str(port), *arguments],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return server, base
        except httpx.TransportError:
            time.sleep(0.05)
    server.kill()
    pytest.fail("the server did not start: " + server.stdout.read().decode())


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def redis_server(workdir: Path):
    """A throwaway redis-server on a free loopback port (no persistence): its URL."""
    import shutil
    import socket
    import subprocess
    import time

    binary = shutil.which("redis-server")
    assert binary, "redis-server is missing: .ci/run installs it (apt-get install redis-server)"
    port = free_port()
    server = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", str(workdir)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        server.terminate()
        server.wait(10)


def start_task_worker(env: dict):
    """`cozeplus worker` (the task queue's consumer alone), once it says it runs; its output goes
    to worker.log in its data directory (a pipe nobody reads would fill and stall it)."""
    import subprocess
    import sys
    import time

    from core.settings import REPO_ROOT

    log = Path(env["COZEPLUS_DATA_DIR"]) / "worker.log"
    with log.open("wb") as output:
        worker = subprocess.Popen(
            [sys.executable, "-m", "core.cli", "worker", "--threads", "2"],
            cwd=REPO_ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 30
    while "task worker" not in log.read_text() and worker.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    if "task worker" not in log.read_text():
        worker.kill()
        pytest.fail("the task worker did not start: " + log.read_text())
    return worker


def scale_out() -> bool:
    """The live deployment's layout: on PostgreSQL, production's (two server workers, Redis, a
    separate task worker); on SQLite, `make run`'s (one process doing everything)."""
    return os.environ.get("DATABASE_URL", "").startswith("postgres")


def separate_env(live_env: dict, data_dir: Path, **extra: str) -> dict:
    """The live environment for another deployment on the same database: its own data directory,
    task queue and metrics (it must neither take the live deployment's jobs nor wipe its samples)."""
    env = {k: v for k, v in live_env.items() if k not in ("REDIS_URL", "PROMETHEUS_MULTIPROC_DIR")}
    return {**env, "COZEPLUS_DATA_DIR": str(data_dir), **extra}


@pytest.fixture(scope="session")
def live_server(tmp_path_factory):
    """A real deployment (`cozeplus serve`) on a free local port, for newman and the SDKs: see
    scale_out() for its layout. It shares the session's database on PostgreSQL and gets its own
    migrated SQLite otherwise."""
    session_app()
    data_dir = tmp_path_factory.mktemp("live")
    env = {
        **os.environ,
        "COZEPLUS_DATA_DIR": str(data_dir),
        "COZEPLUS_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "COZEPLUS_LOG_LEVEL": "WARNING",
        "COZEPLUS_OFFLINE_MODEL_DELAY_MS": "0",
        "COZEPLUS_OUTBOUND_ALLOW": "127.0.0.3",
        "COZEPLUS_SECRET_KEY": _session["settings"].secret_key,
        "COZEPLUS_RATE_LIMITS": "off",
        "COZEPLUS_ADDRESS_RATE_LIMITS": "off",
    }
    if not env.get("DATABASE_URL"):
        run_cli(env, "migrate", check=True)
    with contextlib.ExitStack() as stack:
        arguments: tuple[str, ...] = ()
        if scale_out():
            samples = tmp_path_factory.mktemp("prometheus")
            env["REDIS_URL"] = stack.enter_context(redis_server(tmp_path_factory.mktemp("redis")))
            env.update(COZEPLUS_TASK_WORKERS="0", PROMETHEUS_MULTIPROC_DIR=str(samples))
            worker = start_task_worker(env)
            stack.callback(_stop, worker)
            arguments = ("--workers", "2")
        _session["live_env"] = env
        server, base = start_server(env, *arguments)
        stack.callback(_stop, server)
        yield base


def _stop(process) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except Exception:  # noqa: BLE001
        process.kill()


@pytest.fixture(scope="session")
def live_env(live_server) -> dict:
    """The live server's environment (its database, its data directory), for run_python."""
    return _session["live_env"]


@pytest.fixture(scope="session")
def pat(live_server) -> str:
    """A personal access token of the admin on the live server (what SDK users hold)."""
    import httpx

    response = httpx.post(
        f"{live_server}/api/permission_api/pat/create_personal_access_token_and_permission",
        json={"name": "sdk tests", "duration_day": "1"},
        headers={"Authorization": f"Bearer {live_login(live_server)}"},
    )
    return response.json()["data"]["token"]


@pytest.fixture(scope="session")
def coze(live_server, pat):
    """cozepy, unmodified, pointed at the live server with the admin's PAT."""
    from cozepy import Coze, TokenAuth

    return Coze(auth=TokenAuth(pat), base_url=live_server)


@pytest.fixture(scope="session")
def sdks_built() -> dict:
    """The three SDKs in build/sdks (what `make sdks` makes), generated afresh from the spec."""
    import shutil

    from codegen import sdks

    assert shutil.which("java"), "Java is missing: openapi-generator runs on it (apt-get install default-jre)"
    assert shutil.which("go"), "Go is missing: .ci/run installs it (apt-get install golang-go)"
    return sdks.build()


def _js_sdk_missing() -> bool:
    import shutil

    from core.settings import REPO_ROOT

    return shutil.which("node") is None or not (REPO_ROOT / "node_modules/@coze/api").exists()


needs_js_sdk = pytest.mark.skipif(
    _js_sdk_missing(), reason="needs Node and `npm ci` (make test installs both)"
)


def run_js_sdk(script: str, *args: str) -> dict:
    """Run tests/sdk/<script> with Node; the JSON line it prints last, checked for crashes."""
    import json
    import subprocess

    from core.settings import REPO_ROOT

    result = subprocess.run(
        ["node", f"tests/sdk/{script}", *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert "unexpected_error" not in seen, seen["unexpected_error"]
    return seen


def live_login(base: str, email: str = ADMIN_EMAIL, password: str = ADMIN_PASSWORD) -> str:
    import httpx

    response = httpx.post(
        f"{base}/api/passport/web/email/login/", json={"email": email, "password": password}
    )
    assert response.status_code == 200, response.text
    return response.json()["data"]["token"]


import logging  # noqa: E402

logging.getLogger("httpx").setLevel(logging.WARNING)


CONTRACT = "test_contract"


def pytest_collection_modifyitems(config, items):
    """COZEPLUS_CONTRACT_SHARD=k/n runs the k-th of n shares of test_contract (test_contract.shard_of)."""
    shard = os.environ.get("COZEPLUS_CONTRACT_SHARD")
    contract = [item for item in items if getattr(getattr(item, "module", None), "__name__", "") == CONTRACT]
    if not shard or not contract:
        return
    from test_contract import shard_of

    _, dropped = shard_of(contract, shard)
    config.hook.pytest_deselected(items=dropped)
    gone = {id(item) for item in dropped}
    items[:] = [item for item in items if id(item) not in gone]
