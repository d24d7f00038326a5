"""How models appear on the wire (ids as digit strings, Coze's field names)."""

from __future__ import annotations

from models.agent import CONNECTORS
from models.identity import PersonalAccessToken, Space, User
from models.llm import LlmModel
from services import agents, files


def avatar_url(user: User) -> str:
    return f"/api/user/avatar/{user.avatar_key}" if user.avatar_key else ""


def user_view(user: User) -> dict:
    return {
        "user_id_str": str(user.id),
        "name": user.name,
        "user_unique_name": user.unique_name or "",
        "email": user.email,
        "description": user.description,
        "avatar_url": avatar_url(user),
        "screen_name": user.name,
        "app_user_info": {"user_unique_name": user.unique_name or ""},
        "locale": user.locale,
        "user_create_time": user.created_at,
        "is_super_admin": user.is_super_admin,
    }


def space_view(space: Space, role: int) -> dict:
    return {
        "id": str(space.id),
        "name": space.name,
        "description": space.description,
        "icon_url": space.icon_uri,
        "space_type": space.space_type,
        "role_type": role,
        "space_role_type": role,
        "owner_id": str(space.owner_id),
        "create_time": space.created_at,
    }


def pat_view(pat: PersonalAccessToken) -> dict:
    return {
        "id": str(pat.id),
        "name": pat.name,
        "created_at": pat.created_at * 1000,
        "updated_at": pat.updated_at * 1000,
        "last_used_at": pat.last_used_at,
        "expire_at": pat.expire_at,
        "expired": pat.expired,
    }


def model_admin_view(model: LlmModel) -> dict:
    return {
        "id": str(model.id),
        "name": model.name,
        "model_name": model.model_name,
        "protocol": model.protocol,
        "base_url": model.base_url,
        "api_key_set": bool(model.api_key_encrypted),
        "api_key_hint": model.api_key_hint,
        "description": model.description,
        "context_length": model.context_length,
        "capabilities": model.capabilities,
        "default_params": model.default_params,
        "kind": model.kind,
        "dimensions": model.dimensions,
        "is_enabled": model.is_enabled,
        "is_default": model.is_default,
        "create_time": model.created_at,
        "update_time": model.updated_at,
    }


_PARAM_RANGES = {  # name: (type, min, max, precision, label)
    "temperature": ("float", 0, 2, 2, "Temperature"),
    "top_p": ("float", 0, 1, 2, "Top P"),
    "max_tokens": ("int", 1, None, 0, "Max tokens"),
    "frequency_penalty": ("float", -2, 2, 2, "Frequency penalty"),
    "presence_penalty": ("float", -2, 2, 2, "Presence penalty"),
}


def model_choice_view(model: LlmModel) -> dict:
    """A model as the agent editor lists it (Coze's get_type_list shape)."""
    defaults = model.default_params or {}
    params = []
    for name, (kind, low, high, precision, label) in _PARAM_RANGES.items():
        high = model.context_length if name == "max_tokens" else high
        default = defaults.get(name, {"temperature": 0.7, "top_p": 1.0, "max_tokens": 1024}.get(name, 0))
        params.append(
            {
                "name": name,
                "label": label,
                "type": kind,
                "min": str(low),
                "max": str(high),
                "precision": precision,
                "default_val": {"default_val": str(default)},
            }
        )
    caps = model.capabilities or {}
    return {
        "model_type": str(model.id),
        "model_id": str(model.id),
        "name": model.name,
        "model_name": model.model_name,
        "model_desc": model.description,
        "is_default": model.is_default,
        "is_offline": model.protocol == "builtin",
        "context_length": model.context_length,
        "model_params": params,
        "func_config": {"tool_call": caps.get("tool_call", False)},
        "model_ability": {
            "function_call": caps.get("tool_call", False),
            "image_understanding": caps.get("vision", False),
            "cot_display": caps.get("reasoning", False),
            "json_mode": caps.get("json_mode", False),
        },
        "model_status": "enabled" if model.is_enabled else "disabled",
    }


def draft_bot_view(bot, user, version=None) -> dict:
    """get_draft_bot_info: the draft (or a published version's snapshot) and what surrounds it."""
    info = (
        agents.bot_info(bot)
        if version is None
        else {**version.snapshot, "icon_url": files.url_of(version.snapshot.get("icon_uri", ""))}
    )  # links expire
    model_id = (info.get("model_info") or {}).get("model_id")
    model = (
        LlmModel.get_or_none(LlmModel.id == int(model_id)) if model_id and str(model_id).isdigit() else None
    )
    latest = agents.published(bot)
    return {
        "bot_info": info,
        "bot_option_data": {
            "model_detail_map": {
                str(model.id): {
                    "name": model.name,
                    "model_name": model.model_name,
                    "model_status": "enabled" if model.is_enabled else "disabled",
                }
            }
            if model
            else {},
            "plugin_detail_map": {},
            "plugin_api_detail_map": {},
            "workflow_detail_map": {},
            "knowledge_detail_map": {},
            "shortcut_command_list": info.get("shortcut_commands", []),
        },
        "has_unpublished_change": bot.has_unpublished_change,
        "has_publish": latest is not None,
        "publish_time": latest.created_at if latest else 0,
        "space_id": str(bot.space_id),
        "connectors": connector_views(bot, latest),
        "editable": True,
        "deletable": bot.creator_id == user.id,
        "commit_version": str(bot.draft_version),
        "version": version.version if version is not None else "",
    }


_LOOK_IT_UP = object()


def connector_views(bot, latest=_LOOK_IT_UP) -> list[dict]:
    publications = agents.publications(bot)
    latest = agents.published(bot) if latest is _LOOK_IT_UP else latest
    views = []
    for connector_id, (name, desc, bind_type) in CONNECTORS.items():
        publication = publications.get(connector_id)
        views.append(
            {
                "id": str(connector_id),
                "name": name,
                "desc": desc,
                "icon": "",
                "share_link": "",
                "config_status": 1,
                "bind_type": bind_type,
                "bind_info": {},
                "connector_status": 0,
                "last_publish_time": publication.updated_at if publication else 0,
                "published_version": str(publication.version_id) if publication else "",
                "is_last_published": bool(publication and latest and publication.version_id == latest.id),
            }
        )
    return views


def history_view(version) -> dict:
    return {
        "version": version.version,
        "history_type": version.history_type,
        "info": version.info,
        "create_time": version.created_at,
        "publish_id": version.version,
        "connector_infos": [{"id": str(c), "name": CONNECTORS[c][0]} for c in version.connector_ids],
        "creator": {"id": str(version.creator_id)},
    }


# --- conversations, messages and chats ----------------------------------------------------------


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


def chat_view(run) -> dict:
    view = {
        "id": str(run.id),
        "conversation_id": str(run.conversation_id),
        "bot_id": str(run.bot_id),
        "section_id": str(run.section_id),
        "status": run.status,
        "created_at": run.created_at,
        "usage": {"token_count": 0, "output_count": 0, "input_count": 0, **(run.usage or {})},
        "last_error": {"code": 0, "msg": "", **(run.last_error or {})},
        "meta_data": run.meta_data or {},
    }
    if run.completed_at:
        view["completed_at"] = run.completed_at
    if run.failed_at:
        view["failed_at"] = run.failed_at
    if run.required_action:
        view["required_action"] = run.required_action
    return view


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
