"""Agents: the console's draft bot page, its connectors and history, the models it can choose, and
the Open API's bot objects (/v1/bot*, as cozepy and @coze/api read them)."""

from __future__ import annotations

from core.links import url_of

RESPONSE_FORMATS = {0: "text", 1: "markdown", 2: "json"}
REPLY_MODES = {0: "enable", 1: "customized", 2: "disable"}


_PARAM_RANGES = {  # name: (type, min, max, precision, label)
    "temperature": ("float", 0, 2, 2, "Temperature"),
    "top_p": ("float", 0, 1, 2, "Top P"),
    "max_tokens": ("int", 1, None, 0, "Max tokens"),
    "frequency_penalty": ("float", -2, 2, 2, "Frequency penalty"),
    "presence_penalty": ("float", -2, 2, 2, "Presence penalty"),
}


def model_choice_view(model) -> dict:
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


def bot_info_view(info: dict) -> dict:
    """A draft's bot_info or a published snapshot, with a fresh icon link (links expire)."""
    return {**info, "icon_url": url_of(info.get("icon_uri", ""))}


def draft_bot_view(bot, user, info: dict, around, version_label: str = "") -> dict:
    """get_draft_bot_info: the draft (or a published version's snapshot) and what surrounds it
    (`around`: services.agents.Surroundings)."""
    model = around.model
    return {
        "bot_info": bot_info_view(info),
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
        "has_publish": around.latest is not None,
        "publish_time": around.latest.created_at if around.latest else 0,
        "space_id": str(bot.space_id),
        "connectors": connector_views(around),
        "editable": True,
        "deletable": bot.creator_id == user.id,
        "commit_version": str(bot.draft_version),
        "version": version_label,
    }


def connector_views(around) -> list[dict]:
    views = []
    for connector_id, (name, desc, bind_type) in around.connectors.items():
        publication = around.publications.get(connector_id)
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
                "is_last_published": bool(
                    publication and around.latest and publication.version_id == around.latest.id
                ),
            }
        )
    return views


def history_view(version, connectors: dict) -> dict:
    return {
        "version": version.version,
        "history_type": version.history_type,
        "info": version.info,
        "create_time": version.created_at,
        "publish_id": version.version,
        "connector_infos": [{"id": str(c), "name": connectors[c][0]} for c in version.connector_ids],
        "creator": {"id": str(version.creator_id)},
    }


def open_bot(bot, info: dict, version: str, model) -> dict:
    """Coze's OpenAPIBotInfo from a draft bot_info or a published snapshot (`model`: the one its
    model_info names, if it exists)."""
    model_info = info.get("model_info") or {}
    knowledge = info.get("knowledge") or {}
    onboarding = info.get("onboarding_info") or {}
    reply = info.get("suggest_reply_info") or {}
    return {
        "bot_id": str(bot.id),
        "name": info.get("name", bot.name),
        "description": info.get("description", bot.description),
        "icon_url": url_of(info.get("icon_uri", "")),
        "create_time": bot.created_at,
        "update_time": info.get("update_time", bot.updated_at),
        "version": version,
        "bot_mode": info.get("bot_mode", bot.bot_mode),
        "owner_user_id": str(bot.creator_id),
        "prompt_info": {"prompt": (info.get("prompt_info") or {}).get("prompt", "")},
        "onboarding_info": {
            "prologue": onboarding.get("prologue", ""),
            "suggested_questions": onboarding.get("suggested_questions", []),
        },
        "knowledge": {
            "dataset_ids": [str(k.get("id")) for k in knowledge.get("knowledge_info", [])],
            "auto_call": knowledge.get("auto", True),
            "search_strategy": knowledge.get("search_strategy", 0),
        },
        "model_info": {
            "model_id": str(model_info.get("model_id", "")),
            "model_name": model.name if model else "",
            "temperature": model_info.get("temperature"),
            "max_tokens": model_info.get("max_tokens"),
            "top_p": model_info.get("top_p"),
            "context_round": (model_info.get("short_memory_policy") or {}).get("history_round"),
            "response_format": RESPONSE_FORMATS.get(model_info.get("response_format", 0), "text"),
        },
        "suggest_reply_info": {
            "reply_mode": REPLY_MODES.get(reply.get("suggest_reply_mode", 0), "enable"),
            "customized_prompt": reply.get("customized_suggest_prompt", ""),
        },
        "plugin_info_list": [],
        "workflow_info_list": [],
        "variables": [_open_variable(v) for v in info.get("variable_list") or [] if _enabled(v)],
        "shortcut_commands": info.get("shortcut_commands", []),
    }


def open_bot_summary(bot, published_at: int | None) -> dict:
    """An item of /v1/bots."""
    return {
        "id": str(bot.id),
        "name": bot.name,
        "description": bot.description,
        "icon_url": url_of(bot.icon_uri),
        "is_published": published_at is not None,
        "updated_at": bot.updated_at,
        "owner_user_id": str(bot.creator_id),
        "published_at": published_at or 0,
    }


def published_bot_view(bot, published_at: int | None) -> dict:
    """An item of /v1/space/published_bots_list."""
    return {
        "bot_id": str(bot.id),
        "bot_name": bot.name,
        "description": bot.description,
        "icon_url": url_of(bot.icon_uri),
        "publish_time": str(published_at),
    }


def _enabled(variable) -> bool:
    return isinstance(variable, dict) and bool(variable.get("key")) and not variable.get("is_disabled")


def _open_variable(variable: dict) -> dict:
    return {
        "keyword": variable["key"],
        "default_value": str(variable.get("default_value") or ""),
        "variable_type": "KVVariable",
        "channel": "system" if variable.get("is_system") else "custom",
        "description": variable.get("description") or "",
        "enable": True,
        "prompt_enable": not variable.get("prompt_disabled"),
    }
