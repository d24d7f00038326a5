"""Files the server keeps for itself (the data directory, SQLite databases): its owner's only.

The database holds password hashes and encrypted secrets, the data directory the signing key
and uploads; other accounts on the machine have no business reading either."""

from __future__ import annotations

import os
from pathlib import Path


def private_dir(path: Path) -> Path:
    """Create `path` (and its parents) if missing; a directory created here is owner-only."""
    if not path.exists():
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(path, 0o700)  # mkdir's mode is filtered by the umask
    return path


def private_file(path: Path) -> Path:
    """Create an empty owner-only file if missing (SQLite then keeps its journal files alike)."""
    private_dir(path.parent)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass
    return path
