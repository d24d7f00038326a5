"""Conversations and their messages: ownership, sections, listing with cursors."""

from __future__ import annotations

import dataclasses

from core import errors
from core.ids import new_id, parse_id
from models import paging
from models.agent import CONNECTOR_API, CONNECTORS, Bot
from models.base import now_s
from models.conversation import CONNECTOR_WEB, SCENE_OPENAPI, ChatRun, Conversation, Message
from models.db import db
from models.identity import User
from services import agents, refs
from services import content as message_content

OPEN_MESSAGE_TYPES = ("question", "answer")  # what /v1/conversation/message/list shows
ROLE_TYPES = {"user": "question", "assistant": "answer"}


def open_connector(connector_id) -> int:
    """The Open API serves the API connector, and the Chat SDK one when asked for."""
    if connector_id in (None, "", 0, "0"):
        return CONNECTOR_API
    number = parse_id(connector_id)
    if number not in CONNECTORS:
        raise errors.CONVERSATION_INVALID_PARAM(
            f"connector_id must be one of {sorted(CONNECTORS)}; got {connector_id}"
        )
    return number


def new(
    user: User,
    bot: Bot,
    *,
    scene: int = SCENE_OPENAPI,
    connector_id: int = CONNECTOR_API,
    meta_data: dict | None = None,
    name: str = "",
) -> Conversation:
    """A conversation not yet saved (a chat saves it with its first run, in one transaction)."""
    return Conversation(
        id=new_id(),
        creator=user.id,
        bot=bot.id,
        scene=scene,
        connector_id=connector_id,
        meta_data=meta_data or {},
        name=name,
        last_section_id=new_id(),
        created_at=now_s(),
        updated_at=now_s(),
    )


def create(user: User, bot: Bot, *, messages: list[MessageInput] | None = None, **fields) -> Conversation:
    for index, message in enumerate(messages or []):
        check_content(user, message.content, message.content_type, f"messages[{index}].content")
    conversation = new(user, bot, **fields)
    with db.atomic():
        conversation.insert_new()
        for message in messages or []:
            add_message(conversation, user, message)
    from services import webhooks  # it reaches this module through refs

    data = {"conversation_id": str(conversation.id), "bot_id": str(bot.id)}
    webhooks.emit_safely(bot.space_id, "conversation.created", data)
    return conversation


def load(user: User, conversation_id, bot_id=None) -> Conversation:
    """The caller's own conversation (with agent `bot_id`, when the request names one); anyone
    else's is simply not found."""
    conversation = refs.one(user, refs.CONVERSATION, conversation_id)
    if bot_id not in (None, "") and agents.load(user, bot_id).id != conversation.bot_id:
        raise errors.CONVERSATION_NOT_FOUND(f"conversation {conversation_id} is not with agent {bot_id}")
    return conversation


def web_conversation(user: User, bot: Bot, scene: int, conversation_id=None) -> Conversation:
    """The console's conversation: the one named (when it is the caller's, for this agent), else
    the current one for (user, agent, scene), created when there is none."""
    if parse_id(conversation_id):
        conversation = load(user, conversation_id)
        if conversation.bot_id != bot.id:
            raise errors.CONVERSATION_INVALID_PARAM(
                f"conversation {conversation_id} belongs to another agent than bot_id {bot.id}"
            )
        return conversation
    current = Conversation.current(user.id, bot.id, scene, CONNECTOR_WEB)
    if current is not None:
        return current
    return create(user, bot, scene=scene, connector_id=CONNECTOR_WEB)


def list_open(
    user: User, bot_id, connector_id, page: int, size: int, ascending: bool, sort_field: str
) -> tuple[list[Conversation], bool]:
    bot = agents.load(user, bot_id)
    order_field = Conversation.updated_at if sort_field == "updated_at" else Conversation.created_at
    query = (
        Conversation.select()
        .where(
            (Conversation.creator == user.id)
            & (Conversation.bot == bot.id)
            & (Conversation.scene == SCENE_OPENAPI)
            & (Conversation.connector_id == open_connector(connector_id))
        )
        .order_by(
            order_field.asc() if ascending else order_field.desc(),
            Conversation.id.asc() if ascending else Conversation.id.desc(),
        )
    )
    listed = paging.page(query, page, size)
    return listed.rows, listed.has_more


