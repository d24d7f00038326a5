"""What may import what (docs/architecture.md): handlers -> services -> models, core for everyone,
the entry points (app factory, command line) above it all, codegen apart. Imports inside
functions count too."""

from __future__ import annotations

import ast

import pytest

from core.settings import REPO_ROOT

LAYERS = ("handlers", "services", "models", "core", "codegen")
ALLOWED = {
    "handlers": {"handlers", "services", "models", "core"},
    "services": {"services", "models", "core"},
    "models": {"models", "core"},
    "core": {"core", "models"},
    "codegen": {"codegen"},
}
ENTRY_POINTS = {"core/app.py", "core/cli.py", "core/asgi.py"}  # they assemble the layers


def _modules():
    for layer in LAYERS:
        for path in sorted((REPO_ROOT / layer).rglob("*.py")):
            yield layer, path.relative_to(REPO_ROOT).as_posix(), path


def _imported_layers(path) -> set[tuple[str, int]]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        for name in names:
            top = name.split(".")[0]
            if top in LAYERS:
                found.add((top, node.lineno))
    return found


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
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and any(arg.arg == "body" and _not_bytes(arg) for arg in node.args.args + node.args.kwonlyargs)
    ]
    assert bodies == [], f"{name}: functions that take a request body"


def _not_bytes(arg: ast.arg) -> bool:
    """HTTP plumbing (model_http) passes raw bytes named body; that is not a request body."""
    return not (isinstance(arg.annotation, ast.Name) and arg.annotation.id == "bytes")
