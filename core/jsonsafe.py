"""JSON from clients, read safely: bounded nesting and real Unicode only.

Python's parser raises RecursionError on about 1,000 levels, and JSON can escape a lone UTF-16
surrogate ("\\ud800") that no database driver or UTF-8 encoder accepts. Request bodies and every
JSON string a client sends inside a field (message content, slices, table rows) pass through
here, so both are plain "bad input" with the place named, never a crash further in."""

from __future__ import annotations

import json

MAX_DEPTH = 64


class JsonProblem(ValueError):
    """Invalid, too deeply nested or not valid Unicode; the message names where."""


def _lone_surrogate(text: str) -> bool:
    if text.isascii():
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _at(path: str, text: str) -> str:
    return f"{path}: {text}" if path else text


def problem(value, path: str = "") -> str | None:
    """What is wrong with a parsed JSON value, or None. Walks without recursion."""
    stack = [(value, path, 1)]
    while stack:
        item, where, depth = stack.pop()
        if isinstance(item, str):
            if _lone_surrogate(item):
                return _at(where, "contains a lone UTF-16 surrogate, which is not valid Unicode")
            continue
        if not isinstance(item, (dict, list)):
            continue
        if depth > MAX_DEPTH:
            return _at(where, f"JSON is nested deeper than {MAX_DEPTH} levels")
        if isinstance(item, dict):
            for key, child in item.items():
                child_path = f"{where}.{key}" if where else str(key)
                if _lone_surrogate(key):
                    return _at(where, "a key contains a lone UTF-16 surrogate, which is not valid Unicode")
                stack.append((child, child_path, depth + 1))
        else:
            stack.extend((child, f"{where}[{index}]", depth + 1) for index, child in enumerate(item))
    return None


def loads(text: str | bytes, path: str = ""):
    """json.loads that raises JsonProblem (a ValueError) for anything we would not store."""
    try:
        value = json.loads(text)
    except RecursionError:
        raise JsonProblem(_at(path, f"JSON is nested deeper than {MAX_DEPTH} levels")) from None
    except ValueError as exc:
        raise JsonProblem(_at(path, f"not valid JSON ({exc})")) from None
    found = problem(value, path)
    if found:
        raise JsonProblem(found)
    return value
