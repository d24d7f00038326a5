"""Agents (draft bots): creation (the seed's body), configuration, display info, duplication,
deletion, publishing snapshots, connectors, history, and isolation between users."""

from __future__ import annotations

import pytest
from conftest import assert_error

from models.agent import Bot, BotPublication, BotVersion
from models.identity import User
from models.llm import BUILTIN_MODEL_ID, LlmModel

SEED_BODY = {
    "name": "My agent",
    "description": "Test agent",
    "bot_mode": 0,
    "model_conf": {"model_id": "your-model-id"},
}


def create(account, **body) -> str:
    response = account.post("/api/draftbot/create", json={"name": "Agent", **body})
    assert response.status_code == 200, response.text
    return response.json()["data"]["bot_id"]


def info(account, bot_id, **extra) -> dict:
    response = account.post(
        "/api/playground_api/draftbot/get_draft_bot_info", json={"bot_id": bot_id, **extra}
    )
    assert response.status_code == 200, response.text
    return response.json()["data"]


def update(account, bot_id, **bot_info):
    return account.post(
        "/api/playground_api/draftbot/update_draft_bot_info",
        json={"bot_info": {"bot_id": bot_id, **bot_info}},
    )


class TestCreate:
    def test_the_seed_body_works_verbatim(self, alice):
        response = alice.post("/api/draftbot/create", json=SEED_BODY)
        assert response.status_code == 200 and response.json()["code"] == 0, response.text
        data = response.json()["data"]
        assert data["check_not_pass"] is True and "your-model-id" in data["check_not_pass_msg"]
        bot = Bot.get_by_id(int(data["bot_id"]))
        user = User.get_by_id(int(alice.user_id))
        assert bot.space_id == user.personal_space().id and bot.creator_id == user.id
        assert (bot.name, bot.description, bot.bot_mode) == ("My agent", "Test agent", 0)
        assert bot.config["model_info"]["model_id"] == str(LlmModel.default_model().id)

    def test_a_known_model_gives_no_warning(self, alice):
        response = alice.post(
            "/api/draftbot/create", json={**SEED_BODY, "model_conf": {"model_id": BUILTIN_MODEL_ID}}
        )
        data = response.json()["data"]
        assert data["check_not_pass"] is False and data["check_not_pass_msg"] == ""

    def test_defaults(self, alice):
        bot_info = info(alice, create(alice))["bot_info"]
        assert bot_info["prompt_info"] == {"prompt": ""}
        assert bot_info["knowledge"]["knowledge_info"] == [] and bot_info["knowledge"]["auto"] is True
        assert bot_info["model_info"]["short_memory_policy"] == {"context_mode": 2, "history_round": 3}

    def test_in_another_users_space_is_refused(self, alice, bob):
        bobs_space = str(User.get_by_id(int(bob.user_id)).personal_space().id)
        before = Bot.select().count()
        assert_error(
            alice.post("/api/draftbot/create", json={"name": "x", "space_id": bobs_space}), 404, 108000009
        )
        assert Bot.select().count() == before

    @pytest.mark.parametrize(
        "body,field",
        [
            ({}, "name"),
            ({"name": ""}, "name"),
            ({"name": "x" * 101}, "name"),
            ({"name": "x", "bot_mode": 7}, "bot_mode"),
            ({"name": "x", "space_id": "abc"}, "space_id"),
        ],
    )
    def test_bad_input(self, alice, body, field):
        before = Bot.select().count()
        assert_error(alice.post("/api/draftbot/create", json=body), 400, 100000000, field)
        assert Bot.select().count() == before


