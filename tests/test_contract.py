"""Schemathesis over every operation of openapi.yaml (ASGI, in process): no 5xx, every response
and every documented status conforms to the spec; a stateful run follows the spec's links."""

from __future__ import annotations

import itertools
import os
import re

import schemathesis
from conftest import session_app
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.specs.openapi.checks import positive_data_acceptance

from core import errors, jsonsafe
from core.security import issue_session
from models.identity import User

CONTRACT_EMAIL = "contract@example.com"
# Examples per operation, stateful runs, and steps per run. "ci" runs in `make test`; "long" by
# hand: `make test-contract-long` (an hour or more on two cores).
PROFILES = {"ci": (50, 50, 8), "long": (1000, 500, 20)}
EXAMPLES, RUNS, STEPS = PROFILES[os.environ.get("COZEPLUS_CONTRACT_PROFILE", "ci")]
HYPOTHESIS = settings(
    max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True
)


def _contract_user() -> User:
    from core.security import hash_password

    return User.by_email(CONTRACT_EMAIL) or User.create_with_space(
        email=CONTRACT_EMAIL, password_hash=hash_password("contract-password")
    )


@schemathesis.auth(refresh_interval=None)
class FreshSession:
    """A new login session per call, so a generated logout only ends its own session."""

    def get(self, case, context):
        token, _ = issue_session(_contract_user())
        return token

    def set(self, case, data, context):
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}


@schemathesis.hook
def filter_query(ctx, query):
    """The server reads `name=` as no name at all (cozepy sends unset parameters that way; see
    core/middleware.py), so an empty value is never invalid input, whatever the schema says."""
    return not query or not any(_sent_empty(value) for value in query.values())


def _sent_empty(value) -> bool:
    """`name=`: an empty string, or a list of none or only empty ones."""
    return value == "" or (isinstance(value, list) and all(item == "" for item in value))


_KEY_SUFFIX = itertools.count()


def _unique_key(headers: dict) -> dict:
    """Each generated Idempotency-Key made unique: a key reused with another body is refused with
    422 by design (tests/test_idempotency.py), which Schemathesis would count as valid data
    rejected. Invalid keys (too long, spaces) stay as generated, to be refused with 400."""
    key = headers.get("Idempotency-Key")
    if isinstance(key, str) and re.fullmatch(r"[!-~]{1,255}", key):
        headers["Idempotency-Key"] = f"{key[:240]}-{next(_KEY_SUFFIX)}"
    return headers


LONE_SURROGATE = "\ud800"
DEEP = 80  # levels; the API refuses JSON nested deeper than core.jsonsafe.MAX_DEPTH (64)


def _with_surrogate(body):
    """The body with a lone surrogate in its first string (or under its first key)."""
    if not isinstance(body, dict) or not body:
        return {"text": LONE_SURROGATE}
    key = next((k for k in sorted(body) if isinstance(body[k], str)), sorted(body)[0])
    return {**body, key: LONE_SURROGATE + (body[key] if isinstance(body[key], str) else "")}


def _deeply_nested(body):
    value = "leaf"
    for _ in range(DEEP):
        value = [value]
    key = sorted(body)[0] if isinstance(body, dict) and body else "value"
    return {**(body if isinstance(body, dict) else {}), key: value}


def _hostile(body) -> bool:
    return isinstance(body, (dict, list)) and jsonsafe.problem(body) is not None


def before_generate_body(ctx, strategy):
    """Among generated JSON bodies: lone surrogates and deep nesting, which must be refused with 400."""
    media_types = [body.media_type for body in ctx.operation.body] if ctx.operation else []
    if not media_types or not all("json" in media for media in media_types):
        return strategy
    return st.one_of(strategy, strategy.map(_with_surrogate), strategy.map(_deeply_nested))


schema = schemathesis.openapi.from_asgi("/openapi.json", session_app())
schema.config.generation.update(allow_x00=False)  # the API refuses NUL in text (see info)
# A body over COZEPLUS_MAX_JSON_BODY_BYTES is refused with 413 before it is read as JSON; that is
# a rejection too (Schemathesis can generate a 2.7 MB string to break a maxLength).
_rejection = schema.config.checks.negative_data_rejection
_rejection.expected_statuses = [*_rejection.expected_statuses, "413"]


