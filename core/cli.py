"""The `cozeplus` command: migrate, serve, worker."""

from __future__ import annotations

import argparse
import sys

from core.settings import get_settings


def _migrate(args) -> int:
    from models.db import init_db, migrate

    settings = get_settings()
    init_db(settings.database_url)
    applied = migrate()
    print(f"cozeplus: applied {', '.join(applied)}" if applied else "cozeplus: database is up to date")
    return 0


def _serve(args) -> int:
    import uvicorn

    from core.app import NotMigrated, create_app

    settings = get_settings()
    host, port = args.host or settings.host, args.port or settings.port
    try:
        create_app(settings)  # fails fast on an unmigrated database; creates the admin
    except NotMigrated as exc:
        print(f"cozeplus: {exc}", file=sys.stderr)
        return 2
    base = f"http://{host}:{port}"
    print(
        f"cozeplus: serving on {base}\n"
        f"cozeplus: Swagger UI {base}/ui/   spec {base}/openapi.json\n"
        f"cozeplus: admin e-mail {settings.admin_email}",
        flush=True,
    )
    uvicorn.run(
        "core.asgi:create",
        factory=True,
        host=host,
        port=port,
        workers=args.workers,
        log_level="warning",
        access_log=False,
    )
    return 0


def _worker(args) -> int:
    from models.db import init_db, pending_migrations
    from services import ingestion, tasks  # noqa: F401  (registers the tasks)

    settings = get_settings()
    init_db(settings.database_url)
    if pending_migrations():
        print("cozeplus: the database is not migrated; run `cozeplus migrate` first", file=sys.stderr)
        return 2
    tasks.configure(settings)
    print(
        f"cozeplus: task worker with {args.threads} threads on {settings.data_dir / 'tasks.db'}", flush=True
    )
    tasks.run_worker(args.threads)
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="cozeplus", description="The Coze Plus API server")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("migrate", help="apply pending database migrations").set_defaults(func=_migrate)
    serve = sub.add_parser("serve", help="serve the API (uvicorn)")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--workers", type=int, default=1)
    serve.set_defaults(func=_serve)
    worker = sub.add_parser("worker", help="process queued tasks (document ingestion ...) without serving")
    worker.add_argument("--threads", type=int, default=2)
    worker.set_defaults(func=_worker)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
