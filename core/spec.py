"""The contract, openapi.yaml: the app routes and validates by it, and the error registry is its
`x-error-codes` (read at import by core/errors)."""

from __future__ import annotations

from pathlib import Path

import yaml

from core.settings import REPO_ROOT

SPEC_PATH = REPO_ROOT / "openapi.yaml"
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: about eight times faster


def load(path: Path = SPEC_PATH) -> dict:
    """A fresh copy (Connexion changes the document it is given)."""
    with open(path, encoding="utf-8") as fh:
        return yaml.load(fh, Loader=_Loader)
