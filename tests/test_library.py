"""The prompt library and shortcut commands: CRUD, ordering, snapshots, isolation."""

from __future__ import annotations

import pytest
from conftest import assert_error
from test_agents import create, info

from models.agent import BotVersion
from models.identity import User
from models.library import PromptResource, ShortcutCommand

SUMMARY = {
    "command_name": "Summarise",
    "shortcut_command": "/summary",
    "description": "Summarise a text",
    "send_type": 1,
    "template_query": "Summarise: {{text}}",
    "components_list": [{"name": "text", "input_type": 0, "parameter": "text"}],
}


def space_of(account) -> str:
    return str(User.get_by_id(int(account.user_id)).personal_space().id)


class TestPrompts:
    def test_create_get_update_delete(self, alice):
        created = alice.post(
            "/api/playground_api/upsert_prompt_resource",
            json={"prompt": {"space_id": space_of(alice), "name": "Support", "prompt_text": "Be polite."}},
        )
        assert created.status_code == 200, created.text
        prompt_id = created.json()["data"]["id"]
        got = alice.get(
            "/api/playground_api/get_prompt_resource_info", params={"prompt_resource_id": prompt_id}
        )
        assert got.json()["data"]["prompt_resource"]["prompt_text"] == "Be polite."
        alice.post(
            "/api/playground_api/upsert_prompt_resource",
            json={"prompt": {"id": prompt_id, "prompt_text": "Be very polite."}},
        )
        row = PromptResource.get_by_id(int(prompt_id))
        assert row.prompt_text == "Be very polite." and row.name == "Support"
        assert (
            alice.post(
                "/api/playground_api/delete_prompt_resource", json={"prompt_resource_id": prompt_id}
            ).json()["code"]
            == 0
        )
        assert PromptResource.get_or_none(PromptResource.id == int(prompt_id)) is None
        assert_error(
            alice.get(
                "/api/playground_api/get_prompt_resource_info", params={"prompt_resource_id": prompt_id}
            ),
            404,
            110000005,
        )

    def test_a_new_prompt_needs_space_and_name(self, alice):
        before = PromptResource.select().count()
        assert_error(
            alice.post("/api/playground_api/upsert_prompt_resource", json={"prompt": {"name": "x"}}),
            400,
            110000000,
            "body.prompt must be an object with id or an object with space_id and name",
        )
        assert PromptResource.select().count() == before

    def test_official_list(self, alice):
        prompts = alice.post("/api/playground_api/get_official_prompt_list", json={"keyword": "translat"})
        assert [p["name"] for p in prompts.json()["data"]["prompts"]] == ["Translator"]

    def test_isolation(self, alice, bob):
        prompt_id = alice.post(
            "/api/playground_api/upsert_prompt_resource",
            json={"prompt": {"space_id": space_of(alice), "name": "Mine", "prompt_text": "secret"}},
        ).json()["data"]["id"]
        assert_error(
            bob.get("/api/playground_api/get_prompt_resource_info", params={"prompt_resource_id": prompt_id}),
            404,
            110000005,
        )
        assert_error(
            bob.post(
                "/api/playground_api/upsert_prompt_resource",
                json={"prompt": {"id": prompt_id, "prompt_text": "stolen"}},
            ),
            404,
            110000005,
        )
        assert_error(
            bob.post("/api/playground_api/delete_prompt_resource", json={"prompt_resource_id": prompt_id}),
            404,
            110000005,
        )
        assert_error(
            bob.post(
                "/api/playground_api/upsert_prompt_resource",
                json={"prompt": {"space_id": space_of(alice), "name": "x"}},
            ),
            404,
            108000009,
        )
        assert PromptResource.get_by_id(int(prompt_id)).prompt_text == "secret"


