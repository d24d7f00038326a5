"""Conversations and their messages: the Open API's message object and the console's ChatMessage."""

from __future__ import annotations

from core.links import url_of


def conversation_view(conversation) -> dict:
    return {
        "id": str(conversation.id),
        "bot_id": str(conversation.bot_id),
        "name": conversation.name,
        "created_at": conversation.created_at,
        "updated_at": conversation.updated_at,
        "meta_data": conversation.meta_data or {},
        "last_section_id": str(conversation.last_section_id),
        "connector_id": str(conversation.connector_id),
        "creator_id": str(conversation.creator_id),
    }


def open_message_view(message, delta: tuple[str, str] | None = None) -> dict:
    """Coze's message object; a stream delta (content, reasoning) replaces the stored text (the
    message object itself may already be further along when the event is rendered)."""
    content, reasoning = delta or (message.content, message.reasoning_content)
    return {
        "id": str(message.id),
        "conversation_id": str(message.conversation_id),
        "bot_id": str(message.bot_id),
        "chat_id": str(message.run_id or 0),
        "section_id": str(message.section_id),
        "role": message.role,
        "type": message.type,
        "content": content,
        "content_type": message.content_type,
        "reasoning_content": reasoning,
        "meta_data": message.meta_data or {},
        "created_at": message.created_at,
        "updated_at": message.created_at if delta else message.updated_at,
        "status": "available" if delta else message.status,
    }


def web_message_view(message, *, type_: str | None = None, delta: tuple[str, str] | None = None) -> dict:
    """The console's ChatMessage (extra_info values are strings). A delta (content, reasoning)
    replaces the text; the final answer chunk passes ("", "")."""
    content, reasoning = delta or (message.content, message.reasoning_content)
    streaming = delta is not None and (content or reasoning)
    view = {
        "message_id": str(message.id),
        "role": message.role,
        "type": type_ or message.type,
        "content": content,
        "content_type": message.content_type,
        "reasoning_content": reasoning,
        "reply_id": str(message.reply_id or 0),
        "section_id": str(message.section_id),
        "sender_id": str(message.bot_id) if message.role == "assistant" else "",
        "content_time": message.created_at * 1000,
        "status": "available" if streaming else message.status,
        "extra_info": {} if streaming else {k: str(v) for k, v in (message.extra_info or {}).items()},
    }
    if message.broken_pos is not None and not streaming:
        view["broken_pos"] = message.broken_pos
    return view


def participant_view(bot) -> dict:
    return {"id": str(bot.id), "name": bot.name, "avatar_url": url_of(bot.icon_uri)}