class TestConfiguration:
    def test_patch_semantics(self, alice):
        bot_id = create(alice)
        response = update(
            alice,
            bot_id,
            prompt_info={"prompt": "You are terse."},
            onboarding_info={"prologue": "Hi!", "suggested_questions": ["What can you do?"]},
        )
        assert response.status_code == 200 and response.json()["data"]["has_change"] is True
        update(alice, bot_id, name="Renamed", prompt_info=None)
        bot_info = info(alice, bot_id)["bot_info"]
        assert bot_info["prompt_info"] == {"prompt": "You are terse."}
        assert bot_info["onboarding_info"]["suggested_questions"] == ["What can you do?"]
        assert bot_info["name"] == "Renamed" and Bot.get_by_id(int(bot_id)).name == "Renamed"
        assert update(alice, bot_id, name="Renamed").json()["data"]["has_change"] is False

    def test_model_must_be_usable(self, alice):
        bot_id = create(alice)
        before = Bot.get_by_id(int(bot_id)).config
        assert_error(update(alice, bot_id, model_info={"model_id": "424242"}), 404, 100000020, "424242")
        disabled = LlmModel.create(
            name="off", model_name="off", base_url="http://127.0.0.1:9", is_enabled=False
        )
        assert_error(update(alice, bot_id, model_info={"model_id": str(disabled.id)}), 409, 100000021)
        assert Bot.get_by_id(int(bot_id)).config == before
        ok = update(alice, bot_id, model_info={"model_id": BUILTIN_MODEL_ID, "temperature": 0.2})
        assert ok.status_code == 200
        assert Bot.get_by_id(int(bot_id)).config["model_info"] == {"model_id": "1", "temperature": 0.2}

    def test_display_info(self, alice):
        bot_id = create(alice)
        alice.post(
            "/api/draftbot/update_display_info",
            json={"bot_id": bot_id, "display_info": {"tab_display_info": {"plugin_tab_status": 1}}},
        )
        got = alice.post("/api/draftbot/get_display_info", json={"bot_id": bot_id}).json()["data"]
        assert got == {"tab_display_info": {"plugin_tab_status": 1}}

    def test_commit_check(self, alice):
        bot_id = create(alice)
        version = info(alice, bot_id)["commit_version"]
        check = alice.post("/api/draftbot/commit_check", json={"bot_id": bot_id, "commit_version": version})
        assert check.json()["data"]["has_change"] is False
        update(alice, bot_id, prompt_info={"prompt": "changed"})
        check = alice.post("/api/draftbot/commit_check", json={"bot_id": bot_id, "commit_version": version})
        assert check.json()["data"]["has_change"] is True


class TestCopyAndDelete:
    def test_duplicate(self, alice):
        bot_id = create(alice, name="Original")
        update(alice, bot_id, prompt_info={"prompt": "persona"})
        data = alice.post("/api/draftbot/duplicate", json={"bot_id": bot_id}).json()["data"]
        assert data["name"] == "Original (copy)" and data["bot_id"] != bot_id
        assert Bot.get_by_id(int(data["bot_id"])).config["prompt_info"] == {"prompt": "persona"}

    def test_delete(self, alice):
        bot_id = create(alice)
        alice.post("/api/draftbot/publish", json={"bot_id": bot_id, "connectors": {"1024": {}}})
        assert alice.post("/api/draftbot/delete", json={"bot_id": bot_id}).json()["code"] == 0
        assert Bot.get_or_none(Bot.id == int(bot_id)) is None
        assert BotVersion.select().where(BotVersion.bot == int(bot_id)).count() == 0
        assert_error(alice.post("/api/draftbot/delete", json={"bot_id": bot_id}), 404, 100000002)


