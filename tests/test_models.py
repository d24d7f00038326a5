"""The model registry: admin CRUD, encrypted keys, the built-in model, the list agents pick from."""

from __future__ import annotations

import pytest
from conftest import assert_error

from core import crypto
from models.llm import BUILTIN_MODEL_ID, LlmModel

BASE = "/api/admin/config/model/"
NEW_MODEL = {
    "name": "Local vLLM",
    "model_name": "qwen2.5-7b",
    "base_url": "http://127.0.0.3:9/v1/",
    "api_key": "sk-test-0123456789abcdef",
    "context_length": 32768,
    "capabilities": {"tool_call": True},
    "default_params": {"temperature": 0.3},
}


def create(admin, **changes) -> dict:
    response = admin.post(BASE + "create", json={**NEW_MODEL, **changes})
    assert response.status_code == 200, response.text
    return response.json()["data"]["model"]


def test_builtin_offline_model_is_there_from_the_start(admin):
    models = admin.post(BASE + "list").json()["data"]["models"]
    builtin = next(m for m in models if m["id"] == str(BUILTIN_MODEL_ID))
    assert builtin["protocol"] == "builtin" and builtin["is_enabled"] and "offline" in builtin["name"].lower()


def test_create_stores_the_key_encrypted_and_never_returns_it(admin):
    model = create(admin)
    assert model["api_key_set"] is True and model["api_key_hint"] == "sk-...cdef"
    assert "0123456789" not in str(model)
    row = LlmModel.get_by_id(int(model["id"]))
    assert "sk-test" not in row.api_key_encrypted
    assert crypto.decrypt(row.api_key_encrypted) == NEW_MODEL["api_key"]
    assert row.base_url == "http://127.0.0.3:9/v1" and row.capabilities["tool_call"] is True
    assert row.capabilities["vision"] is False and row.default_params == {"temperature": 0.3}
    listed = admin.post(BASE + "list").text
    assert "0123456789" not in listed


def test_update_disable_default_and_delete(admin, alice):
    model = create(admin)
    updated = admin.post(BASE + "update", json={"id": model["id"], "is_enabled": False, "api_key": ""})
    assert updated.status_code == 200, updated.text
    row = LlmModel.get_by_id(int(model["id"]))
    assert row.is_enabled is False and row.api_key_encrypted == "" and row.name == NEW_MODEL["name"]
    choices = alice.post("/api/bot/get_type_list", json={}).json()["data"]["model_list"]
    assert model["id"] not in [c["model_id"] for c in choices]
    with_current = alice.post("/api/bot/get_type_list", json={"cur_model_id": model["id"]}).json()
    assert [
        c["model_status"] for c in with_current["data"]["model_list"] if c["model_id"] == model["id"]
    ] == ["disabled"]
    admin.post(BASE + "update", json={"id": model["id"], "is_enabled": True, "is_default": True})
    assert LlmModel.default_model().id == int(model["id"])
    assert LlmModel.get_by_id(BUILTIN_MODEL_ID).is_default is False
    admin.post(BASE + "update", json={"id": str(BUILTIN_MODEL_ID), "is_default": True})
    assert admin.post(BASE + "delete", json={"id": model["id"]}).json()["code"] == 0
    assert LlmModel.get_or_none(LlmModel.id == int(model["id"])) is None


def test_builtin_model_is_protected(admin):
    assert_error(admin.post(BASE + "delete", json={"id": BUILTIN_MODEL_ID}), 409, 100000022)
    assert_error(
        admin.post(BASE + "update", json={"id": "1", "base_url": "http://x.example/v1"}), 409, 100000022
    )
    assert LlmModel.get_by_id(BUILTIN_MODEL_ID).base_url == ""


def test_type_list_for_users(alice):
    data = alice.post("/api/bot/get_type_list", json={"model": True}).json()["data"]
    first = data["model_list"][0]
    assert first["is_default"] is True and first["model_type"] == first["model_id"]
    names = {p["name"] for p in first["model_params"]}
    assert {"temperature", "max_tokens", "top_p"} <= names
    assert all(c["model_status"] == "enabled" for c in data["model_list"])


