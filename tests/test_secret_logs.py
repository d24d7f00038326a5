"""Secrets never reach the logs: passwords (right and wrong), session tokens, personal access
tokens, model keys and webhook secrets, through requests that succeed, fail and retry, with every
logger at DEBUG and each line formatted as the server writes it."""

from __future__ import annotations

import logging

import pytest
from conftest import PASSWORD, new_email
from test_models import NEW_MODEL

from core.logs import JsonFormatter


class Lines(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.setFormatter(JsonFormatter())
        self.lines: list[str] = []

    def emit(self, record):
        self.lines.append(self.format(record))


@pytest.fixture
def written():
    handler, root = Lines(), logging.getLogger()
    before = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield handler.lines
    root.removeHandler(handler)
    root.setLevel(before)


def test_no_secret_is_written_to_the_log(client, admin, written, settings_override):
    settings_override(outbound_allow=("127.0.0.9",))
    email = new_email("logs")
    registered = client.post(
        "/api/passport/web/email/register/v2/", json={"email": email, "password": PASSWORD}
    )
    session = registered.json()["data"]["token"]
    wrong = "Wrong-password-never-logged-7"
    client.post("/api/passport/web/email/login/", json={"email": email, "password": wrong})
    client.cookies.clear()
    auth = {"Authorization": f"Bearer {session}"}
    pat = client.post(
        "/api/permission_api/pat/create_personal_access_token_and_permission",
        json={"name": "logs", "duration_day": "30"},
        headers=auth,
    ).json()["data"]["token"]
    client.post("/api/passport/account/info/v2/", headers={"Authorization": f"Bearer {pat}"})
    client.post("/api/passport/account/info/v2/", headers={"Authorization": f"Bearer {pat}x"})  # refused
    model_key = "sk-model-key-never-logged-42"
    admin.post("/api/admin/config/model/create", {**NEW_MODEL, "api_key": model_key})
    space = client.post("/api/playground_api/space/list", json={}, headers=auth).json()["data"]
    hook_secret = "webhook-secret-never-logged-99"
    made = client.post(
        "/api/webhook/create",
        json={
            "space_id": space["bot_space_list"][0]["id"],
            "url": "http://127.0.0.9:9/hook",
            "events": ["agent.published"],
            "secret": hook_secret,
        },
        headers=auth,
    )
    assert made.json()["code"] == 0, made.text
    client.post(
        "/api/webhook/test", json={"id": made.json()["data"]["id"]}, headers=auth
    )  # fails: no receiver
    assert any("request_id" in line for line in written)  # the access log was captured
    for secret in (PASSWORD, wrong, session, pat, model_key, hook_secret, admin.token):
        leaked = [line for line in written if secret in line]
        assert not leaked, (secret[:6], leaked[:2])