class TestPublish:
    def test_publish_snapshots_the_draft(self, alice):
        bot_id = create(alice)
        update(alice, bot_id, prompt_info={"prompt": "v1 persona"})
        published = alice.post(
            "/api/draftbot/publish", json={"bot_id": bot_id, "connectors": {"1024": {}, "999": {}}}
        )
        assert published.status_code == 200, published.text
        data = published.json()["data"]
        assert set(data["publish_result"]) == {"1024", "999"}
        version = data["version"]
        update(alice, bot_id, prompt_info={"prompt": "v2 draft"})
        snapshot = BotVersion.get_by_id(int(version)).snapshot
        assert snapshot["prompt_info"] == {"prompt": "v1 persona"}
        assert {p.connector_id for p in BotPublication.select().where(BotPublication.bot == int(bot_id))} == {
            1024,
            999,
        }
        draft = info(alice, bot_id)
        assert draft["bot_info"]["prompt_info"]["prompt"] == "v2 draft"
        assert draft["has_publish"] is True and draft["has_unpublished_change"] is True
        old = info(alice, bot_id, version=version)
        assert old["bot_info"]["prompt_info"]["prompt"] == "v1 persona" and old["version"] == version

    def test_connectors_and_history(self, alice):
        bot_id = create(alice)
        first = alice.post(
            "/api/draftbot/publish", json={"bot_id": bot_id, "connectors": {"1024": {}}}
        ).json()["data"]
        update(alice, bot_id, prompt_info={"prompt": "again"})
        second = alice.post(
            "/api/draftbot/publish", json={"bot_id": bot_id, "connectors": {"999": {}}}
        ).json()["data"]
        connectors = alice.post("/api/draftbot/publish/connector/list", json={"bot_id": bot_id}).json()[
            "data"
        ]
        by_id = {c["id"]: c for c in connectors["publish_connector_list"]}
        assert (
            by_id["1024"]["published_version"] == first["version"] and not by_id["1024"]["is_last_published"]
        )
        assert by_id["999"]["published_version"] == second["version"] and by_id["999"]["is_last_published"]
        history = alice.post(
            "/api/draftbot/list_draft_history", json={"bot_id": bot_id, "page_index": 1, "page_size": 10}
        ).json()["data"]
        assert history["total"] == 2
        assert [h["version"] for h in history["history_infos"]] == [second["version"], first["version"]]
        only_api = alice.post(
            "/api/draftbot/list_draft_history",
            json={"bot_id": bot_id, "page_index": 1, "page_size": 10, "connector_id": "1024"},
        )
        assert [h["version"] for h in only_api.json()["data"]["history_infos"]] == [first["version"]]

    @pytest.mark.parametrize("connectors", [{"10000010": {}}, {"abc": {}}, {"1024": {}, "7": {}}])
    def test_only_api_and_chat_sdk(self, alice, connectors):
        bot_id = create(alice)
        assert_error(
            alice.post("/api/draftbot/publish", json={"bot_id": bot_id, "connectors": connectors}),
            400,
            100000004,
        )
        assert BotVersion.select().where(BotVersion.bot == int(bot_id)).count() == 0

    def test_unknown_version(self, alice):
        bot_id = create(alice)
        assert_error(
            alice.post(
                "/api/playground_api/draftbot/get_draft_bot_info", json={"bot_id": bot_id, "version": "123"}
            ),
            404,
            100000005,
        )


OPERATIONS = [
    ("/api/draftbot/get_display_info", {}),
    ("/api/draftbot/update_display_info", {"display_info": {"tab_display_info": {"x": 1}}}),
    ("/api/playground_api/draftbot/get_draft_bot_info", {}),
    ("/api/draftbot/delete", {}),
    ("/api/draftbot/duplicate", {}),
    ("/api/draftbot/commit_check", {}),
    ("/api/draftbot/publish", {"connectors": {"1024": {}}}),
    ("/api/draftbot/publish/connector/list", {}),
    ("/api/draftbot/list_draft_history", {"page_index": 1, "page_size": 10}),
]


@pytest.mark.parametrize("path,body", OPERATIONS, ids=[p for p, _ in OPERATIONS])
def test_another_user_cannot_touch_an_agent(alice, bob, path, body):
    bot_id = create(alice, name="Alice's")
    update(alice, bot_id, prompt_info={"prompt": "secret persona"})
    before = Bot.get_by_id(int(bot_id))
    bots_before = Bot.select().count()
    response = bob.post(path, json={"bot_id": bot_id, **body})
    assert_error(response, 404, 100000002, bot_id)
    assert "secret persona" not in response.text
    after = Bot.get_by_id(int(bot_id))
    assert (after.config, after.display_info, after.draft_version) == (
        before.config,
        before.display_info,
        before.draft_version,
    )
    assert Bot.select().count() == bots_before
    assert BotVersion.select().where(BotVersion.bot == int(bot_id)).count() == 0
    assert_error(update(bob, bot_id, name="stolen"), 404, 100000002)


def test_an_uploaded_icon_is_shown_by_a_signed_url(client, alice):
    import base64

    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 20
    uri = alice.post(
        "/api/bot/upload_file",
        json={"file_head": {"file_type": "png"}, "data": base64.b64encode(png).decode()},
    ).json()["data"]["upload_uri"]
    bot_id = create(alice, icon_uri=uri)
    icon_url = info(alice, bot_id)["bot_info"]["icon_url"]
    assert icon_url.startswith("/api/files/") and "signature=" in icon_url
    client.cookies.clear()
    assert client.get(icon_url).content == png
