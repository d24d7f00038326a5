"""The contract itself: valid OpenAPI, loadable by Connexion, consistent with the code."""

from __future__ import annotations

import ast
import importlib

import connexion
import pytest
import yaml
from openapi_spec_validator import validate

from core import errors
from core.settings import REPO_ROOT
from tests.source import parsed

SPEC = yaml.safe_load((REPO_ROOT / "openapi.yaml").read_text())
OPERATIONS = [
    (path, method, op)
    for path, item in SPEC["paths"].items()
    for method, op in item.items()
    if isinstance(op, dict)
]
TAG_ORDER = [
    "passport",
    "space",
    "agent",
    "conversation",
    "chat",
    "workflow",
    "workflow_run",
    "knowledge",
    "plugin",
    "memory",
    "channel",
    "upload",
    "permission",
    "corporation",
    "prompt",
    "shortcut",
    "project",
    "search",
    "webhook",
    "admin",
]


def test_openapi_spec_validator_accepts_it():
    validate(SPEC)


def test_connexion_resolves_every_reference():
    # openapi-spec-validator misses dangling $refs; Connexion does not.
    app = connexion.AsyncApp(__name__)
    app.add_api(SPEC)


def test_tags_are_the_table_of_contents():
    assert [t["name"] for t in SPEC["tags"]] == TAG_ORDER
    assert all(t.get("description") for t in SPEC["tags"])


@pytest.mark.parametrize("path,method,op", OPERATIONS, ids=[f"{m} {p}" for p, m, _ in OPERATIONS])
def test_operation_conventions(path, method, op):
    assert len(op["tags"]) == 1 and op["tags"][0] in TAG_ORDER
    assert op["operationId"].isidentifier() and op["operationId"] == op["operationId"].lower()
    assert op.get("summary")
    controller = op["x-openapi-router-controller"]
    assert controller == f"handlers.{op['tags'][0]}"
    assert callable(getattr(importlib.import_module(controller), op["operationId"]))
    assert "default" in op["responses"], "every operation documents its other errors"


def test_operation_ids_are_unique():
    ids = [op["operationId"] for _, _, op in OPERATIONS]
    assert len(ids) == len(set(ids))


def test_the_registry_is_the_specs_error_codes():
    listed = {(c["code"], c["status"], c["name"], c["message"]) for c in SPEC["x-error-codes"]}
    registry = {(c.code, c.status, c.name, c.message) for c in errors.all_codes()}
    assert listed == registry
    assert errors.KNOWLEDGE_NOT_FOUND.code == 105000001 and errors.KNOWLEDGE_NOT_FOUND.status == 404


def test_every_error_the_code_raises_is_registered():
    """errors.NAME constants come from x-error-codes at import, so no linter sees a misspelt one."""
    used = {}
    for folder in ("core", "handlers", "services", "views", "models", "tests", "bench"):
        for path in (REPO_ROOT / folder).rglob("*.py"):
            for node in ast.walk(parsed(path)):
                if (
                    isinstance(node, ast.Attribute)
                    and isinstance(node.value, ast.Name)
                    and node.value.id == "errors"
                    and node.attr.isupper()
                ):
                    used.setdefault(node.attr, f"{path.relative_to(REPO_ROOT)}:{node.lineno}")
    assert len(used) > 50
    missing = {name: where for name, where in used.items() if not hasattr(errors, name)}
    assert missing == {}


def test_every_tag_has_an_invalid_parameter_code():
    assert set(TAG_ORDER) <= set(errors.INVALID_PARAM_BY_TAG)
    for tag in SPEC["tags"]:
        assert errors.INVALID_PARAM_BY_TAG[tag["name"]].status == 400, tag["name"]


def test_security_schemes():
    schemes = SPEC["components"]["securitySchemes"]
    assert schemes["bearerJWT"]["scheme"] == "bearer" and schemes["bearerPAT"]["scheme"] == "bearer"
    assert schemes["sessionCookie"] == {
        **schemes["sessionCookie"],
        "type": "apiKey",
        "in": "cookie",
        "name": "session_key",
    }
    public = {p for p, m, op in OPERATIONS if op.get("security") == []}
    assert public == {
        "/passport/web/email/login/",
        "/api/passport/web/email/login/",
        "/api/passport/web/email/register/v2/",
        "/api/user/avatar/{avatar_key}",
        "/healthz",
        "/metrics",  # Prometheus scrapes it; COZEPLUS_METRICS_TOKEN guards it when set
        "/",
        "/api/common/upload/{store_uri}",
        "/api/oauth/authorization_code",  # the single-use state it carries is the credential
        "/api/channel/callback/{channel_id}",  # signed by the channel's platform, with its secret
    }
    optional = {p for p, m, op in OPERATIONS if {} in (op.get("security") or [])}
    assert optional == {"/api/files/{file_id}/content"}  # a signed link is the alternative


def test_every_operation_has_its_own_function():
    """No alias (`get_chat = retrieve_chat`) hides an operation's handler from grep."""
    for _path, _method, op in OPERATIONS:
        module = importlib.import_module(op["x-openapi-router-controller"])
        function = getattr(module, op["operationId"])
        assert function.__name__ == op["operationId"], (
            f"{op['operationId']} is an alias of {function.__name__}"
        )


class _StrictLoader(yaml.SafeLoader):
    """YAML that refuses a key given twice in one mapping (PyYAML keeps the last silently;
    the Postman converter and other tools refuse the document)."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            assert key not in seen, f"line {key_node.start_mark.line + 1}: {key!r} is given twice"
            seen.add(key)
        return super().construct_mapping(node, deep)


def test_no_key_is_given_twice():
    yaml.load((REPO_ROOT / "openapi.yaml").read_text(), Loader=_StrictLoader)
