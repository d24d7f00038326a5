"""Chatflows' conversations: named and the user's, within a scope (a project's chatflows share
theirs, a chatflow outside a project has its own). /v1/workflows/chat keeps each turn's message
and answer in one; the conversation and message nodes (37, 38, 39, 51 to 57) manage them by name."""

from __future__ import annotations

from core import errors
from core.ids import new_id, parse_id
from models.db import run_db, write_transaction
from models.identity import User
from models.workflow import ChatflowConversation, ChatflowMessage, Workflow
from services import workflow_canvas as wc
from services.workflow_engine import NodeError, Outcome, Run, handles

MESSAGE_LIST, CLEAR_HISTORY, CREATE, EDIT, DELETE, LIST, HISTORY = "37", "38", "39", "51", "52", "53", "54"
CREATE_MESSAGE, EDIT_MESSAGE, DELETE_MESSAGE = "55", "56", "57"
MAX_MESSAGES = 200
ROLES = ("user", "assistant")


def scope_of(workflow: Workflow) -> str:
    return f"project:{workflow.project_id}" if workflow.project_id else f"workflow:{workflow.id}"


def for_chat(user: User, workflow: Workflow, conversation_id) -> ChatflowConversation:
    """The conversation a chat names (the user's, in the chatflow's scope), or a new one."""
    scope = scope_of(workflow)
    if conversation_id in (None, "", "0"):
        number = new_id()
        return ChatflowConversation.create(
            id=number, space_id=workflow.space_id, creator=user.id, scope=scope, name=f"conversation_{number}"
        )
    found = ChatflowConversation.get_or_none(
        ChatflowConversation.id == parse_id(conversation_id),
        ChatflowConversation.creator == user.id,
        ChatflowConversation.scope == scope,
    )
    if found is None:
        raise errors.CONVERSATION_NOT_FOUND(f"conversation_id: conversation {conversation_id} not found")
    return found


def record(conversation_id: int, role: str, content: str, run_id: int | None = None) -> ChatflowMessage:
    return ChatflowMessage.create(conversation=conversation_id, role=role, content=content, run_id=run_id)


def _message_view(message: ChatflowMessage) -> dict:
    return {
        "messageId": str(message.id),
        "role": message.role,
        "contentType": "text",
        "content": message.content,
    }


# --- the nodes -------------------------------------------------------------------------------------


class _Where:
    """The user and scope a node's conversations are in (its run's)."""

    def __init__(self, node: wc.Node, run: Run):
        self.node, self.where = node, f"node {node.id} ({node.title})"
        self.user, self.run = run.context.get("user"), run.context.get("run")
        if self.user is None or self.run is None:
            raise NodeError(f"{self.where}: runs only inside a workflow run of a user")

    def scope(self) -> str:
        return scope_of(Workflow.by_id(self.run.workflow_id))

    def named(self, name, *, create: bool = False) -> ChatflowConversation | None:
        """The conversation by name; without a name, the one the run chats in."""
        scope = self.scope()
        if name in (None, ""):
            chatting = parse_id((self.run.state or {}).get("conversation_id"))
            found = ChatflowConversation.get_or_none(
                ChatflowConversation.id == chatting, ChatflowConversation.creator == self.user.id
            )
        else:
            found = ChatflowConversation.get_or_none(
                ChatflowConversation.creator == self.user.id,
                ChatflowConversation.scope == scope,
                ChatflowConversation.name == str(name)[:100],
            )
        if found is None and create and name:
            found = ChatflowConversation.create(
                space_id=self.run.space_id, creator=self.user.id, scope=scope, name=str(name)[:100]
            )
        return found

    def required(self, name) -> ChatflowConversation:
        found = self.named(name)
        if found is None:
            raise NodeError(f"{self.where}.conversationName: no conversation {str(name)[:100]!r}")
        return found

    def message(self, conversation: ChatflowConversation, message_id) -> ChatflowMessage:
        found = ChatflowMessage.get_or_none(
            ChatflowMessage.id == parse_id(message_id), ChatflowMessage.conversation == conversation.id
        )
        if found is None:
            raise NodeError(f"{self.where}.messageId: no message {str(message_id)[:40]} in that conversation")
        return found


def _node(kind: str):
    """A node kind whose work is one function of (where, inputs) run with the database."""

    def register(work):
        @handles(kind)
        async def handler(node: wc.Node, inputs: dict, run: Run) -> Outcome:
            where = _Where(node, run)

            def transact():
                with write_transaction():
                    return work(where, inputs)

            return Outcome(await run_db(transact))

        return work

    return register


