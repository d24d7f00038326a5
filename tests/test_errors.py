"""The envelope for framework errors: unknown routes, wrong methods, bodies, ids, request ids."""

from __future__ import annotations

import re

import pytest
from conftest import assert_error, register

from models.identity import User


def test_unknown_path(client):
    for path in ("/nope", "/api/nope", "/v1/nope"):
        assert_error(client.get(path), 404, 4200, path)


def test_wrong_method_keeps_allow(client):
    response = client.delete("/healthz")
    assert_error(response, 405, 4205, "DELETE")
    assert "GET" in response.headers["allow"]


def test_body_over_the_limit_is_refused_before_parsing(client, alice, settings_override):
    response = alice.post(
        "/api/user/update_profile",
        content=b"{" + b" " * (3 * 1024 * 1024) + b"}",
        headers={"Content-Type": "application/json"},
    )
    assert_error(response, 413, 4113, "limit")


def test_streamed_body_over_the_limit(client, alice):
    def chunks():
        for _ in range(40):
            yield b" " * (64 * 1024)

    response = alice.post(
        "/api/user/update_profile", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert_error(response, 413, 4113)


def test_not_utf8_body(alice):
    response = alice.post(
        "/api/user/update_profile",
        content='{"name": "é"}'.encode("latin-1"),
        headers={"Content-Type": "application/json"},
    )
    assert_error(response, 400, 700000006, "UTF-8")
    assert User.get_by_id(int(alice.user_id)).name != "é"


@pytest.mark.parametrize("body", [b"[]", b"null", b"123", b'"text"'])
def test_body_of_the_wrong_json_type(alice, body):
    response = alice.post(
        "/api/user/update_profile", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400 and response.json()["code"] == 700000006


def test_request_id_is_echoed_or_generated(client):
    given = client.get("/healthz", headers={"X-Request-Id": "abc-123"})
    assert given.headers["x-request-id"] == "abc-123"
    generated = client.get("/healthz", headers={"X-Request-Id": "bad id with spaces"})
    assert len(generated.headers["x-request-id"]) == 32
    assert generated.headers["x-tt-logid"] == generated.headers["x-request-id"]


def test_healthz(client):
    body = client.get("/healthz").json()
    assert body["code"] == 0 and body["data"]["status"] == "ok"
    assert body["data"]["database"] in ("sqlite", "postgresql")


def test_unexpected_exceptions_become_a_clean_500(client, alice, monkeypatch):
    from services import accounts

    def explode(*args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(accounts, "update_profile", explode)
    response = alice.post("/api/user/update_profile", json={"name": "x"})
    body = assert_error(response, 500, 5000)
    assert "secret" not in response.text and "Traceback" not in response.text
    assert body["msg"] == "internal server error"


def test_served_spec_and_swagger_ui(client):
    spec = client.get("/openapi.json")
    assert spec.status_code == 200 and spec.json()["info"]["title"] == "Coze Plus API"
    ui = client.get("/ui/")
    assert ui.status_code == 200 and "swagger" in ui.text.lower()


def test_password_is_never_logged(client, caplog):
    caplog.set_level("DEBUG")
    client.post(
        "/api/passport/web/email/login/", json={"email": "nobody@example.com", "password": "hunter2-secret"}
    )
    assert "hunter2-secret" not in caplog.text


def test_chunked_body_within_the_limit_is_read(alice):
    def chunks():
        yield b'{"name": '
        yield b'"Chunked"}'

    response = alice.post(
        "/api/user/update_profile", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 200, response.text
    assert User.get_by_id(int(alice.user_id)).name == "Chunked"


@pytest.mark.parametrize(
    "content", [b'{"email": "a\\u0000@b.co", "password": "x"}', b'{"email": "a\x00@b.co", "password": "x"}']
)
def test_nul_characters_are_refused_on_every_database(client, content):
    response = client.post(
        "/api/passport/web/email/login/", content=content, headers={"Content-Type": "application/json"}
    )
    assert_error(response, 400, 4000, "NUL")


def test_nul_in_query_is_refused(alice):
    assert_error(alice.get("/v1/workspaces", params={"user_id": "a\x00b"}), 400, 4000, "NUL")


def _json_operations():
    from test_spec import OPERATIONS, SPEC

    found = []
    for path, method, op in OPERATIONS:
        body = op.get("requestBody")
        if body and "$ref" in body:
            body = SPEC["components"]["requestBodies"][body["$ref"].rsplit("/", 1)[-1]]
        if body and any("json" in media for media in body["content"]):
            params = [
                SPEC["components"]["parameters"][p["$ref"].rsplit("/", 1)[-1]] if "$ref" in p else p
                for p in op.get("parameters", [])
            ]
            query = "&".join(
                f"{p['name']}={p['schema'].get('enum', ['7412345678901234567'])[0]}"
                for p in params
                if p["in"] == "query" and p.get("required")
            )
            found.append(
                (method, re.sub(r"\{[^}]+\}", "7412345678901234567", path) + (f"?{query}" if query else ""))
            )
    return found


JSON_OPERATIONS = _json_operations()


@pytest.mark.parametrize("method,path", JSON_OPERATIONS, ids=[f"{m} {p}" for m, p in JSON_OPERATIONS])
def test_lone_surrogates_and_deep_nesting_are_refused_on_every_json_operation(client, method, path):
    """Both crashed the server (500) before: RecursionError in parsing, UnicodeEncodeError in the
    database driver. Login needs no token, so anyone could trigger them."""
    account = register(client)
    deep = "[" * 1200 + "]" * 1200
    cases = [
        ('{"name": "\\ud800", "text": "ok"}', "body.name", "surrogate"),
        ('{"name": "ok", "x": {"\\udfff": 1}}', "body.x", "surrogate"),
        ('{"value": ' + deep + "}", "body", "nested deeper than 64"),
        ('{"value": %s}' % ("[" * 70 + "]" * 70), "body.value", "nested deeper than 64"),
    ]
    for content, where, what in cases:
        response = client.request(
            method.upper(),
            path,
            content=content,
            headers={**account.headers, "Content-Type": "application/json"},
        )
        assert response.status_code == 400, (path, response.text)
        body = response.json()
        assert body["code"] != 0 and body["data"] is None
        assert where in body["msg"] and what in body["msg"], body["msg"]


def test_json_inside_string_fields_is_read_safely(alice):
    """Multimodal content is JSON in a string: the same rules, with the field named."""
    from test_chat import new_agent

    bot_id = new_agent(alice)
    conversation = alice.post("/v1/conversation/create", json={"bot_id": bot_id}).json()["data"]["id"]
    for content, what in [
        ('[{"type": "text", "text": "\\ud800"}]', "surrogate"),
        ("[" * 2000 + "]" * 2000, "nested deeper"),
    ]:
        response = alice.post(
            f"/v1/conversation/message/create?conversation_id={conversation}",
            json={"role": "user", "content": content, "content_type": "object_string"},
        )
        assert_error(response, 400, 103000000, what)
    listed = alice.post(f"/v1/conversation/message/list?conversation_id={conversation}", json={}).json()
    assert listed["data"] == []


@pytest.mark.parametrize(
    "path,body,message",
    [
        (
            "/api/conversation/chat",
            {"bot_id": "1", "query": "x" * 100_001},
            "body.query is too long: 100001 characters, at most 100000",
        ),
        (
            "/api/conversation/chat",
            {"bot_id": "1", "query": "   "},
            "body.query must not be empty or only spaces and control characters",
        ),
        (
            "/api/conversation/chat",
            {"bot_id": "abc", "query": "hi"},
            "body.bot_id must be an id, as a string of digits (preferred) or a number",
        ),
        ("/api/conversation/chat", {"query": "hi"}, "body.bot_id is required"),
        (
            "/api/conversation/chat",
            {"bot_id": "1", "query": "hi", "scene": "x"},
            "body.scene must be an integer, not a string",
        ),
        (
            "/api/draftbot/create",
            {"name": "a", "icon_uri": "javascript:x"},
            "body.icon_uri must be file:<id> of an upload or an http(s) URL",
        ),
        (
            "/v1/datasets",
            {"name": "n", "space_id": "1", "file_id": "x"},
            "body.file_id must be an id, as a string of digits (preferred) or a number or null",
        ),
    ],
)
def test_validation_messages_name_the_field_and_the_rule_in_plain_words(alice, path, body, message):
    response = alice.post(path, json=body)
    assert response.status_code == 400 and response.json()["msg"] == message
    assert "x" * 600 not in response.text  # a long value is not echoed back


def test_parameter_messages_say_the_rule_too(alice):
    response = alice.get("/v1/bots?workspace_id=abc")
    assert response.json()["msg"] == "query parameter 'workspace_id' must be a digit string id"
