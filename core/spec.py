"""The contract, openapi.yaml: the app routes and validates by it, and the error registry is its
`x-error-codes` (read at import by core/errors).

Parsing the YAML takes about half a second, and a start used to do it three times: the parsed
document is kept as JSON (which loads in milliseconds) in memory and in the user's cache
directory, keyed by the file's SHA-256, so only the first start after the spec changes parses it."""

from __future__ import annotations

import hashlib
import json
import os
import threading
from pathlib import Path

import yaml

from core.settings import REPO_ROOT, cache_dir

SPEC_PATH = REPO_ROOT / "openapi.yaml"
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: about eight times faster
_parsed: dict[str, str] = {}  # digest -> the document as JSON text
_lock = threading.Lock()


_digests: dict[tuple, str] = {}  # (path, mtime, size) -> digest: a start loads the spec three times


def digest(path: Path = SPEC_PATH) -> str:
    stat = path.stat()
    stamp = (str(path), stat.st_mtime_ns, stat.st_size)
    found = _digests.get(stamp)
    if found is None:
        found = _digests[stamp] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def load(path: Path = SPEC_PATH) -> dict:
    """A fresh copy (Connexion changes the document it is given)."""
    key = digest(path)
    with _lock:
        text = _parsed.get(key)
        if text is None:
            text = _parsed[key] = _cached_text(path, key)
    return json.loads(text)


def _cached_text(path: Path, key: str) -> str:
    stored = cache_dir() / f"openapi-{key[:32]}.json"
    try:
        return stored.read_text(encoding="utf-8")
    except OSError:
        pass
    with open(path, encoding="utf-8") as fh:
        text = json.dumps(yaml.load(fh, Loader=_Loader), ensure_ascii=False)
    try:  # a cache that cannot be written only costs the next start its parse
        stored.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        partial = stored.with_suffix(f".{os.getpid()}.tmp")
        partial.write_text(text, encoding="utf-8")
        partial.replace(stored)
    except OSError:
        pass
    return text


def was_validated(key: str) -> bool:
    """Whether a document with this digest passed Connexion's validation in an earlier start."""
    return (cache_dir() / f"valid-{key[:32]}").exists()


def mark_validated(key: str) -> None:
    try:
        cache_dir().mkdir(parents=True, exist_ok=True, mode=0o700)
        (cache_dir() / f"valid-{key[:32]}").touch()
    except OSError:
        pass
