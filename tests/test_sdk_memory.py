"""The official SDKs, unmodified, against a real server with a personal access token: an end
user's variables (cozepy and @coze/api `variables.update` and `variables.retrieve`)."""

from __future__ import annotations

import httpx
import pytest
from conftest import needs_js_sdk, run_js_sdk
from cozepy import CozeAPIError
from cozepy.variables import VariableValue


@pytest.fixture(scope="module")
def agent_with_variables(live_server, pat) -> str:
    headers = {"Authorization": f"Bearer {pat}"}
    space = httpx.get(f"{live_server}/v1/workspaces", headers=headers).json()["data"]["workspaces"][0]["id"]
    created = httpx.post(
        f"{live_server}/api/draftbot/create",
        json={"name": "Variables agent", "space_id": space},
        headers=headers,
    )
    bot_id = created.json()["data"]["bot_id"]
    variables = [{"key": "city", "default_value": "Paris"}, {"key": "diet"}]
    update = {"bot_info": {"bot_id": bot_id, "variable_list": variables}}
    response = httpx.post(
        f"{live_server}/api/playground_api/draftbot/update_draft_bot_info", json=update, headers=headers
    )
    assert response.status_code == 200, response.text
    return bot_id


def test_cozepy_updates_and_retrieves_variables(coze, agent_with_variables):
    bot_id = agent_with_variables
    coze.variables.update(
        bot_id=bot_id, connector_uid="py-user", data=[VariableValue(keyword="city", value="Lyon")]
    )
    items = coze.variables.retrieve(bot_id=bot_id, connector_uid="py-user", keywords=["city", "diet"])
    assert [(i.keyword, i.value) for i in items] == [("city", "Lyon"), ("diet", "")]
    assert items[0].create_time > 0 and items[1].create_time == 0
    others = coze.variables.retrieve(bot_id=bot_id, connector_uid="someone-else", keywords=[])
    assert {i.keyword: i.value for i in others}["city"] == "Paris"
    with pytest.raises(CozeAPIError) as refused:
        coze.variables.update(
            bot_id=bot_id, connector_uid="py-user", data=[VariableValue(keyword="nope", value="x")]
        )
    assert refused.value.code == 106000013


@needs_js_sdk
def test_js_sdk_updates_and_retrieves_variables(live_server, pat, agent_with_variables):
    seen = run_js_sdk("memory.mjs", live_server, pat, agent_with_variables)
    assert seen["items"] == [["city", "Porto", True], ["diet", "", False]]
    assert seen["other_city"] == "Paris"
    assert seen["unknown"] == {"code": 106000013, "status": 400}


def test_cozepy_sees_the_agents_variables(coze, agent_with_variables):
    bot = coze.bots.retrieve(bot_id=agent_with_variables, use_api_version=2, is_published=False)
    assert [(v.keyword, v.default_value, v.channel) for v in bot.variables] == [
        ("city", "Paris", "custom"),
        ("diet", "", "custom"),
    ]
