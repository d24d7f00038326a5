"""What may import what (docs/architecture.md): handlers -> services -> models, core for everyone,
views (rows into wire objects) below handlers and services and above nothing but core, the entry
points (app factory, command line) above it all, codegen apart. Imports inside functions count."""

from __future__ import annotations

import ast
import sys

import pytest

from core.settings import REPO_ROOT
from tests.source import parsed

LAYERS = ("handlers", "services", "views", "models", "core", "codegen")
ALLOWED = {
    "handlers": {"handlers", "services", "views", "models", "core"},
    "services": {"services", "views", "models", "core"},  # views: a publish freezes wire objects
    "views": {"views", "core"},
    "models": {"models", "core"},
    "core": {"core", "models"},
    "codegen": {"codegen"},
}
ENTRY_POINTS = {"core/app.py", "core/cli.py", "core/asgi.py"}  # they assemble the layers


def _modules():
    for layer in LAYERS:
        for path in sorted((REPO_ROOT / layer).rglob("*.py")):
            yield layer, path.relative_to(REPO_ROOT).as_posix(), path


def _imported_tops(path) -> set[tuple[str, int]]:
    found = set()
    for node in ast.walk(parsed(path)):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        found.update((name.split(".")[0], node.lineno) for name in names)
    return found


def _imported_layers(path) -> set[tuple[str, int]]:
    return {(top, line) for top, line in _imported_tops(path) if top in LAYERS}


MODULES = list(_modules())


@pytest.mark.parametrize("layer,name,path", MODULES, ids=[m[1] for m in MODULES])
def test_imports_follow_the_layers(layer, name, path):
    if name in ENTRY_POINTS:
        return
    wrong = sorted(f"line {line}: {top}" for top, line in _imported_layers(path) if top not in ALLOWED[layer])
    assert wrong == [], f"{name} ({layer}) may import only {sorted(ALLOWED[layer])}"


SERVICES = [m for m in MODULES if m[0] == "services"]


@pytest.mark.parametrize("layer,name,path", SERVICES, ids=[m[1] for m in SERVICES])
def test_services_take_named_arguments_not_request_bodies(layer, name, path):
    """Handlers translate wire names; a second caller (a workflow node, a channel) calls services."""
    bodies = [
        f"{node.name} (line {node.lineno})"
        for node in ast.walk(parsed(path))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and any(arg.arg == "body" and _not_bytes(arg) for arg in node.args.args + node.args.kwonlyargs)
    ]
    assert bodies == [], f"{name}: functions that take a request body"


def _not_bytes(arg: ast.arg) -> bool:
    """HTTP plumbing (model_http) passes raw bytes named body; that is not a request body."""
    return not (isinstance(arg.annotation, ast.Name) and arg.annotation.id == "bytes")


VIEWS = [m for m in MODULES if m[0] == "views"]


@pytest.mark.parametrize("layer,name,path", VIEWS, ids=[m[1] for m in VIEWS])
def test_views_import_no_database_code(layer, name, path):
    """Views are given loaded rows: no peewee, no models, no services (conftest also fails any
    test in which a view runs SQL, such as a lazily loaded foreign key)."""
    outside = sorted(
        f"line {line}: {top}"
        for top, line in _imported_tops(path)
        if top not in ALLOWED["views"] and top not in sys.stdlib_module_names and top != "__future__"
    )
    assert outside == [], f"{name} imports more than views, core and the standard library"


def test_views_modules_are_named_for_handler_modules():
    handlers = {p.stem for p in (REPO_ROOT / "handlers").glob("*.py")} - {"__init__"}
    views = {p.stem for p in (REPO_ROOT / "views").glob("*.py")} - {"__init__"}
    assert views <= handlers, "views/<tag>.py is named for a handlers/<tag>.py"


def test_only_the_publishing_service_imports_views():
    """A publish freezes the agent's wire objects (its shortcuts) in the snapshot; other services
    return rows and let the handler call the views."""
    importing = sorted(
        name for layer, name, path in SERVICES if any(t == "views" for t, _ in _imported_layers(path))
    )
    assert importing == ["services/agents.py"]
