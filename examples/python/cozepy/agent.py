"""Agents with cozepy: create one, publish it to the API, chat with it (streamed), list, delete."""

from common import coze, http, personal_space
from cozepy import BotPromptInfo, ChatEventType, Message

space = personal_space()
bot = coze.bots.create(
    space_id=space,
    name="Example agent",
    description="made by examples/python/cozepy/agent.py",
    prompt_info=BotPromptInfo(prompt="You are a concise assistant."),
)
print("created agent", bot.bot_id)
coze.bots.publish(bot_id=bot.bot_id)  # to the API connector (1024)
print("published")

print("answer: ", end="")
for event in coze.chat.stream(
    bot_id=bot.bot_id,
    user_id="example-user",
    additional_messages=[Message.build_user_question_text("Hello from cozepy")],
):
    if event.event == ChatEventType.CONVERSATION_MESSAGE_DELTA:
        print(event.message.content, end="", flush=True)
    elif event.event == ChatEventType.CONVERSATION_CHAT_COMPLETED:
        print(f"\ntokens used: {event.chat.usage.token_count}")

print("agents in the space:", ", ".join(b.bot_name for b in coze.bots.list(space_id=space).items))
http("/api/draftbot/delete", {"bot_id": bot.bot_id})  # cozepy has no delete
print("deleted agent", bot.bot_id)