def rename(user: User, conversation_id, name: str) -> Conversation:
    return load(user, conversation_id).touch(name=name.strip())


def delete(user: User, conversation_id) -> None:
    load(user, conversation_id).delete_instance()


def new_section(conversation: Conversation) -> int:
    """Clear the context: later turns ignore earlier messages, which stay visible."""
    section_id = new_id()
    conversation.touch(last_section_id=section_id)
    return section_id


def replace(conversation: Conversation) -> Conversation:
    """Clear the history (the console's clear_message): a fresh conversation takes this one's place."""
    with db.atomic():
        fresh = Conversation.create(
            creator=conversation.creator_id,
            bot=conversation.bot_id,
            scene=conversation.scene,
            connector_id=conversation.connector_id,
            name=conversation.name,
            meta_data=conversation.meta_data,
            last_section_id=new_id(),
        )
        conversation.delete_instance()
    return fresh


# --- messages ----------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class MessageInput:
    """A message someone writes into a conversation (a question, context, an Open API message)."""

    role: str
    content: str = ""
    content_type: str = "text"
    type: str | None = None  # question or answer; by default the role's
    meta_data: dict | None = None


def check_content(user: User, content: str, content_type: str | None, field: str) -> None:
    """Content a user writes into history: well-formed, naming only their own files."""
    message_content.parse(content or "", content_type or "text", field=field, user=user)


def post_message(user: User, conversation_id, message: MessageInput) -> Message:
    """A message added to a conversation by the Open API (no chat runs)."""
    conversation = load(user, conversation_id)
    if message.type and ROLE_TYPES[message.role] != message.type:
        raise errors.CONVERSATION_INVALID_PARAM(
            f"type: a {message.role} message is a {ROLE_TYPES[message.role]}"
        )
    check_content(user, message.content, message.content_type, "content")
    with db.atomic():
        created = add_message(conversation, user, message)
        touch_conversation(conversation.id)
    return created


def add_message(
    conversation: Conversation,
    user: User,
    message: MessageInput,
    run: ChatRun | None = None,
    extra_info: dict | None = None,
) -> Message:
    message_id = new_id()
    role = message.role
    return Message(
        id=message_id,
        conversation=conversation.id,
        run=run.id if run else None,
        turn_id=run.id if run else message_id,
        section_id=run.section_id if run else conversation.last_section_id,
        bot=conversation.bot_id,
        creator=user.id,
        role=role,
        type=message.type or ROLE_TYPES[role],
        content=message.content or "",
        content_type=message.content_type or "text",
        meta_data=message.meta_data or {},
        extra_info=extra_info or {},
    ).insert_new()


def load_message(user: User, conversation_id, message_id, bot_id=None) -> Message:
    conversation = load(user, conversation_id, bot_id)
    return refs.under(
        refs.MESSAGE,
        message_id,
        Message.conversation == conversation.id,
        where=f"in conversation {conversation_id}",
    )


def modify_message(
    user: User,
    message: Message,
    *,
    content: str | None = None,
    content_type: str | None = None,
    meta_data: dict | None = None,
) -> Message:
    """Change what is given (None: unchanged)."""
    given = {"content": content, "content_type": content_type, "meta_data": meta_data}
    changes = {k: v for k, v in given.items() if v is not None}
    if "content" in changes or "content_type" in changes:
        check_content(
            user,
            changes.get("content", message.content),
            changes.get("content_type", message.content_type),
            "content",
        )
    if changes:
        message.touch(**changes)
    return message


