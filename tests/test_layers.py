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
