"""Agents' variables: definitions in the settings, each end user's values (console and Open API),
the persona prompt's placeholders, and the model's set_variable tool."""

from __future__ import annotations

import pytest
from conftest import assert_error, register
from test_chat import fake_model_id, fake_server, messages_of, new_agent, open_chat, web_chat  # noqa: F401

from models.memory import VariableValue

VARIABLES = [
    {"key": "city", "description": "Where the user lives", "default_value": "Paris"},
    {"key": "diet", "description": "What the user eats"},
    {"key": "old", "is_disabled": True},
    {"key": "sys_uuid", "is_system": True},
]


def agent_with_variables(account, variables=VARIABLES, **settings) -> str:
    return new_agent(account, variable_list=variables, **settings)


def values(account, bot_id, **body) -> dict:
    response = account.post("/api/memory/variable/get", {"bot_id": bot_id, **body})
    assert response.status_code == 200, response.text
    return {m["keyword"]: m for m in response.json()["data"]["memories"]}


def stored(bot_id) -> dict:
    return {
        (v.connector_uid, v.connector_id, v.keyword): v.value
        for v in VariableValue.select().where(VariableValue.bot == int(bot_id))
    }


@pytest.mark.parametrize(
    "variables, fragment",
    [
        ([{"key": "1city"}], "variable_list[0].key"),
        ([{"key": "city"}, {"key": "City"}], "variable_list[1].key: City is defined twice"),
        ([{"key": "sys_mine"}], "variable_list[0].key: names starting with sys_"),
        ([{"key": "sys_nothing", "is_system": True}], "system variables are sys_uuid"),
        ([{"key": "x", "default_value": "v" * 10001}], "variable_list[0].default_value"),
    ],
)
def test_bad_definitions_are_refused(alice, variables, fragment):
    bot_id = new_agent(alice, publish=False)
    update = {"bot_info": {"bot_id": bot_id, "variable_list": variables}}
    response = alice.post("/api/playground_api/draftbot/update_draft_bot_info", update)
    assert response.status_code == 400 and fragment in response.json()["msg"], response.text
    info = alice.post("/api/playground_api/draftbot/get_draft_bot_info", {"bot_id": bot_id}).json()["data"]
    assert info["bot_info"]["variable_list"] == []


def test_meta_and_system_variables(alice):
    bot_id = agent_with_variables(alice)
    meta = alice.post("/api/memory/variable/get_meta", {"ConnectorID": bot_id}).json()["data"]["VariableMap"]
    assert [v["Keyword"] for v in meta["1"]] == ["city", "diet"]  # the disabled one is left out
    assert meta["1"][0]["DefaultValue"] == "Paris" and meta["1"][0]["Description"] == "Where the user lives"
    assert [(v["Keyword"], v["IsReadOnly"]) for v in meta["2"]] == [("sys_uuid", True)]
    conf = alice.get("/api/memory/sys_variable_conf").json()["data"]["conf"]
    assert {c["key"] for c in conf} == {
        "sys_uuid",
        "sys_conversation_id",
        "sys_connector_id",
        "sys_current_time",
    }
    assert_error(
        alice.post("/api/memory/variable/get_meta", {"ConnectorID": bot_id, "ConnectorType": 2}),
        404,
        101000002,
    )


def test_the_console_reads_sets_and_forgets_its_own_values(alice):
    bot_id = agent_with_variables(alice)
    first = values(alice, bot_id)
    assert first["city"]["value"] == "Paris" and first["city"]["create_time"] == 0
    assert first["sys_uuid"]["value"] == alice.user_id and first["sys_uuid"]["is_system"] is True
    assert "old" not in first
    data = [{"keyword": "city", "value": "Lyon"}, {"keyword": "diet", "value": "vegetarian"}]
    assert alice.post("/api/memory/variable/upsert", {"bot_id": bot_id, "data": data}).status_code == 200
    assert stored(bot_id) == {
        (alice.user_id, 10000010, "city"): "Lyon",
        (alice.user_id, 10000010, "diet"): "vegetarian",
    }
    now = values(alice, bot_id, keywords=["city"])
    assert list(now) == ["city"] and now["city"]["value"] == "Lyon" and now["city"]["create_time"] > 0
    on_api = values(alice, bot_id, connector_id="1024")
    assert on_api["city"]["value"] == "Paris"  # another connector, other values
    alice.post("/api/memory/variable/delete", {"bot_id": bot_id, "keywords": ["city"]})
    assert (
        values(alice, bot_id)["city"]["value"] == "Paris"
        and values(alice, bot_id)["diet"]["value"] == "vegetarian"
    )
    alice.post("/api/memory/variable/delete", {"bot_id": bot_id})
    assert stored(bot_id) == {}


