"""The app factory: Connexion's AsyncApp over openapi.yaml, wrapped in our middleware."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import re

import connexion
from connexion.jsonifier import Jsonifier
from connexion.middleware import MiddlewarePosition
from connexion.options import SwaggerUIOptions

from core import ratelimit, spec, tracing
from core.audit import AuditMiddleware, is_write
from core.envelope import ErrorRenderer
from core.idempotency import IdempotencyMiddleware
from core.logs import configure_logging
from core.middleware import RequestContextMiddleware
from core.settings import Settings, get_settings, use_settings
from core.validation import VALIDATOR_MAP
from models.db import init_db, pending_migrations


class NotMigrated(RuntimeError):
    pass


def _cache_connexion_signature_inspection() -> None:
    """Connexion inspects a handler's or security function's signature on every request (3 times
    for an authenticated call); functions don't change, so remember the answer. This alone cut a
    read from 1.9 to 1.3 ms of CPU in process (docs/benchmarks-history.md)."""
    import connexion.decorators.parameter as parameter_module
    import connexion.security as security_module
    from connexion.utils import inspect_function_arguments

    if not hasattr(inspect_function_arguments, "cache_info"):
        cached = functools.lru_cache(maxsize=2048)(inspect_function_arguments)
        parameter_module.inspect_function_arguments = cached
        security_module.inspect_function_arguments = cached


_cache_connexion_signature_inspection()


def _validate_each_spec_once() -> None:
    """Connexion validates the whole spec against the OpenAPI schema whenever it builds one: at
    each start (over a second here) and at each GET /openapi.json (a copy with the request's base
    path), on the event loop. A document that passed once is not validated again, in this process
    or (by a marker in the spec cache) after a restart; tests/test_spec.py validates every version."""
    from connexion.spec import Specification

    original = Specification._validate_spec.__func__
    if getattr(original, "once", False):
        return
    passed: set[str] = set()

    def validate(cls, document):
        key = hashlib.sha256(json.dumps(document, sort_keys=True, default=str).encode()).hexdigest()
        if key not in passed and not spec.was_validated(key):
            original(cls, document)
            spec.mark_validated(key)
        passed.add(key)

    validate.once = True
    Specification._validate_spec = classmethod(validate)


_validate_each_spec_once()


def _serve_each_spec_once() -> None:
    """Connexion builds GET /openapi.json's document afresh on every request (two deep copies, a
    validation and a 1.9 MB dump: about 90 ms of the event loop). The spec does not change while
    serving, so each base path's document is built once (the YAML one's too)."""
    from connexion.middleware.swagger_ui import SwaggerUIAPI

    original = SwaggerUIAPI._spec_for_prefix
    if getattr(original, "once", False):
        return

    def spec_for_prefix(self, request) -> dict:
        built = self.__dict__.setdefault("_built_specs", {})
        base_path = self._base_path_for_prefix(request)  # the server's root path, not the client's
        if base_path not in built:
            built[base_path] = original(self, request)
        return built[base_path]

    async def openapi_json(self, request):
        from starlette.responses import Response

        bodies = self.__dict__.setdefault("_built_json", {})
        base_path = self._base_path_for_prefix(request)
        if base_path not in bodies:
            bodies[base_path] = Jsonifier().dumps(self._spec_for_prefix(request)).encode()
        return Response(content=bodies[base_path], status_code=200, media_type="application/json")

    spec_for_prefix.once = True
    SwaggerUIAPI._spec_for_prefix = spec_for_prefix
    SwaggerUIAPI._get_openapi_json = openapi_json


_serve_each_spec_once()


def load_spec(settings: Settings) -> dict:
    return spec.load(settings.spec_path)


def _rate_classes(spec: dict) -> dict[str, str]:
    """Each operation's rate-limit class: the spec's `x-rate-class`, else read or write as the
    audit log tells them."""
    classes = {}
    for item in spec.get("paths", {}).values():
        for method, op in item.items():
            if isinstance(op, dict) and "operationId" in op:
                written = is_write(op["operationId"], method.upper())
                classes[op["operationId"]] = op.get("x-rate-class") or ("write" if written else "read")
    return classes


def _literal_reads(spec: dict) -> frozenset[tuple[str, str]]:
    """(method, path) of the operations at paths without parameters that write nothing (and
    that no templated path also matches, where routing could choose the other)."""
    shadowed = _shadowing_paths(spec)
    return frozenset(
        (method.upper(), path)
        for path, item in spec.get("paths", {}).items()
        if "{" not in path and path not in shadowed
        for method, op in item.items()
        if isinstance(op, dict) and "operationId" in op and not is_write(op["operationId"], method.upper())
    )


def _idempotent_operations(spec: dict) -> frozenset[str]:
    """The operations that take an Idempotency-Key header (core/idempotency.py)."""
    found = set()
    for item in spec.get("paths", {}).values():
        for op in item.values():
            if isinstance(op, dict) and any(
                str(p.get("$ref", "")).endswith("/IdempotencyKey") or p.get("name") == "Idempotency-Key"
                for p in op.get("parameters") or []
            ):
                found.add(op["operationId"])
    return frozenset(found)


def _tags_by_operation(spec: dict) -> dict[str, str]:
    tags = {}
    for item in spec.get("paths", {}).values():
        for op in item.values():
            if isinstance(op, dict) and "operationId" in op:
                tag = (op.get("tags") or [""])[0]
                controller = op.get("x-openapi-router-controller")
                tags[op["operationId"]] = tag
                if controller:  # Connexion names operations by their resolved import path
                    tags[f"{controller}.{op['operationId']}"] = tag
    return tags


def _methods_by_path(spec: dict) -> dict[str, set[str]]:
    return {
        path: {m.upper() for m, op in item.items() if isinstance(op, dict) and "operationId" in op}
        for path, item in spec.get("paths", {}).items()
    }


def _shadowing_paths(spec: dict) -> dict[str, set[str]]:
    """Literal paths that a templated path also matches, with their methods (HEAD with GET)."""
    methods = _methods_by_path(spec)
    templated = [
        re.compile("^" + re.sub(r"\\{[^/]+?\\}", "[^/]+", re.escape(p)) + "$") for p in methods if "{" in p
    ]
    return {
        path: found | ({"HEAD"} if "GET" in found else set())
        for path, found in methods.items()
        if "{" not in path and any(pattern.match(path) for pattern in templated)
    }


def _raw_body_prefixes(spec: dict) -> tuple[str, ...]:
    """Where an operation marked `x-raw-body` starts: its handler gets the body's bytes as sent
    (platforms sign them), whatever the content type says."""
    return tuple(
        path.split("{", 1)[0]
        for path, item in spec.get("paths", {}).items()
        if any(isinstance(op, dict) and op.get("x-raw-body") for op in item.values())
    )


def _slash_paths(spec: dict) -> set[str]:
    return {path for path in spec.get("paths", {}) if path.endswith("/") and path != "/"}


@contextlib.asynccontextmanager
async def _lifespan(app):
    from services import recovery, tasks

    tasks.load_task_modules()
    recovery.start("server")  # before the queue runs: dead processes' documents are queued again
    tasks.start_consumer(get_settings().task_workers)
    yield
    from services import llm_openai

    llm_openai.close_connections()  # model connections pooled on this event loop


def prepare(settings: Settings | None = None) -> Settings:
    """What a start needs before the app: the database bound and migrated (NotMigrated
    otherwise), the administrator, the task queue's storage."""
    settings = use_settings(settings or get_settings())
    configure_logging(settings.log_level)
    tracing.configure()
    init_db(settings.database_url)
    pending = pending_migrations()
    if pending:
        raise NotMigrated(
            f"the database at {settings.database_url.split('@')[-1]} is not migrated "
            f"(pending: {', '.join(pending)}); run `cozeplus migrate` (or `make run`) first"
        )

    from services import tasks
    from services.accounts import ensure_admin

    ensure_admin(settings)
    tasks.configure(settings)
    return settings


