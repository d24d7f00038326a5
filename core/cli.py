"""The `cozeplus` command: migrate, serve, worker, reset-password, backup, restore."""

from __future__ import annotations

import argparse
import errno
import secrets
import socket
import sys

from core import tracing
from core.settings import get_settings


def _migrate(args) -> int:
    from models.db import init_db, migrate

    settings = get_settings()
    init_db(settings.database_url)
    applied = migrate()
    print(f"cozeplus: applied {', '.join(applied)}" if applied else "cozeplus: database is up to date")
    return 0


def _port_in_use(host: str, port: int) -> bool:
    """Whether another process listens there (checked before anything else is done or printed)."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            probe.bind((host, port))
        except OSError as exc:
            return exc.errno == errno.EADDRINUSE
    return False


def _serve(args) -> int:
    import uvicorn

    from core import asgi
    from core.app import NotMigrated, prepare

    settings = get_settings()
    host, port = args.host or settings.host, args.port or settings.port
    if _port_in_use(host, port):
        print(
            f"cozeplus: {host}:{port} is already in use (another cozeplus?); "
            "choose another port with COZEPLUS_PORT or --port",
            file=sys.stderr,
        )
        return 2
    from core.metrics import clear_samples_dir

    clear_samples_dir()  # before any worker writes to it
    try:  # fails fast on an unmigrated database; creates the admin
        if args.workers == 1:
            app = asgi.create(settings)  # the one worker serves the app built here
        else:
            prepare(settings)
            app = "core.asgi:create"  # each worker builds its own
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
        app,
        factory=isinstance(app, str),
        host=host,
        port=port,
        workers=args.workers,
        log_level="warning",
        access_log=False,
    )
    return 0


def _open_migrated_database(settings) -> bool:
    """Bind the database; False (having said why) when it is not migrated."""
    from models.db import init_db, pending_migrations

    init_db(settings.database_url)
    if pending_migrations():
        print("cozeplus: the database is not migrated; run `cozeplus migrate` first", file=sys.stderr)
        return False
    return True


def _worker(args) -> int:
    from services import tasks

    tasks.load_task_modules()

    settings = get_settings()
    if not _open_migrated_database(settings):
        return 2
    tasks.configure(settings)
    tracing.configure()  # workflow runs that a worker executes are traced like the server's
    print(
        f"cozeplus: task worker with {args.threads} threads on {tasks.describe_storage(settings)}", flush=True
    )
    tasks.run_worker(args.threads)
    return 0


def _reset_password(args) -> int:
    from services import accounts

    if not _open_migrated_database(get_settings()):
        return 2
    password = args.password or secrets.token_urlsafe(12)
    try:
        revoked = accounts.reset_password(args.email, password)
    except accounts.NoSuchUser:
        print(f"cozeplus: no user has the e-mail {args.email}", file=sys.stderr)
        return 1
    shown = "" if args.password else f" to {password} (shown once)"
    print(f"cozeplus: set the password of {args.email.strip().lower()}{shown}; {revoked} sessions logged out")
    return 0


def _backup(args) -> int:
    import time
    from pathlib import Path

    from services import backup

    settings = get_settings()
    output = Path(args.output or time.strftime("cozeplus-backup-%Y%m%d-%H%M%S.tar.gz"))
    try:
        manifest = backup.create(settings, output)
    except backup.BackupError as exc:
        print(f"cozeplus: {exc}", file=sys.stderr)
        return 1
    print(f"cozeplus: wrote {output} ({output.stat().st_size} bytes): {', '.join(manifest['members'])}")
    if not settings.is_sqlite:
        print("cozeplus: the database is PostgreSQL: back it up with pg_dump (docs/deploy.md)")
    return 0


def _restore(args) -> int:
    from pathlib import Path

    from services import backup

    try:
        manifest = backup.restore(get_settings(), Path(args.archive), force=args.force)
    except backup.BackupError as exc:
        print(f"cozeplus: {exc}", file=sys.stderr)
        return 1
    print(f"cozeplus: restored {', '.join(manifest['members'])} from {args.archive}")
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
    reset = sub.add_parser("reset-password", help="set a user's password (a lost admin password, say)")
    reset.add_argument("email")
    reset.add_argument("--password", help="the new password (by default a random one is printed once)")
    reset.set_defaults(func=_reset_password)
    saved = sub.add_parser("backup", help="archive the database (SQLite), uploads and the secret key")
    saved.add_argument("--output", help="the archive to write (default cozeplus-backup-<time>.tar.gz)")
    saved.set_defaults(func=_backup)
    restore = sub.add_parser("restore", help="unpack a backup into the data directory (server stopped)")
    restore.add_argument("archive")
    restore.add_argument("--force", action="store_true", help="replace an existing database")
    restore.set_defaults(func=_restore)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
