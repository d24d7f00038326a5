"""Agents: create one, publish it to the API, chat with it (streamed), list, delete."""

import cozeplus_sdk as sdk
from common import client, personal_space
from cozeplus_sdk.streaming import stream_chat

with client() as api:
    space = personal_space(api)
    agents = sdk.AgentApi(api)
    bot = agents.open_create_bot(
        sdk.OpenBotCreateRequest.from_dict(
            {
                "space_id": space,
                "name": "Example agent",
                "description": "made by examples/python/sdk/agent.py",
                "prompt_info": {"prompt": "You are a concise assistant."},
            }
        )
    ).data
    print("created agent", bot.bot_id)
    agents.open_publish_bot(
        sdk.OpenPublishBotRequest.from_dict({"bot_id": bot.bot_id, "connector_ids": ["1024"]})
    )
    print("published")

    question = {"role": "user", "content": "Hello from the Python SDK", "content_type": "text"}
    request = sdk.ChatRequest.from_dict(
        {"bot_id": bot.bot_id, "user_id": "example-user", "additional_messages": [question]}
    )
    print("answer: ", end="")
    for event in stream_chat(sdk.ChatApi(api), request):
        if event.event == "conversation.message.delta":
            print(event.data["content"], end="", flush=True)
    print()

    listed = agents.open_list_bots(workspace_id=space).data.items
    print("agents in the space:", ", ".join(item.name for item in listed))
    agents.delete_bot(sdk.BotIdRequest.from_dict({"bot_id": bot.bot_id}))
    print("deleted agent", bot.bot_id)