def create_app(settings: Settings | None = None) -> connexion.AsyncApp:
    settings = prepare(settings)
    spec = load_spec(settings)
    app = connexion.AsyncApp(__name__, specification_dir=str(settings.spec_path.parent), lifespan=_lifespan)
    app.add_middleware(
        RequestContextMiddleware,
        position=MiddlewarePosition.BEFORE_EXCEPTION,
        slash_paths=_slash_paths(spec),
        shadowing_paths=_shadowing_paths(spec),
        raw_body_prefixes=_raw_body_prefixes(spec),
        max_json_body=settings.max_json_body_bytes,
        max_upload_body=settings.max_upload_bytes + 64 * 1024,
        log_requests=settings.log_requests,
        metrics=settings.metrics,
        https=settings.cookie_secure,
    )
    from handlers.chat_socket import ChatSocketMiddleware  # the one route the spec cannot hold

    app.add_middleware(ChatSocketMiddleware, position=MiddlewarePosition.BEFORE_EXCEPTION)
    app.add_middleware(
        AuditMiddleware,
        position=MiddlewarePosition.BEFORE_EXCEPTION,
        tag_by_operation=_tags_by_operation(spec),
        reads=_literal_reads(spec),
    )
    ratelimit.parse_limits(settings.rate_limits)  # a bad setting stops the start, not a request
    ratelimit.parse_limits(settings.address_rate_limits, "COZEPLUS_ADDRESS_RATE_LIMITS")
    app.add_middleware(
        ratelimit.RateLimitMiddleware,
        position=MiddlewarePosition.BEFORE_VALIDATION,
        classes_by_operation=_rate_classes(spec),
    )
    from services import recovery  # the process that runs a keyed request, to tell if it died

    app.add_middleware(
        IdempotencyMiddleware,
        position=MiddlewarePosition.BEFORE_VALIDATION,
        operations=_idempotent_operations(spec),
        process_id=recovery.current_id,
    )
    app.add_api(
        spec,
        strict_validation=True,
        validate_responses=settings.validate_responses,
        validator_map=VALIDATOR_MAP,
        swagger_ui_options=SwaggerUIOptions(
            swagger_ui=True, spec_path="/openapi.json", swagger_ui_path="/ui"
        ),
    )
    ErrorRenderer(_tags_by_operation(spec), _methods_by_path(spec)).install(app)
    return app
