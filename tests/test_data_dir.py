"""The data directory and the SQLite files are created readable by their owner only."""

from __future__ import annotations

import os
import stat
import subprocess
import sys

from core.settings import REPO_ROOT


def test_a_new_data_directory_and_database_are_private(tmp_path):
    data_dir = tmp_path / "fresh" / "data"
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(COZEPLUS_DATA_DIR=str(data_dir), COZEPLUS_ADMIN_PASSWORD="admin-password-1")
    subprocess.run(
        [
            sys.executable,
            "-c",
            "import os, sys; os.umask(0o022); sys.argv = ['cozeplus', 'migrate'];"
            "from core.cli import main; main()",
        ],
        cwd=REPO_ROOT,
        env=env,
        check=True,
        capture_output=True,
        timeout=120,
    )
    mode = lambda path: stat.S_IMODE(path.stat().st_mode)  # noqa: E731
    assert mode(data_dir) == 0o700
    database = data_dir / "cozeplus.db"
    assert database.exists() and mode(database) == 0o600
    for sibling in data_dir.iterdir():  # the secret, WAL and shared-memory files alike
        if sibling.is_file():
            assert mode(sibling) & 0o077 == 0, sibling
