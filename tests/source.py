"""Our own modules parsed once, for the tests that read the code's structure."""

from __future__ import annotations

import ast
import functools
from pathlib import Path


@functools.cache
def parsed(path: Path) -> ast.Module:
    # CPython 3.11's AST builder keeps its recursion depth in shared state, so a parse can fail with
    # "AST constructor recursion depth mismatch" while another thread (a test's server) parses too
    # (python/cpython#106905); the same parse retried succeeds.
    source = path.read_text()
    for _ in range(4):
        try:
            return ast.parse(source, str(path))
        except SystemError:
            continue
    return ast.parse(source, str(path))