# Operations whose schema-valid input can still be refused with 400 for a documented reason the
# schema cannot express: "customize" needs expire_at in the future; an avatar must not be empty;
# agents publish only to connectors 1024 and 999 (OpenAPI 3.0 cannot constrain map keys); uploads
# must hold exactly one non-empty file whose bytes are valid (base64, the extension's type).
# Chats: multimodal content is a JSON string whose items must parse, the last additional message
# must be the user's, a conversation must be with the agent named; tool outputs must answer the
# pending calls; a message's type must fit its role; only answers can be broken.
# Knowledge: a document needs exactly one readable source of a type its knowledge base takes; a
# chunk overlap must be under half the length; a table slice is JSON naming its columns; table
# columns and captions belong to table and image documents; semantic and hybrid retrieval need an
# embedding model, and column filters a table knowledge base. Memory: rows, filters and sorts
# name the table's own fields with values of their types; a schema's field names are unique and
# its field ids are the table's. Variables: the agent (bot_id, or app_id) must be named, and a
# value set must be one of its variables. Plugins: documents and manifests are checked beyond
# their being strings (OpenAPI 3, the manifest's fields), tools' parameters must match their
# paths, and an OAuth callback's state must be one this server gave out. Webhook URLs must pass the
# outbound guard (resolve, and to a public address). Workflow runs: `parameters` given as a string
# must be JSON text.
SEMANTIC_400 = {
    "create_pat",
    "upload_avatar",
    "publish_bot",
    "open_publish_bot",
    "upload_file",
    "bot_upload_file",
    "upload_to_store",
    "agent_chat",
    "chat",
    "submit_tool_outputs",
    "create_message",
    "break_message",
    "get_message_list",
    "create_documents",
    "open_create_documents",
    "resegment_documents",
    "create_slice",
    "update_slice",
    "update_document",
    "retrieve",
    "open_update_image",
    "add_database",
    "update_database",
    "list_database_records",
    "update_database_records",
    "set_variable_values",
    "open_get_variables",
    "open_set_variables",
    "register_plugin",
    "update_plugin",
    "update_bot_default_params",
    "convert_to_openapi",
    "delete_bot_default_params",
    "batch_create_api",
    "register_plugin_meta",
    "update_plugin_meta",
    "create_api",
    "update_api",
    "publish_plugin",
    "debug_api",
    "oauth_callback",
    "webhook_create",
    "webhook_update",
    "create_conversation",
    "open_workflow_run",
    "open_workflow_stream_run",
    "open_workflow_chat",
}


def _excluded_checks(case) -> list:
    operation_id = case.operation.definition.raw.get("operationId")
    hostile = case.media_type and "json" in case.media_type and _hostile(case.body)
    return [positive_data_acceptance] if operation_id in SEMANTIC_400 or hostile else []


@schema.hooks.apply(before_generate_body)
@schema.parametrize()
@HYPOTHESIS
def test_operation_conforms(case):
    case.headers = _unique_key(dict(case.headers or {}))
    response = case.call_and_validate(excluded_checks=_excluded_checks(case))
    if case.media_type and "json" in case.media_type and _hostile(case.body) and response.status_code != 401:
        # a request no route takes (a path parameter holding a newline) is refused before its body
        unrouted = response.status_code == 404 and response.json().get("code") == errors.ROUTE_NOT_FOUND.code
        assert response.status_code == 400 or unrouted, response.text


class APIWorkflow(schema.as_state_machine()):
    def before_call(self, case):
        case.headers = _unique_key(dict(case.headers or {}))

    def validate_response(self, response, case, additional_checks=None, **kwargs):
        case.validate_response(
            response,
            additional_checks=additional_checks,
            excluded_checks=_excluded_checks(case),
            transport_kwargs=kwargs or None,
            recorder=self.recorder,
        )


APIWorkflow.TestCase.settings = settings(
    max_examples=RUNS,
    stateful_step_count=STEPS,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
TestAPIWorkflow = APIWorkflow.TestCase


def test_schemathesis_checks_every_streamed_event(client):
    """Generated bot ids rarely name a published agent, so stream real chats through Schemathesis
    too: it parses each event and validates it against the operation's event schema."""
    from conftest import register
    from test_chat import new_agent

    account = register(client)
    bot_id = new_agent(account)
    streams = [
        ("/api/conversation/chat", {"bot_id": bot_id, "query": "/reason why\nHello"}),
        (
            "/v3/chat",
            {
                "bot_id": bot_id,
                "user_id": "u",
                "stream": True,
                "additional_messages": [{"role": "user", "content": "Hello"}],
            },
        ),
        (
            "/v3/chat",
            {
                "bot_id": bot_id,
                "user_id": "u",
                "stream": True,
                "additional_messages": [{"role": "user", "content": '/call lookup {"q": 1}'}],
            },
        ),
    ]
    for path, body in streams:
        case = schema[path]["POST"].Case(body=body, headers=account.headers, media_type="application/json")
        response = case.call_and_validate()
        assert response.headers["content-type"][0].startswith("text/event-stream")
        assert response.text.count("event:") > 3


def shard_of(items: list, shard: str) -> tuple[list, list]:
    """(kept, deselected): items split by position into n shards, "k/n" keeping the k-th, so that
    `make test-contract-long` runs on every core (Schemathesis's cases have no node ids to name)."""
    k, n = (int(part) for part in shard.split("/"))
    if not 1 <= k <= n:
        raise ValueError(f"COZEPLUS_CONTRACT_SHARD={shard!r}: k/n with 1 <= k <= n")
    kept = [item for at, item in enumerate(items) if at % n == k - 1]
    return kept, [item for at, item in enumerate(items) if at % n != k - 1]


def test_shards_split_the_cases_without_overlap():
    items = list(range(7))
    shards = [shard_of(items, f"{k}/3") for k in (1, 2, 3)]
    assert [kept for kept, _ in shards] == [[0, 3, 6], [1, 4], [2, 5]]
    assert all(sorted(kept + dropped) == items for kept, dropped in shards)