class TestShortcuts:
    def save(self, account, bot_id, **shortcut):
        return account.post(
            "/api/playground_api/create_update_shortcut_command",
            json={"object_id": bot_id, "shortcuts": {**SUMMARY, **shortcut}},
        )

    def test_create_list_update_delete_and_order(self, alice):
        bot_id = create(alice)
        first = self.save(alice, bot_id).json()["data"]["shortcuts"]
        second = self.save(alice, bot_id, command_name="Translate", shortcut_command="/tr").json()["data"][
            "shortcuts"
        ]
        assert (
            first["template_query"] == "Summarise: {{text}}" and first["components_list"][0]["name"] == "text"
        )
        assert info(alice, bot_id)["bot_info"]["shortcut_sort"] == [first["command_id"], second["command_id"]]
        listed = alice.post("/api/playground_api/shortcut_command/list", json={"object_id": bot_id})
        assert [c["command_id"] for c in listed.json()["data"]["shortcuts"]] == [
            first["command_id"],
            second["command_id"],
        ]
        self.save(alice, bot_id, command_id=first["command_id"], description="changed")
        assert ShortcutCommand.get_by_id(int(first["command_id"])).config["description"] == "changed"
        alice.post(
            "/api/playground_api/shortcut_command/delete",
            json={"object_id": bot_id, "command_id": first["command_id"]},
        )
        assert info(alice, bot_id)["bot_info"]["shortcut_sort"] == [second["command_id"]]
        assert ShortcutCommand.get_or_none(ShortcutCommand.id == int(first["command_id"])) is None

    def test_duplicates_conflict(self, alice):
        bot_id = create(alice)
        self.save(alice, bot_id)
        assert_error(self.save(alice, bot_id, command_name="Other"), 409, 112000002, "/summary")
        assert_error(self.save(alice, bot_id, shortcut_command="/other"), 409, 112000002, "Summarise")
        assert ShortcutCommand.select().where(ShortcutCommand.bot == int(bot_id)).count() == 1

    @pytest.mark.parametrize(
        "changes,field",
        [
            ({"shortcut_command": "summary"}, "shortcut_command"),
            ({"shortcut_command": "/a b"}, "shortcut_command"),
            ({"command_name": ""}, "command_name"),
            ({"send_type": 5}, "send_type"),
        ],
    )
    def test_bad_input(self, alice, changes, field):
        bot_id = create(alice)
        assert_error(self.save(alice, bot_id, **changes), 400, 112000000, field)
        assert ShortcutCommand.select().where(ShortcutCommand.bot == int(bot_id)).count() == 0

    def test_published_snapshot_keeps_the_shortcuts_of_then(self, alice):
        bot_id = create(alice)
        self.save(alice, bot_id)
        version = alice.post(
            "/api/draftbot/publish", json={"bot_id": bot_id, "connectors": {"1024": {}}}
        ).json()["data"]["version"]
        self.save(alice, bot_id, command_name="Later", shortcut_command="/later")
        snapshot = BotVersion.get_by_id(int(version)).snapshot
        assert [c["shortcut_command"] for c in snapshot["shortcut_commands"]] == ["/summary"]
        assert len(info(alice, bot_id)["bot_option_data"]["shortcut_command_list"]) == 2

    def test_duplicating_an_agent_copies_its_shortcuts(self, alice):
        bot_id = create(alice)
        original = self.save(alice, bot_id).json()["data"]["shortcuts"]["command_id"]
        copy_id = alice.post("/api/draftbot/duplicate", json={"bot_id": bot_id}).json()["data"]["bot_id"]
        copied = info(alice, copy_id)["bot_info"]
        assert len(copied["shortcut_sort"]) == 1 and copied["shortcut_sort"] != [original]
        assert copied["shortcut_commands"][0]["shortcut_command"] == "/summary"

    def test_isolation(self, alice, bob):
        bot_id = create(alice)
        command_id = self.save(alice, bot_id).json()["data"]["shortcuts"]["command_id"]
        assert_error(self.save(bob, bot_id, command_name="x", shortcut_command="/x"), 404, 100000002)
        assert_error(
            bob.post("/api/playground_api/shortcut_command/list", json={"object_id": bot_id}), 404, 100000002
        )
        assert_error(
            bob.post(
                "/api/playground_api/shortcut_command/delete",
                json={"object_id": bot_id, "command_id": command_id},
            ),
            404,
            100000002,
        )
        bobs_bot = create(bob)
        assert_error(
            bob.post(
                "/api/playground_api/shortcut_command/delete",
                json={"object_id": bobs_bot, "command_id": command_id},
            ),
            404,
            112000001,
        )
        assert ShortcutCommand.get_or_none(ShortcutCommand.id == int(command_id)) is not None
