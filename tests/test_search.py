"""Listing and searching agents and the resource library: keyword, filters, order, cursors,
recently edited, and nothing from other users' spaces."""

from __future__ import annotations

import pytest
from conftest import assert_error, register
from test_agents import create, update
from test_library import space_of

from models.agent import Bot
from models.identity import User


@pytest.fixture
def carol(client):
    return register(client)  # a fresh user, so her space holds only what a test puts there


def edited_at(bot_id: str, seconds_ahead: int) -> None:
    Bot.update(updated_at=Bot.updated_at + seconds_ahead).where(Bot.id == int(bot_id)).execute()


def ids(response) -> list[str]:
    assert response.status_code == 200, response.text
    return [i["basic_info"]["id"] for i in response.json()["data"]["intelligences"]]


def search(account, **body):
    return account.post(
        "/api/intelligence_api/search/get_draft_intelligence_list",
        json={"space_id": space_of(account), **body},
    )


def test_keyword_filters_and_order(carol):
    support = create(carol, name="Support bot", description="answers tickets")
    sales = create(carol, name="Sales bot", description="finds leads for support")
    other = create(carol, name="Poet")
    carol.post("/api/draftbot/publish", json={"bot_id": sales, "connectors": {"1024": {}}})
    update(carol, support, prompt_info={"prompt": "edited last"})
    edited_at(support, 30), edited_at(sales, 20), edited_at(other, 10)  # timestamps are seconds
    assert ids(search(carol)) == [support, sales, other]  # last update first
    assert ids(search(carol, order_by=1)) == [other, sales, support]  # newest created first
    assert ids(search(carol, order_by=2))[0] == sales
    assert set(ids(search(carol, name="support"))) == {support, sales}  # names and descriptions
    assert ids(search(carol, has_published=True)) == [sales]
    assert set(ids(search(carol, has_published=False))) == {support, other}
    first = search(carol, has_published=False).json()["data"]["intelligences"][0]
    assert first["publish_info"]["has_published"] is False and first["owner_info"]["user_id"] == carol.user_id


def test_cursor_pages(carol):
    made = [create(carol, name=f"Agent {i}") for i in range(5)]
    seen, cursor = [], ""
    for _ in range(5):
        data = search(carol, size=2, cursor_id=cursor).json()["data"]
        seen += [i["basic_info"]["id"] for i in data["intelligences"]]
        assert data["total"] == 5
        if not data["has_more"]:
            break
        cursor = data["next_cursor_id"]
    assert sorted(seen) == sorted(made) and len(seen) == 5


def test_mine_only_and_recently_edited(carol, bob):
    space = User.get_by_id(int(carol.user_id)).personal_space()
    mine = create(carol, name="Mine")
    from models.identity import SpaceMember

    SpaceMember.create(space=space.id, user=int(bob.user_id), role=3)
    theirs = bob.post("/api/draftbot/create", json={"name": "Bob's", "space_id": str(space.id)}).json()[
        "data"
    ]["bot_id"]
    edited_at(mine, 10), edited_at(theirs, 20)
    assert set(ids(search(carol))) == {mine, theirs}
    assert ids(search(carol, search_scope=1)) == [mine]
    recent = carol.post("/api/intelligence_api/search/get_recently_edit_intelligence", json={"size": 10})
    recent_ids = [i["basic_info"]["id"] for i in recent.json()["data"]["intelligence_info_list"]]
    assert recent_ids[:2] == [theirs, mine]


def test_other_spaces_are_invisible(carol, bob):
    create(bob, name="Secret agent")
    assert_error(search(carol, space_id=space_of(bob)), 404, 108000009)
    recent = carol.post("/api/intelligence_api/search/get_recently_edit_intelligence", json={})
    assert "Secret agent" not in recent.text
    assert_error(
        carol.post("/api/plugin_api/library_resource_list", json={"space_id": space_of(bob)}), 404, 108000009
    )


def test_library_lists_prompts(carol):
    for name in ("Support persona", "Translator", "Support FAQ"):
        carol.post(
            "/api/playground_api/upsert_prompt_resource",
            json={"prompt": {"space_id": space_of(carol), "name": name, "prompt_text": "x"}},
        )
    body = {"space_id": space_of(carol), "res_type_filter": [6], "size": 2}
    first = carol.post("/api/plugin_api/library_resource_list", json=body).json()["data"]
    assert len(first["resource_list"]) == 2 and first["has_more"] is True
    rest = carol.post(
        "/api/plugin_api/library_resource_list", json={**body, "cursor": first["cursor"]}
    ).json()["data"]
    names = [r["name"] for r in first["resource_list"] + rest["resource_list"]]
    assert sorted(names) == ["Support FAQ", "Support persona", "Translator"] and rest["has_more"] is False
    found = carol.post(
        "/api/plugin_api/library_resource_list", json={"space_id": space_of(carol), "name": "support"}
    ).json()["data"]["resource_list"]
    assert sorted(r["name"] for r in found) == ["Support FAQ", "Support persona"]
    workflows = carol.post(
        "/api/plugin_api/library_resource_list", json={"space_id": space_of(carol), "res_type_filter": [2]}
    ).json()["data"]
    assert workflows["resource_list"] == []


def test_bad_cursor(carol):
    assert_error(search(carol, cursor_id="99999999999"), 400, 111000000, "cursor")
    assert Bot.select().where(Bot.creator == int(carol.user_id)).count() == 0


def test_open_api_lists_refuse_other_spaces(carol, bob):
    create(bob, name="Bob's agent")
    assert_error(carol.get("/v1/bots", params={"workspace_id": space_of(bob)}), 404, 108000009)
    assert_error(
        carol.get("/v1/space/published_bots_list", params={"space_id": space_of(bob)}), 404, 108000009
    )
    own = carol.get("/v1/bots", params={"workspace_id": space_of(carol), "publish_status": ""})
    assert own.status_code == 200 and own.json()["data"]["total"] == 0  # an empty value counts as absent