@pytest.mark.parametrize("keyword", ["nope", "sys_uuid", "old"])
def test_only_the_agents_own_enabled_variables_can_be_set(alice, keyword):
    bot_id = agent_with_variables(alice)
    data = [{"keyword": "city", "value": "Lyon"}, {"keyword": keyword, "value": "x"}]
    assert_error(
        alice.post("/api/memory/variable/upsert", {"bot_id": bot_id, "data": data}),
        400,
        106000013,
        f"data[1].keyword: agent {bot_id} has no variable '{keyword}'",
    )
    assert stored(bot_id) == {}


def test_the_open_api_holds_values_per_end_user_and_connector(alice, client):
    bot_id = agent_with_variables(alice)
    put = {"bot_id": bot_id, "connector_uid": "ann", "data": [{"keyword": "city", "value": "Oslo"}]}
    response = alice.client.put("/v1/variables", json=put, headers=alice.headers)
    assert response.status_code == 200, response.text
    ann = alice.get(f"/v1/variables?bot_id={bot_id}&connector_uid=ann&keywords=city,diet").json()["data"][
        "items"
    ]
    assert {(i["keyword"], i["value"]) for i in ann} == {("city", "Oslo"), ("diet", "")}
    ben = alice.get(f"/v1/variables?bot_id={bot_id}&connector_uid=ben").json()["data"]["items"]
    assert {i["keyword"]: i["value"] for i in ben}["city"] == "Paris"
    assert stored(bot_id) == {("ann", 1024, "city"): "Oslo"}
    bob = register(client)
    assert_error(bob.get(f"/v1/variables?bot_id={bot_id}&connector_uid=ann"), 404, 100000002)
    assert_error(bob.client.put("/v1/variables", json=put, headers=bob.headers), 404, 100000002)
    assert_error(alice.get("/v1/variables?connector_uid=ann"), 400, 106000000, "bot_id")
    assert_error(alice.get(f"/v1/variables?app_id={bot_id}&connector_uid=ann"), 404, 101000002, "app_id")


def test_the_persona_is_filled_from_the_end_users_values(alice, fake_server, fake_model_id):  # noqa: F811
    bot_id = agent_with_variables(
        alice,
        prompt_info={
            "prompt": "{{name}} lives in {{city}}, eats {{diet}}; id {{sys_uuid}} via {{sys_connector_id}}."
        },
        model_info={"model_id": fake_model_id},
        suggest_reply_info={"suggest_reply_mode": 2},
    )
    alice.client.put(
        "/v1/variables",
        json={"bot_id": bot_id, "connector_uid": "ann", "data": [{"keyword": "diet", "value": "fish"}]},
        headers=alice.headers,
    )
    open_chat(alice, bot_id, "hello", user_id="ann", custom_variables={"name": "Ann"})
    sent = fake_server.model.requests[-1]["messages"][0]
    assert sent == {"role": "system", "content": "Ann lives in Paris, eats fish; id ann via 1024."}


def test_the_model_remembers_a_value_for_the_end_user(alice):
    bot_id = agent_with_variables(alice)
    events = open_chat(
        alice, bot_id, '/call set_variable {"keyword": "city", "value": "Kyoto"}', user_id="ann"
    )
    [result] = [
        m for m in messages_of(events, "conversation.message.completed") if m["type"] == "tool_response"
    ]
    assert result["content"] == "remembered city = Kyoto"
    assert stored(bot_id) == {("ann", 1024, "city"): "Kyoto"}
    events = open_chat(
        alice, bot_id, '/call set_variable {"keyword": "sys_uuid", "value": "me"}', user_id="ann"
    )
    [refused] = [
        m for m in messages_of(events, "conversation.message.completed") if m["type"] == "tool_response"
    ]
    assert "has no variable 'sys_uuid'" in refused["content"]
    web_chat(alice, bot_id, '/call set_variable {"keyword": "diet", "value": "tea"}')
    assert stored(bot_id)[(alice.user_id, 10000010, "diet")] == "tea"  # the playground: the developer's
