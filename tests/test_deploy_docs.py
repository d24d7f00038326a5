"""docs/deploy.md and the README's configuration table name only settings, commands and options
that exist, every setting the server reads is documented, and docs/security.md names only tests
that exist: a renamed variable or test breaks this."""

from __future__ import annotations

import re
from pathlib import Path

from core.cli import main

ROOT = Path(__file__).resolve().parent.parent
SETTINGS = (ROOT / "core" / "settings.py").read_text()
READ = set(re.findall(r'"(COZEPLUS_[A-Z0-9_]+)"', SETTINGS))
EXTERNAL = {"DATABASE_URL", "REDIS_URL", "PROMETHEUS_MULTIPROC_DIR", "OTEL_EXPORTER_OTLP_ENDPOINT"}


def named_variables(text: str) -> set[str]:
    return set(re.findall(r"\b(COZEPLUS_[A-Z0-9_]+)\b", text))


def test_the_deploy_guide_names_settings_the_server_reads():
    guide = (ROOT / "docs" / "deploy.md").read_text()
    assert named_variables(guide) <= READ, named_variables(guide) - READ
    for variable in EXTERNAL:
        assert variable in guide
    assert "proxy_buffering off" in guide and "Upgrade $http_upgrade" in guide


def test_every_setting_is_in_the_readme_table():
    readme = (ROOT / "README.md").read_text()
    assert READ <= named_variables(readme), READ - named_variables(readme)
    assert "docs/deploy.md" in readme


def test_the_commands_the_guide_runs_exist(capsys):
    guide = (ROOT / "docs" / "deploy.md").read_text()
    commands = set(re.findall(r"cozeplus (serve|worker|migrate|backup|restore)\b", guide))
    assert commands == {"serve", "worker", "migrate", "backup", "restore"}
    for command, option in (("serve", "--workers"), ("worker", "--threads"), ("backup", "--output")):
        try:
            main([command, "--help"])
        except SystemExit as exc:
            assert exc.code == 0
        assert option in capsys.readouterr().out


def test_the_security_page_names_tests_that_exist():
    page = (ROOT / "docs" / "security.md").read_text()
    sources = {path.name: path.read_text() for path in (ROOT / "tests").glob("test_*.py")}
    for match in re.finditer(r"`tests/(\w+\.py)(?:::(\w+))?`", page):
        assert match.group(1) in sources, match.group(0)
        if match.group(2):
            assert f"def {match.group(2)}(" in sources[match.group(1)], match.group(0)
    for name in re.findall(r"`(test_\w+)`", page):
        assert any(f"def {name}(" in source for source in sources.values()), name
