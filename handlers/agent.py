"""Agents (draft bots) and the models they can use."""

from __future__ import annotations

from core import errors
from core.envelope import ok
from core.ids import parse_id
from core.links import file_uri
from models.agent import CONNECTORS
from models.llm import KIND_CHAT, LlmModel
from services import agents, refs
from views.agent import (
    REPLY_MODES,
    RESPONSE_FORMATS,
    connector_views,
    draft_bot_view,
    history_view,
    model_choice_view,
    open_bot,
    open_bot_summary,
    published_bot_view,
)
from views.passport import user_brief


def get_type_list(token_info, body=None):
    body = body or {}
    if body.get("space_id") not in (None, ""):
        refs.one(token_info["user"], refs.SPACE, body["space_id"], field="space_id")
    models = list(LlmModel.listed(include_disabled=False, kind=KIND_CHAT))
    current = body.get("cur_model_id")
    if current and all(str(m.id) != str(current) for m in models):
        # keep an agent's current (now disabled) model visible, marked as such; unknown ones are not
        models += list(LlmModel.select().where(LlmModel.id == (parse_id(current) or -1)))
    return ok({"model_list": [model_choice_view(m) for m in models]})


# --- agents (draft bots) -----------------------------------------------------------------------


def create_bot(token_info, body):
    bot, warning = agents.create(
        token_info["user"],
        body["name"],
        space_id=body.get("space_id"),
        description=body.get("description") or "",
        icon_uri=body.get("icon_uri") or "",
        bot_mode=body.get("bot_mode", 0),
        visibility=body.get("visibility", 0),
        model_id=(body.get("model_conf") or {}).get("model_id"),
    )
    return ok({"bot_id": str(bot.id), "check_not_pass": bool(warning), "check_not_pass_msg": warning})


def get_display_info(token_info, body):
    bot = agents.load(token_info["user"], body["bot_id"], space_id=body.get("space_id"))
    return ok({"tab_display_info": bot.display_info})


def update_display_info(token_info, body):
    bot = agents.update_display(
        token_info["user"],
        body["bot_id"],
        body.get("space_id"),
        (body.get("display_info") or {}).get("tab_display_info") or {},
    )
    return ok({"tab_display_info": bot.display_info})


def get_draft_bot_info(token_info, body):
    user = token_info["user"]
    bot = agents.load(user, body["bot_id"], space_id=body.get("space_id"))
    number = body.get("version") or body.get("commit_version")
    version = agents.version_of(bot, number) if number else None
    info = agents.bot_info(bot) if version is None else version.snapshot
    label = version.version if version is not None else ""
    return ok(draft_bot_view(bot, user, info, agents.surroundings(bot, info), label))


def update_draft_bot_info(token_info, body):
    bot, changed = agents.update_draft(token_info["user"], body["bot_info"])
    return ok(
        {
            "has_change": changed,
            "check_not_pass": False,
            "branch": 0,
            "same_with_online": not bot.has_unpublished_change,
            "commit_version": str(bot.draft_version),
        }
    )


def delete_bot(token_info, body):
    agents.delete(token_info["user"], body["bot_id"], body.get("space_id"))
    return ok()


def duplicate_bot(token_info, body):
    user = token_info["user"]
    bot = agents.duplicate(user, body["bot_id"], body.get("space_id"))
    return ok(
        {
            "bot_id": str(bot.id),
            "name": bot.name,
            "user_info": user_brief(user),
        }
    )


def commit_check(token_info, body):
    bot = agents.load(token_info["user"], body["bot_id"], space_id=body.get("space_id"))
    base = body.get("commit_version")
    return ok(
        {
            "has_change": base not in (None, "") and str(base) != str(bot.draft_version),
            "commit_version": str(bot.draft_version),
            "same_with_online": not bot.has_unpublished_change,
        }
    )


def publish_bot(token_info, body):
    version = agents.publish(
        token_info["user"],
        body["bot_id"],
        list((body.get("connectors") or {}).keys()),
        info=(body.get("history_info") or ""),
        space_id=body.get("space_id"),
    )
    return ok(
        {
            "publish_result": {str(c): {"publish_result_status": 1} for c in version.connector_ids},
            "check_not_pass": False,
            "version": version.version,
            "publish_id": version.version,
        }
    )


def list_publish_connectors(token_info, body):
    bot = agents.load(token_info["user"], body["bot_id"], space_id=body.get("space_id"))
    return ok({"publish_connector_list": connector_views(agents.surroundings(bot))})


