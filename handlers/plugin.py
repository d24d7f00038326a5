"""Plugins (Coze's /api/plugin_api/*): registration, their tools, debugging."""

from __future__ import annotations

import json

from core.envelope import SUCCESS_MSG, ok
from models.identity import User
from services import plugin_docs, plugins
from views.plugin import api_info_view, creator_view, meta_info_view, playground_view


def _done(**fields) -> dict:
    return {"code": 0, "msg": SUCCESS_MSG, **fields}


def register_plugin(token_info, body):
    plugin, openapi = plugins.register(
        token_info["user"],
        body["space_id"],
        body["ai_plugin"],
        body["openapi"],
        project_id=body.get("project_id"),
    )
    return ok({"plugin_id": str(plugin.id), "openapi": openapi})


def get_plugin_info(token_info, body):
    user = token_info["user"]
    plugin = plugins.load(user, body["plugin_id"])
    creator = User.by_id(plugin.creator_id)
    return _done(
        meta_info=meta_info_view(plugin),
        code_info={
            "plugin_desc": plugins.manifest_text(plugin),
            "openapi_desc": plugins.document(plugin),
            "client_id": "",
            "client_secret": "",
            "service_token": plugins.masked(plugin.auth_secret),
        },
        status=True,
        published=False,
        creator=creator_view(creator, user.id),
        edit_version=plugin.edit_version,
        plugin_type=plugin.plugin_type,
    )


def get_plugin_apis(token_info, body):
    plugin = plugins.load(token_info["user"], body["plugin_id"])
    rows, total = plugins.tools(plugin, body.get("api_ids"), body.get("page", 1), body.get("size", 50))
    return _done(
        api_info=[
            api_info_view(
                t, plugin_docs.request_params(t.operation), plugin_docs.response_params(t.operation)
            )
            for t in rows
        ],
        total=total,
        edit_version=plugin.edit_version,
    )


def del_plugin(token_info, body):
    plugins.delete(token_info["user"], body["plugin_id"])
    return _done()


def get_dev_plugin_list(token_info, body):
    user = token_info["user"]
    criteria = plugins.PluginQuery(
        space_id=body["space_id"],
        name=body.get("name") or "",
        plugin_ids=tuple(body.get("plugin_ids") or ()),
        project_id=body.get("project_id"),
        page=body.get("page", 1),
        size=body.get("size", 20),
    )
    rows, total = plugins.space_plugins(user, criteria)
    creators = {u.id: u for u in User.select().where(User.id.in_([p.creator_id for p, _ in rows] or [0]))}
    return _done(
        plugin_list=[
            playground_view(p, tools, creator_view(creators[p.creator_id], user.id)) for p, tools in rows
        ],
        total=str(total),
    )


def debug_api(token_info, body):
    outcome = plugins.debug(token_info["user"], body["plugin_id"], body["api_id"], body["parameters"])
    return _done(
        success=outcome.success,
        resp=outcome.output,
        reason=outcome.reason,
        raw_resp=outcome.response,
        raw_req=json.dumps(outcome.request, ensure_ascii=False),
        response_params=[],
    )
