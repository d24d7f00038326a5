"""Every script in examples/ run as a user would run it, against a live server with a personal access
token: curl, Python on the generated SDK, Python on cozepy and TypeScript on the generated SDK, for
each module's main path. Each must finish, print what its path produced, and leave nothing behind."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from core.settings import REPO_ROOT
from tests.fake_openai import MODEL_HOST

pytestmark = pytest.mark.clients  # the spec's clients; .ci/run runs them on SQLite only

EXAMPLES = REPO_ROOT / "examples"
MODULES = ("agent", "workflow", "knowledge", "plugin", "memory", "channel")
COZEPY_MODULES = ("agent", "workflow", "knowledge", "memory")  # cozepy has no plugin or channel API
ANSWER = "This is the built-in offline model, which answers without an LLM. You said: “{}”"

# What each module's run must print, in every language (the question differs by language)
EXPECTED = {
    "agent": [r"^created agent (\d+)$", r"^published$", r"^answer: " + re.escape(ANSWER.format("QUESTION"))],
    "workflow": [
        r"^created workflow (\d+)$|^published workflow (\d+)$",
        r"^output: .*Hello, Ada!",
        r"^run \d+: Success$",
    ],
    "knowledge": [
        r"^created knowledge base (\d+)$",
        r"^document \d+ processed \(status 1\)$",
        r"^best match: Returns are accepted within 30 days with the receipt\.$",
    ],
    "plugin": [r"^registered plugin (\d+)$", r"^tools: lookup_city$", r'^tool answered: \{"city":"Lyon"\}$'],
    "memory": [r"^variables of example-user: \[\{.keyword.: ?.city., ?.value.: ?.Lyon.\}\]$"],
    "channel": [
        r"^types: .*webhook",
        r"^bound channel (\d+)$",
        r"^answer: " + re.escape(ANSWER.format("Hello from a webhook")) + "$",
        r"^messages logged: 1$",
    ],
}
QUESTIONS = {"curl": "Hello from curl", "sdk": "Hello from the Python SDK", "cozepy": "Hello from cozepy"}
QUESTIONS["typescript"] = "Hello from TypeScript"


class LookupService(BaseHTTPRequestHandler):
    """The plugin examples' tool: httpbin's /get, which echoes the query back."""

    def do_GET(self):
        query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.path).query))
        body = json.dumps({"args": query, "url": self.path}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def tool_url():
    server = ThreadingHTTPServer((MODEL_HOST, 0), LookupService)  # the live server may call 127.0.0.3
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://{MODEL_HOST}:{server.server_port}"
    server.shutdown()


@pytest.fixture(scope="module")
def typescript_examples(sdks_built) -> None:
    """examples/typescript installed (its dependency is the generated SDK) and compiled by tsc,
    which also checks every call against the SDK's types."""
    folder = EXAMPLES / "typescript"
    for command in (
        ["npm", "install", "--no-audit", "--no-fund", "--offline"],
        [str(REPO_ROOT / "node_modules/.bin/tsc"), "-p", "."],
    ):
        result = subprocess.run(command, cwd=folder, capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stdout + result.stderr


def command_of(language: str, module: str) -> list[str]:
    if language == "curl":
        return ["bash", str(EXAMPLES / "curl" / f"{module}.sh")]
    if language == "typescript":
        return ["node", str(EXAMPLES / "typescript" / "dist" / f"{module}.js")]
    return [sys.executable, str(EXAMPLES / "python" / language / f"{module}.py")]


CASES = [(language, module) for language in ("curl", "sdk", "typescript") for module in MODULES]
CASES += [("cozepy", module) for module in COZEPY_MODULES]


@pytest.mark.parametrize(("language", "module"), CASES, ids=[f"{lang}-{mod}" for lang, mod in CASES])
def test_example(language, module, live_server, pat, tool_url, sdks_built, request):
    if language == "typescript":
        request.getfixturevalue("typescript_examples")
    env = {
        **os.environ,
        "COZEPLUS_BASE_URL": live_server,
        "COZEPLUS_TOKEN": pat,
        "EXAMPLE_TOOL_URL": tool_url,
        "PYTHONPATH": str(sdks_built["python"]),  # the generated SDK, as `pip install` would place it
        "PYTHONWARNINGS": "ignore",
    }
    result = subprocess.run(
        command_of(language, module), cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=180
    )
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    made = []
    for pattern in EXPECTED[module]:
        pattern = pattern.replace("QUESTION", re.escape(QUESTIONS[language]))
        found = [m for m in (re.search(pattern, line) for line in lines) if m]
        assert found, f"no line matches {pattern!r} in:\n{result.stdout}"
        made += [group for group in found[0].groups() if group]
    assert_left_nothing(live_server, pat, module, made, result.stdout)


def assert_left_nothing(base: str, pat: str, module: str, made: list[str], output: str) -> None:
    """What the example created is gone (it said so, and the server agrees)."""
    headers = {"Authorization": f"Bearer {pat}"}
    for kind_id in made:
        assert re.search(rf"^(deleted|unbound) .*\b{kind_id}\b", output, re.M), f"{kind_id} was not deleted"
    deleted = re.findall(r"^(?:deleted|unbound) (.*)$", output, re.M)
    assert deleted, output
    for ids in deleted:
        for kind, kind_id in re.findall(r"(agent|workflow|knowledge base|plugin|table|channel) (\d+)", ids):
            probe = {
                "agent": ("GET", f"/v1/bots/{kind_id}", None),
                "workflow": ("GET", f"/v1/workflows/{kind_id}", None),
                "knowledge base": ("POST", "/api/knowledge/detail", {"dataset_ids": [kind_id]}),
                "plugin": ("POST", "/api/plugin_api/get_plugin_info", {"plugin_id": kind_id}),
                "table": ("POST", "/api/memory/database/get_by_id", {"id": kind_id}),
                "channel": ("POST", "/api/channel/get", {"id": kind_id}),
            }[kind]
            answer = httpx.request(probe[0], base + probe[1], json=probe[2], headers=headers).json()
            gone = answer["code"] != 0 or answer.get("data", {}).get("dataset_details") == []
            assert gone, (module, kind, kind_id, answer)
