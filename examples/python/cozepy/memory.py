"""Memory with cozepy: an agent's variables. The agent declares a variable (a console call), then
an end user's value is set and read back with cozepy; the agent is deleted at the end."""

from common import coze, http, personal_space
from cozepy.variables import VariableValue

bot_id = http("/api/draftbot/create", {"space_id": personal_space(), "name": "Example memory agent"})[
    "bot_id"
]
variable = {"key": "city", "description": "Where the user lives", "default_value": "Paris"}
http(
    "/api/playground_api/draftbot/update_draft_bot_info",
    {"bot_info": {"bot_id": bot_id, "variable_list": [variable]}},
)
print("declared variable city on agent", bot_id)

coze.variables.update(
    bot_id=bot_id, connector_uid="example-user", data=[VariableValue(keyword="city", value="Lyon")]
)
values = coze.variables.retrieve(bot_id=bot_id, connector_uid="example-user", keywords=["city"])
print("variables of example-user:", [{"keyword": v.keyword, "value": v.value} for v in values])
others = coze.variables.retrieve(bot_id=bot_id, connector_uid="someone-else", keywords=["city"])
print("variables of someone-else:", [{"keyword": v.keyword, "value": v.value} for v in others])

http("/api/draftbot/delete", {"bot_id": bot_id})
print("deleted agent", bot_id)