@_node(CREATE)
def _create(where: _Where, inputs: dict) -> dict:
    name = str(inputs.get("conversationName") or "").strip()
    if not name:
        raise NodeError(f"{where.where}.conversationName: required")
    existed = where.named(name)
    found = existed or where.named(name, create=True)
    return {"isSuccess": True, "isExisted": existed is not None, "conversationId": str(found.id)}


@_node(EDIT)
def _rename(where: _Where, inputs: dict) -> dict:
    found = where.named(inputs.get("conversationName"))
    new_name = str(inputs.get("newConversationName") or "").strip()[:100]
    if found is None or not new_name:
        return {
            "isSuccess": False,
            "isExisted": found is not None,
            "conversationId": str(found.id) if found else "",
        }
    if where.named(new_name) is not None:
        raise NodeError(f"{where.where}.newConversationName: a conversation {new_name!r} exists")
    found.touch(name=new_name)
    return {"isSuccess": True, "isExisted": True, "conversationId": str(found.id)}


@_node(DELETE)
def _delete(where: _Where, inputs: dict) -> dict:
    found = where.named(inputs.get("conversationName"))
    if found is not None:
        found.delete_instance()
    return {"isSuccess": found is not None}


@_node(LIST)
def _list(where: _Where, inputs: dict) -> dict:
    found = (
        ChatflowConversation.select()
        .where(ChatflowConversation.creator == where.user.id, ChatflowConversation.scope == where.scope())
        .order_by(ChatflowConversation.id.desc())
        .limit(MAX_MESSAGES)
    )
    return {"conversationList": [{"conversationName": c.name, "conversationId": str(c.id)} for c in found]}


@_node(HISTORY)
def _history(where: _Where, inputs: dict) -> dict:
    """The last `rounds` exchanges (a user message and what answered it), oldest first."""
    conversation = where.required(inputs.get("conversationName"))
    rounds = max(1, min(int(inputs.get("rounds") or 3), 50))
    recent = list(
        ChatflowMessage.select()
        .where(ChatflowMessage.conversation == conversation.id)
        .order_by(ChatflowMessage.id.desc())
        .limit(MAX_MESSAGES)
    )
    kept, users = [], 0
    for message in recent:
        kept.append(message)
        users += message.role == "user"
        if users == rounds:
            break
    return {"messageList": [{"role": m.role, "content": m.content} for m in reversed(kept)]}


@_node(MESSAGE_LIST)
def _messages(where: _Where, inputs: dict) -> dict:
    conversation = where.required(inputs.get("conversationName"))
    limit = max(1, min(int(inputs.get("limit") or 50), MAX_MESSAGES))
    query = ChatflowMessage.select().where(ChatflowMessage.conversation == conversation.id)
    if parse_id(inputs.get("beforeId")):
        query = query.where(ChatflowMessage.id < parse_id(inputs["beforeId"]))
    if parse_id(inputs.get("afterId")):
        query = query.where(ChatflowMessage.id > parse_id(inputs["afterId"]))
    found = list(query.order_by(ChatflowMessage.id.desc()).limit(limit + 1))
    page = found[:limit]
    return {
        "messageList": [_message_view(m) for m in page],
        "firstId": str(page[0].id) if page else "",
        "lastId": str(page[-1].id) if page else "",
        "hasMore": len(found) > limit,
    }


@_node(CLEAR_HISTORY)
def _clear(where: _Where, inputs: dict) -> dict:
    conversation = where.required(inputs.get("conversationName"))
    ChatflowMessage.delete().where(ChatflowMessage.conversation == conversation.id).execute()
    return {"isSuccess": True}


@_node(CREATE_MESSAGE)
def _create_message(where: _Where, inputs: dict) -> dict:
    conversation = where.required(inputs.get("conversationName"))
    role = str(inputs.get("role") or "user")
    if role not in ROLES:
        raise NodeError(f"{where.where}.role: user or assistant, not {role[:20]!r}")
    message = record(conversation.id, role, str(inputs.get("content") or ""), where.run.id)
    return {"isSuccess": True, "message": _message_view(message)}


@_node(EDIT_MESSAGE)
def _edit_message(where: _Where, inputs: dict) -> dict:
    message = where.message(where.required(inputs.get("conversationName")), inputs.get("messageId"))
    message.touch(content=str(inputs.get("newContent") or ""))
    return {"isSuccess": True}


@_node(DELETE_MESSAGE)
def _delete_message(where: _Where, inputs: dict) -> dict:
    message = where.message(where.required(inputs.get("conversationName")), inputs.get("messageId"))
    message.delete_instance()
    return {"isSuccess": True}