def test_users_cannot_administer_models(alice):
    before = LlmModel.select().count()
    assert_error(alice.post(BASE + "create", json=NEW_MODEL), 403, 108000006)
    assert_error(alice.post(BASE + "list"), 403, 108000006)
    assert_error(alice.post(BASE + "delete", json={"id": "1"}), 403, 108000006)
    assert LlmModel.select().count() == before


@pytest.mark.parametrize(
    "changes,field",
    [
        ({"base_url": "ftp://x"}, "base_url"),
        ({"name": ""}, "name"),
        ({"context_length": 10}, "context_length"),
        ({"capabilities": {"telepathy": True}}, "telepathy"),
        ({"default_params": {"temperature": 5}}, "temperature"),
        ({"protocol": "grpc"}, "protocol"),
    ],
)
def test_bad_model_input(admin, changes, field):
    before = LlmModel.select().count()
    assert_error(admin.post(BASE + "create", json={**NEW_MODEL, **changes}), 400, 4000, field)
    assert LlmModel.select().count() == before


def test_unknown_model(admin):
    assert_error(admin.post(BASE + "update", json={"id": "999", "name": "x"}), 404, 100000020, "999")


@pytest.mark.parametrize(
    "base_url",
    [
        "http://169.254.169.254/latest",
        "http://127.0.0.1:8888/v1",
        "http://10.1.2.3/v1",
        "http://[::1]:9/v1",
        "http://localhost:11434/v1",
    ],
)
def test_model_endpoints_go_through_the_ssrf_guard(admin, base_url):
    before = LlmModel.select().count()
    assert_error(
        admin.post(BASE + "create", json={**NEW_MODEL, "base_url": base_url}),
        400,
        4000,
        "base_url",
        "private or reserved",
        "COZEPLUS_OUTBOUND_ALLOW",
    )
    assert LlmModel.select().count() == before
    model = create(admin, name=f"guarded {base_url}")
    assert_error(
        admin.post(BASE + "update", json={"id": model["id"], "base_url": base_url}), 400, 4000, "base_url"
    )
    assert LlmModel.get_by_id(int(model["id"])).base_url == "http://127.0.0.3:9/v1"


def test_the_outbound_allow_list_admits_a_private_endpoint(admin, settings_override):
    assert_error(
        admin.post(BASE + "create", json={**NEW_MODEL, "base_url": "http://localhost:11434/v1"}), 400, 4000
    )
    settings_override(outbound_allow=("localhost:11434", "10.0.0.0/8"))
    assert (
        create(admin, name="Ollama", base_url="http://localhost:11434/v1")["base_url"]
        == "http://localhost:11434/v1"
    )
    assert create(admin, name="vLLM", base_url="http://10.1.2.3/v1")["base_url"] == "http://10.1.2.3/v1"
    assert_error(
        admin.post(BASE + "create", json={**NEW_MODEL, "base_url": "http://localhost:8080/v1"}), 400, 4000
    )


def test_a_model_endpoint_that_turned_private_is_not_called():
    """The guard runs again on every new connection (a name may resolve elsewhere later)."""
    import asyncio

    from services import llm
    from tests.fake_openai import FakeModel, ServerThread

    with ServerThread(FakeModel()) as server:
        model = LlmModel.create(
            name="moved",
            model_name="fake",
            protocol="openai",
            kind="chat",
            base_url=server.base_url.replace("127.0.0.3", "127.0.0.1"),
        )
        request = llm.ChatRequest(messages=[{"role": "user", "content": "hi"}])
        with pytest.raises(llm.ProviderError) as refused:
            asyncio.run(llm.complete(model, request))
        assert "may not be reached" in refused.value.msg and "127.0.0.1" in refused.value.msg
        assert server.model.requests == []
