"""Conversations and messages: the console's history and the Open API's /v1/conversation*."""

from __future__ import annotations

from core.envelope import SUCCESS_MSG, ok
from models.conversation import SCENE_PLAYGROUND
from services import agents, conversations
from services import chat_runs as runs
from views.conversation import conversation_view, open_message_view, participant_view, web_message_view


def message_input(item: dict) -> conversations.MessageInput:
    """A message as the Open API sends it (extra keys, such as the SDKs' nulls, are ignored)."""
    return conversations.MessageInput(
        role=item["role"],
        content=item.get("content") or "",
        content_type=item.get("content_type") or "text",
        type=item.get("type") or None,
        meta_data=item.get("meta_data"),
    )


# --- the console --------------------------------------------------------------------------------


def get_message_list(token_info, body):
    user = token_info["user"]
    bot = agents.load(user, body["bot_id"])
    scene = body.get("scene", SCENE_PLAYGROUND)
    conversation = conversations.web_conversation(user, bot, scene, body.get("conversation_id"))
    older = body.get("load_direction", 1) != 2
    messages, turn_ids, more_older, more_newer = conversations.web_turns(
        conversation, body.get("cursor"), body.get("count", 15), older
    )
    return ok(
        {
            "message_list": [web_message_view(m) for m in messages],
            "cursor": str(min(turn_ids)) if turn_ids else str(body.get("cursor") or "0"),
            "hasmore": more_older,
            "next_cursor": str(max(turn_ids)) if turn_ids else str(body.get("cursor") or "0"),
            "next_has_more": more_newer,
            "conversation_id": str(conversation.id),
            "last_section_id": str(conversation.last_section_id),
            "connector_conversation_id": "",
            "read_message_index": "0",
            "participant_info_map": {str(bot.id): participant_view(bot)},
        }
    )


def create_section(token_info, body):
    conversation = conversations.load(token_info["user"], body["conversation_id"])
    section_id = conversations.new_section(conversation)
    return ok({"new_section_id": str(section_id), "conversation_id": str(conversation.id)})


def clear_message(token_info, body):
    conversation = conversations.load(token_info["user"], body["conversation_id"], body.get("bot_id"))
    fresh = conversations.replace(conversation)
    return ok({"new_section_id": str(fresh.last_section_id), "conversation_id": str(fresh.id)})


async def break_message(token_info, body):
    await runs.break_turn(
        token_info["user"],
        body["conversation_id"],
        body["query_message_id"],
        body.get("answer_message_id"),
        body.get("broken_pos"),
    )
    return ok()


def delete_message(token_info, body):
    conversations.delete_turn(
        conversations.load_message(
            token_info["user"], body["conversation_id"], body["message_id"], body.get("bot_id")
        )
    )
    return ok()


# --- the Open API -------------------------------------------------------------------------------


def create_conversation(token_info, body):
    user = token_info["user"]
    conversation = conversations.create(
        user,
        agents.load(user, body["bot_id"]),
        connector_id=conversations.open_connector(body.get("connector_id")),
        meta_data=body.get("meta_data"),
        name=body.get("name") or "",
        messages=[message_input(m) for m in body.get("messages") or []],
    )
    return ok(conversation_view(conversation))


def retrieve_conversation(token_info, conversation_id):
    return ok(conversation_view(conversations.load(token_info["user"], conversation_id)))


def list_conversations(
    token_info,
    bot_id,
    page_num=1,
    page_size=50,
    sort_order="DESC",
    sort_field="created_at",
    connector_id=None,
):
    rows, has_more = conversations.list_open(
        token_info["user"], bot_id, connector_id, page_num, page_size, sort_order.upper() == "ASC", sort_field
    )
    return ok({"conversations": [conversation_view(c) for c in rows], "has_more": has_more})


def update_conversation(token_info, conversation_id, body):
    return ok(conversation_view(conversations.rename(token_info["user"], conversation_id, body["name"])))


def delete_conversation(token_info, conversation_id):
    conversations.delete(token_info["user"], conversation_id)
    return ok()


def clear_conversation(token_info, conversation_id):
    conversation = conversations.load(token_info["user"], conversation_id)
    return ok({"id": str(conversations.new_section(conversation)), "conversation_id": str(conversation.id)})


def create_message(token_info, conversation_id, body):
    message = conversations.post_message(token_info["user"], conversation_id, message_input(body))
    return ok(open_message_view(message))


def list_messages(token_info, conversation_id, body=None):
    body = body or {}
    rows, has_more = conversations.list_open_messages(
        token_info["user"],
        conversation_id,
        order=body.get("order") or "desc",
        limit=body.get("limit") or 50,
        chat_id=body.get("chat_id"),
        before_id=body.get("before_id"),
        after_id=body.get("after_id"),
    )
    return {
        "code": 0,
        "msg": SUCCESS_MSG,
        "data": [open_message_view(m) for m in rows],
        "first_id": str(rows[0].id) if rows else "",
        "last_id": str(rows[-1].id) if rows else "",
        "has_more": has_more,
    }


def retrieve_message(token_info, conversation_id, message_id):
    return ok(open_message_view(conversations.load_message(token_info["user"], conversation_id, message_id)))


def modify_message(token_info, conversation_id, message_id, body):
    user = token_info["user"]
    message = conversations.load_message(user, conversation_id, message_id)
    return {
        "code": 0,
        "msg": SUCCESS_MSG,
        "message": open_message_view(
            conversations.modify_message(
                user,
                message,
                content=body.get("content"),
                content_type=body.get("content_type"),
                meta_data=body.get("meta_data"),
            )
        ),
    }


def delete_open_message(token_info, conversation_id, message_id):
    message = conversations.load_message(token_info["user"], conversation_id, message_id)
    view = open_message_view(message)
    message.delete_instance()
    return ok(view)
