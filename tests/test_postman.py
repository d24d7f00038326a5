"""The Postman collection: committed file == fresh generation; newman runs it green against a
real server (uvicorn on a free local port) and leaves that server as it found it."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest
from conftest import ADMIN_PASSWORD, run_python

from core.settings import REPO_ROOT

NPX = shutil.which("npx")
pytestmark = [
    pytest.mark.skipif(
        NPX is None or not (REPO_ROOT / "node_modules").exists(),
        reason="needs Node and `npm ci` (make test installs both)",
    ),
    pytest.mark.clients,  # the spec's clients; .ci/run runs them on SQLite only
]


def test_committed_collection_matches_a_fresh_generation(tmp_path):
    fresh = tmp_path / "collection.json"
    subprocess.run(
        ["node", "codegen/postman.js", "--out", str(fresh)],
        cwd=REPO_ROOT,
        check=True,
        capture_output=True,
        timeout=120,
    )
    committed = (REPO_ROOT / "postman" / "collection.json").read_text()
    assert fresh.read_text() == committed, "postman/collection.json is stale: run `make postman`"


def test_collection_covers_every_operation():
    import yaml

    spec = yaml.safe_load((REPO_ROOT / "openapi.yaml").read_text())
    operations = {
        op["operationId"]
        for item in spec["paths"].values()
        for op in item.values()
        if isinstance(op, dict) and "operationId" in op
    }
    collection = json.loads((REPO_ROOT / "postman" / "collection.json").read_text())
    named = {item["name"].split(":")[0] for folder in collection["item"] for item in folder["item"]}
    assert operations <= named, operations - named


# What a run could leave changed: the server's settings, the admin's account, sessions and
# resources, and what each user owns (a user the run registers must own nothing at the end).
SNAPSHOT = """
import json
from core.settings import get_settings
from models.db import init_db
from models.agent import Bot
from models.conversation import Conversation
from models.identity import LoginSession, PersonalAccessToken, User
from models.knowledge import Dataset
from models.library import PromptResource
from models.memory import MemoryDatabase
from models.plugin import Plugin
from models.project import Project
from models.llm import LlmModel
from models.server_config import ServerConfig
from models.corporation import Corporation, Department, Employee, EmployeeDepartment

settings = get_settings()
init_db(settings.database_url)


def owned(user):
    return {
        "agents": Bot.select().where(Bot.creator == user.id).count(),
        "knowledge_bases": Dataset.select().where(Dataset.creator == user.id).count(),
        "prompts": PromptResource.select().where(PromptResource.creator == user.id).count(),
        "databases": MemoryDatabase.select().where(MemoryDatabase.creator == user.id).count(),
        "projects": Project.select().where(Project.creator == user.id).count(),
        "plugins": Plugin.select().where(Plugin.creator == user.id).count(),
        "tokens": PersonalAccessToken.select().where(PersonalAccessToken.user == user.id).count(),
        "conversations": Conversation.select().where(Conversation.creator == user.id).count(),
        "sessions": sorted(s.jti for s in LoginSession.select().where(
            LoginSession.user == user.id, LoginSession.revoked_at.is_null()
        )),
    }


admin = User.by_email(settings.admin_email)
print(json.dumps({
    "settings": {  # a choice saved as null is the same setting as one never saved
        c.key: {k: v for k, v in json.loads(c.value).items() if v is not None}
        for c in ServerConfig.select()  # the policy revision is a stamp: a role made and deleted moves it
        if c.key != "authz.policy" and any(v is not None for v in json.loads(c.value).values())
    },
    "models": [
        [m.id, m.name, m.kind, m.base_url, m.is_enabled, m.is_default, m.updated_at]
        for m in LlmModel.select().order_by(LlmModel.id)
    ],
    "admin": [admin.name, admin.description, admin.avatar_key, admin.password_hash, admin.updated_at],
    "users": {u.email: owned(u) for u in User.select()},
    "disabled": {u.email: u.is_disabled for u in User.select()},
    "organisations": [m.select().count() for m in (Corporation, Department, Employee, EmployeeDepartment)],
}))
"""


def _snapshot(env) -> dict:
    result = run_python(env, "-c", SNAPSHOT)
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout)


def test_newman_runs_the_collection_green_and_leaves_the_server_as_it_was(live_server, live_env, tmp_path):
    before = _snapshot(live_env)
    report = tmp_path / "newman.json"
    result = subprocess.run(
        [
            NPX,
            "--no-install",
            "newman",
            "run",
            "postman/collection.json",
            "--env-var",
            f"baseUrl={live_server}",
            "--env-var",
            f"adminPassword={ADMIN_PASSWORD}",
            "--reporters",
            "cli,json",
            "--reporter-json-export",
            str(report),
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    stats = json.loads(report.read_text())["run"]["stats"]
    collection = json.loads((REPO_ROOT / "postman" / "collection.json").read_text())
    items = [item for folder in collection["item"] for item in folder["item"]]
    side_requests = sum(
        "pm.sendRequest" in "".join(e["script"]["exec"])
        for item in items
        for e in item.get("event", [])
        if e["listen"] == "prerequest"
    )
    requests = len(items) + side_requests  # at least: pre-requests that poll may send several
    assert stats["requests"]["total"] >= requests and stats["requests"]["failed"] == 0
    assert stats["assertions"]["failed"] == 0 and stats["assertions"]["total"] >= 2 * requests

    after = _snapshot(live_env)
    assert after["settings"] == before["settings"]
    assert after["models"] == before["models"]
    assert after["admin"] == before["admin"]
    assert after["organisations"] == before["organisations"]
    new_users = set(after["users"]) - set(before["users"])
    # the collection's user, the teammate it invites to its team space, the admin's colleague, the
    # login of the employee it adds (disabled when the employee is deleted)
    assert sorted(email.split("-")[0] for email in new_users) == [
        "colleague",
        "employee",
        "postman",
        "teammate",
    ]
    assert {email: after["users"][email] for email in before["users"]} == before["users"]  # the admin too
    employee_login = next(email for email in new_users if email.startswith("employee-"))
    assert after["disabled"][employee_login] is True
    registered = next(after["users"][email] for email in new_users if email.startswith("postman-"))
    assert registered == {
        "agents": 0,
        "knowledge_bases": 0,
        "prompts": 0,
        "databases": 0,
        "projects": 0,
        "plugins": 0,
        "tokens": 0,
        "conversations": 0,
        "sessions": [],
    }