def list_open_messages(
    user: User, conversation_id, *, order: str, limit: int, chat_id=None, before_id=None, after_id=None
) -> tuple[list[Message], bool]:
    """Questions and answers, `order` newest first (desc) or oldest first (asc). `before_id` and
    `after_id` are positions in that order: the messages listed before or after that one."""
    conversation = load(user, conversation_id)
    query = Message.select().where(
        (Message.conversation == conversation.id) & (Message.type.in_(OPEN_MESSAGE_TYPES))
    )
    if chat_id not in (None, ""):
        run = refs.under(
            refs.CHAT,
            chat_id,
            ChatRun.conversation == conversation.id,
            field="chat_id",
            where=f"in conversation {conversation_id}",
        )
        query = query.where(Message.run == run.id)
    newest_first = order != "asc"
    if parse_id(before_id):
        # the ones listed before the cursor, nearest first, then put back into list order
        cursor = parse_id(before_id)
        query = query.where(Message.id > cursor if newest_first else Message.id < cursor)
        rows = list(query.order_by(Message.id.asc() if newest_first else Message.id.desc()).limit(limit + 1))
        has_more = len(rows) > limit
        rows = rows[:limit][::-1]
        return rows, has_more
    if parse_id(after_id):
        cursor = parse_id(after_id)
        query = query.where(Message.id < cursor if newest_first else Message.id > cursor)
    rows = list(query.order_by(Message.id.desc() if newest_first else Message.id.asc()).limit(limit + 1))
    return rows[:limit], len(rows) > limit


def run_messages(run: ChatRun) -> list[Message]:
    """What the agent said in a chat (not the question), in order."""
    return list(
        Message.select().where((Message.run == run.id) & (Message.type != "question")).order_by(Message.id)
    )


def web_turns(conversation: Conversation, cursor, count: int, older: bool):
    """The console's history by turns (a question and its replies). Returns the messages of the
    chosen turns newest first, and whether older and newer turns remain beyond them."""
    anchors = Message.select(Message.turn_id).where(Message.conversation == conversation.id).distinct()
    number = parse_id(cursor) or 0
    if older:
        if number:
            anchors = anchors.where(Message.turn_id < number)
        turn_ids = [r.turn_id for r in anchors.order_by(Message.turn_id.desc()).limit(count + 1)]
        more_older, turn_ids = len(turn_ids) > count, turn_ids[:count]
        more_newer = (
            bool(number)
            and Message.select()
            .where((Message.conversation == conversation.id) & (Message.turn_id >= number))
            .exists()
        )
    else:
        anchors = anchors.where(Message.turn_id > number)
        turn_ids = [r.turn_id for r in anchors.order_by(Message.turn_id.asc()).limit(count + 1)]
        more_newer, turn_ids = len(turn_ids) > count, turn_ids[:count]
        more_older = (
            bool(turn_ids)
            and Message.select()
            .where((Message.conversation == conversation.id) & (Message.turn_id < min(turn_ids)))
            .exists()
        )
    messages = list(
        Message.select()
        .where((Message.conversation == conversation.id) & (Message.turn_id.in_(turn_ids or [0])))
        .order_by(Message.id.desc())
    )
    return messages, turn_ids, more_older, more_newer


def delete_turn(message: Message) -> None:
    """Delete a message's whole turn: the question and every reply of its run."""
    Message.delete().where(
        (Message.conversation == message.conversation_id) & (Message.turn_id == message.turn_id)
    ).execute()


def mark_broken(message: Message, broken_pos: int | None) -> None:
    """Record that the user stopped reading an answer at broken_pos (characters)."""
    if message.type != "answer":
        raise errors.CONVERSATION_INVALID_PARAM(f"message {message.id} is not an answer")
    content = message.content if broken_pos is None or broken_pos < 0 else message.content[:broken_pos]
    message.touch(
        status="broken", broken_pos=len(content) if broken_pos is None else broken_pos, content=content
    )


def touch_conversation(conversation_id: int) -> None:
    Conversation.update(updated_at=now_s()).where(Conversation.id == conversation_id).execute()