def list_draft_history(token_info, body):
    bot = agents.load(token_info["user"], body["bot_id"], space_id=body.get("space_id"))
    listed = agents.history(bot, body["page_index"], body["page_size"], body.get("connector_id"))
    return ok({"history_infos": [history_view(v, CONNECTORS) for v in listed.rows], "total": listed.total})


# --- Open API (/v1): what cozepy and @coze/api call ------------------------------------------


def _open_changes(body: dict) -> dict:
    """An Open API create/update body as a draft patch (Coze's BotInfo field names)."""
    changes = {k: body[k] for k in ("name", "description") if body.get(k) is not None}
    if body.get("icon_file_id"):
        changes["icon_uri"] = file_uri(body["icon_file_id"])
    for key in ("prompt_info", "onboarding_info"):
        if body.get(key) is not None:
            changes[key] = body[key]
    model = body.get("model_info_config")
    if model:
        info = {
            k: model[k]
            for k in (
                "model_id",
                "temperature",
                "max_tokens",
                "top_p",
                "top_k",
                "frequency_penalty",
                "presence_penalty",
            )
            if model.get(k) is not None
        }
        if model.get("context_round") is not None:
            info["short_memory_policy"] = {"context_mode": 2, "history_round": model["context_round"]}
        if model.get("response_format"):
            info["response_format"] = {v: k for k, v in RESPONSE_FORMATS.items()}.get(
                model["response_format"], 0
            )
        changes["model_info"] = info
    reply = body.get("suggest_reply_info")
    if reply:
        mode = {v: k for k, v in REPLY_MODES.items()}.get(reply.get("reply_mode"), 0)
        changes["suggest_reply_info"] = {
            "suggest_reply_mode": mode,
            "customized_suggest_prompt": reply.get("customized_prompt", ""),
        }
    plugins = (body.get("plugin_id_list") or {}).get("id_list")
    if plugins:
        changes["plugin_info_list"] = [
            {"plugin_id": str(p.get("plugin_id")), "api_id": str(p.get("api_id") or "")} for p in plugins
        ]
    workflows = (body.get("workflow_id_list") or {}).get("ids")
    if workflows:
        changes["workflow_info_list"] = [{"workflow_id": str(w.get("id"))} for w in workflows]
    knowledge = body.get("knowledge")
    if knowledge:
        changes["knowledge"] = {
            "knowledge_info": [{"id": str(i), "name": ""} for i in knowledge.get("dataset_ids", [])],
            "auto": knowledge.get("auto_call", True),
            "search_strategy": knowledge.get("search_strategy", 0),
        }
    return changes


def _open_draft(bot) -> dict:
    info = agents.bot_info(bot)
    return open_bot(bot, info, str(bot.draft_version), agents.model_named_in(info))


def _open_version(bot, version) -> dict:
    return open_bot(bot, version.snapshot, version.version, agents.model_named_in(version.snapshot))


def open_create_bot(token_info, body):
    bot = agents.create_configured(
        token_info["user"], body["space_id"], body["name"], body.get("description"), _open_changes(body)
    )
    return ok(_open_draft(bot))


def open_update_bot(token_info, body):
    agents.update_draft(token_info["user"], {"bot_id": body["bot_id"], **_open_changes(body)})
    return ok()


def open_publish_bot(token_info, body):
    version = agents.publish(token_info["user"], body["bot_id"], [str(c) for c in body["connector_ids"]])
    bot = agents.load(token_info["user"], body["bot_id"], space_id=body.get("space_id"))
    return ok(_open_version(bot, version))


def get_online_info(token_info, bot_id):
    bot = agents.load(token_info["user"], bot_id)
    version = agents.published(bot)
    if version is None:
        raise errors.AGENT_NOT_PUBLISHED(f"agent {bot_id} has not been published")
    return ok(_open_version(bot, version))


def open_get_bot(token_info, bot_id, is_published=False):
    bot = agents.load(token_info["user"], bot_id)
    if not is_published:
        return ok(_open_draft(bot))
    return get_online_info(token_info, bot_id)


def open_list_bots(
    token_info, workspace_id, page_index=1, page_size=20, publish_status=None, connector_id=None
):
    rows, total = agents.page_of_space(
        token_info["user"], workspace_id, page_index, page_size, publish_status
    )
    return ok({"items": [open_bot_summary(b, at) for b, at in rows], "total": total})


def published_bots_list(token_info, space_id, page_index=1, page_size=20):
    rows, total = agents.page_of_space(
        token_info["user"], space_id, page_index, page_size, "published_online"
    )
    return ok({"space_bots": [published_bot_view(b, at) for b, at in rows], "total": total})
