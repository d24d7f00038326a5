"""Settings: the only module that reads the environment."""

from __future__ import annotations

import dataclasses
import os
import secrets
from pathlib import Path

from core.fs import private_dir

REPO_ROOT = Path(__file__).resolve().parent.parent


def cache_dir() -> Path:
    """Where work worth keeping between starts is cached (the parsed spec): COZEPLUS_CACHE_DIR,
    else the user's cache directory. Read before any Settings exist (core/errors loads the spec)."""
    explicit = os.environ.get("COZEPLUS_CACHE_DIR")
    if explicit:
        return Path(explicit)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "cozeplus"


def _bool(value: str | None, default: bool) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


def _int(env: dict, name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise SystemExit(f"setting {name} must be an integer, got {raw!r}")


@dataclasses.dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str
    secret_key: str
    admin_email: str
    admin_password: str | None
    host: str = "127.0.0.1"
    port: int = 8888
    jwt_ttl_seconds: int = 7 * 24 * 3600
    cookie_secure: bool = False
    registration: str = "open"  # open | closed
    registration_email_domains: tuple[str, ...] = ()
    max_json_body_bytes: int = 2 * 1024 * 1024
    max_upload_bytes: int = 50 * 1024 * 1024
    max_avatar_bytes: int = 2 * 1024 * 1024
    login_max_failures_per_email: int = 5
    login_max_failures_per_address: int = 20
    login_failure_window_seconds: int = 900
    login_email_pace_per_minute: int = 6  # failed attempts on one e-mail from failing addresses
    argon2_time_cost: int = 3
    argon2_memory_cost: int = 65536
    redis_url: str | None = None
    # requests per route class (login, run, write, read), per credential and per client address:
    # "class=N/period" items, several per class with ";" ("read=20/second;3000/minute"), or "off"
    rate_limits: str = "run=60/minute,write=600/minute,read=3000/minute"
    address_rate_limits: str = "login=30/minute,run=300/minute,write=3000/minute,read=12000/minute"
    max_runs_per_user: int = 10  # chats and workflow runs in progress at once (0: no cap)
    max_runs_per_agent: int = 50  # chats of one agent in progress at once, all users (0: no cap)
    metrics: bool = True  # count requests for /metrics (off: none counted)
    metrics_token: str = ""  # when set, /metrics needs it as a bearer token
    validate_responses: bool = False
    log_level: str = "INFO"
    log_requests: bool = True
    offline_model_delay_ms: int = 15  # pause between the offline model's pieces (0 in tests)
    model_timeout_seconds: int = 120  # longest silence from a model provider
    model_max_retries: int = 2  # on 429, 5xx and connection errors, before any output
    chat_max_tool_rounds: int = 5  # model -> tools -> model rounds in one turn
    task_workers: int = 2  # task-queue threads in the server process (0: none)
    heartbeat_seconds: int = 5  # processes beat this often; silent for 3 beats = gone
    cancel_poll_ms: int = 250  # how often a process looks for its runs cancelled through another
    knowledge_max_pages: int = 2000  # longest pdf a knowledge base accepts
    knowledge_max_unzipped_bytes: int = 200 * 1024 * 1024  # docx/xlsx contents, against zip bombs
    knowledge_max_chars: int = 20_000_000  # text extracted from one document
    knowledge_allow_private_urls: bool = False  # let documents be fetched from private addresses
    memory_max_rows: int = 100_000  # rows one copy (draft or online) of a database may hold
    public_url: str = "http://127.0.0.1:8888"  # how browsers reach this server (OAuth redirects)
    plugin_timeout_seconds: float = 20.0  # one tool call, redirects included
    workflow_timeout_seconds: int = 600  # one workflow run, start to end
    webhook_retry_base_seconds: float = 2.0  # a failed delivery waits this, then twice as long each time
    plugin_max_response_bytes: int = 1_048_576  # a tool's response; larger ones fail the call
    # private hosts outbound calls may reach anyway: names, name:port, addresses or networks
    outbound_allow: tuple[str, ...] = ()

    @property
    def spec_path(self) -> Path:
        return REPO_ROOT / "openapi.yaml"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @classmethod
    def from_env(cls, env: dict | None = None, **overrides) -> Settings:
        env = dict(os.environ if env is None else env)
        data_dir = Path(env.get("COZEPLUS_DATA_DIR") or REPO_ROOT / "data").resolve()
        database_url = env.get("DATABASE_URL") or f"sqlite:///{data_dir / 'cozeplus.db'}"
        domains = tuple(
            d.strip().lower().lstrip("@")
            for d in (env.get("COZEPLUS_REGISTRATION_EMAIL_DOMAINS") or "").split(",")
            if d.strip()
        )
        registration = (env.get("COZEPLUS_REGISTRATION") or "open").strip().lower()
        if registration not in ("open", "closed"):
            raise SystemExit("setting COZEPLUS_REGISTRATION must be 'open' or 'closed'")
        values = dict(
            data_dir=data_dir,
            database_url=database_url,
            secret_key=env.get("COZEPLUS_SECRET_KEY") or "",
            admin_email=(env.get("COZEPLUS_ADMIN_EMAIL") or "admin@example.com").strip().lower(),
            admin_password=env.get("COZEPLUS_ADMIN_PASSWORD") or None,
            host=env.get("COZEPLUS_HOST") or "127.0.0.1",
            port=_int(env, "COZEPLUS_PORT", 8888),
            jwt_ttl_seconds=_int(env, "COZEPLUS_JWT_TTL_SECONDS", 7 * 24 * 3600),
            cookie_secure=_bool(env.get("COZEPLUS_COOKIE_SECURE"), False),
            registration=registration,
            registration_email_domains=domains,
            max_json_body_bytes=_int(env, "COZEPLUS_MAX_JSON_BODY_BYTES", 2 * 1024 * 1024),
            max_upload_bytes=_int(env, "COZEPLUS_MAX_UPLOAD_BYTES", 50 * 1024 * 1024),
            max_avatar_bytes=_int(env, "COZEPLUS_MAX_AVATAR_BYTES", 2 * 1024 * 1024),
            login_max_failures_per_email=_int(env, "COZEPLUS_LOGIN_MAX_FAILURES_PER_EMAIL", 5),
            login_max_failures_per_address=_int(env, "COZEPLUS_LOGIN_MAX_FAILURES_PER_ADDRESS", 20),
            login_failure_window_seconds=_int(env, "COZEPLUS_LOGIN_FAILURE_WINDOW_SECONDS", 900),
            login_email_pace_per_minute=_int(env, "COZEPLUS_LOGIN_EMAIL_PACE_PER_MINUTE", 6),
            argon2_time_cost=_int(env, "COZEPLUS_ARGON2_TIME_COST", 3),
            argon2_memory_cost=_int(env, "COZEPLUS_ARGON2_MEMORY_KIB", 65536),
            redis_url=env.get("REDIS_URL") or None,
            rate_limits=(env.get("COZEPLUS_RATE_LIMITS") or Settings.rate_limits).strip(),
            address_rate_limits=(
                env.get("COZEPLUS_ADDRESS_RATE_LIMITS") or Settings.address_rate_limits
            ).strip(),
            max_runs_per_user=_int(env, "COZEPLUS_MAX_RUNS_PER_USER", 10),
            max_runs_per_agent=_int(env, "COZEPLUS_MAX_RUNS_PER_AGENT", 50),
            metrics=_bool(env.get("COZEPLUS_METRICS"), True),
            metrics_token=env.get("COZEPLUS_METRICS_TOKEN") or "",
            validate_responses=_bool(env.get("COZEPLUS_VALIDATE_RESPONSES"), False),
            log_level=(env.get("COZEPLUS_LOG_LEVEL") or "INFO").upper(),
            log_requests=_bool(env.get("COZEPLUS_LOG_REQUESTS"), True),
            offline_model_delay_ms=_int(env, "COZEPLUS_OFFLINE_MODEL_DELAY_MS", 15),
            model_timeout_seconds=_int(env, "COZEPLUS_MODEL_TIMEOUT_SECONDS", 120),
            model_max_retries=_int(env, "COZEPLUS_MODEL_MAX_RETRIES", 2),
            chat_max_tool_rounds=_int(env, "COZEPLUS_CHAT_MAX_TOOL_ROUNDS", 5),
            task_workers=_int(env, "COZEPLUS_TASK_WORKERS", 2),
            heartbeat_seconds=max(1, _int(env, "COZEPLUS_HEARTBEAT_SECONDS", 5)),
            cancel_poll_ms=max(10, _int(env, "COZEPLUS_CANCEL_POLL_MS", 250)),
            knowledge_max_pages=_int(env, "COZEPLUS_KNOWLEDGE_MAX_PAGES", 2000),
            knowledge_max_unzipped_bytes=_int(
                env, "COZEPLUS_KNOWLEDGE_MAX_UNZIPPED_BYTES", 200 * 1024 * 1024
            ),
            knowledge_max_chars=_int(env, "COZEPLUS_KNOWLEDGE_MAX_CHARS", 20_000_000),
            knowledge_allow_private_urls=_bool(env.get("COZEPLUS_KNOWLEDGE_ALLOW_PRIVATE_URLS"), False),
            memory_max_rows=_int(env, "COZEPLUS_MEMORY_MAX_ROWS", 100_000),
            public_url=(env.get("COZEPLUS_PUBLIC_URL") or "http://127.0.0.1:8888").rstrip("/"),
            plugin_timeout_seconds=float(_int(env, "COZEPLUS_PLUGIN_TIMEOUT", 20)),
            workflow_timeout_seconds=max(1, _int(env, "COZEPLUS_WORKFLOW_TIMEOUT_SECONDS", 600)),
            webhook_retry_base_seconds=float(env.get("COZEPLUS_WEBHOOK_RETRY_BASE_SECONDS") or 2.0),
            plugin_max_response_bytes=_int(env, "COZEPLUS_PLUGIN_MAX_RESPONSE_BYTES", 1_048_576),
            outbound_allow=tuple(
                e.strip().lower() for e in (env.get("COZEPLUS_OUTBOUND_ALLOW") or "").split(",") if e.strip()
            ),
        )
        values.update(overrides)
        return cls(**values)

    def with_secret(self) -> Settings:
        """Fill in the signing secret: the environment's, or one generated once and kept."""
        if self.secret_key:
            return self
        path = private_dir(self.data_dir) / "secret_key"
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another worker made it first
            pass
        else:
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_hex(32))
        return dataclasses.replace(self, secret_key=path.read_text().strip())


_current: Settings | None = None


def get_settings() -> Settings:
    global _current
    if _current is None:
        _current = Settings.from_env().with_secret()
    return _current


def use_settings(settings: Settings) -> Settings:
    global _current
    _current = settings.with_secret()
    return _current
