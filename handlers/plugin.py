"""Plugins (Coze's /api/plugin_api/*): registration, their tools, debugging."""

from __future__ import annotations

import json

from anyio import to_thread
from connexion.lifecycle import ConnexionResponse

from core.envelope import SUCCESS_MSG, ok
from core.links import url_of
from core.settings import get_settings
from models.db import run_db
from services import agent_plugins, chat, chat_runs, plugin_docs, plugin_import, plugins
from views.passport import creator_view
from views.plugin import api_info_view, meta_info_view, playground_view

# what the console's form asks for an OAuth plugin (Coze's get_oauth_schema): the oauth_info JSON
OAUTH_SCHEMA = {
    "authorization_code": [
        "client_id",
        "client_secret",
        "client_url",
        "scope",
        "authorization_url",
        "authorization_content_type",
    ],
    "client_credentials": ["client_id", "client_secret", "token_url", "scope"],
}


def _done(**fields) -> dict:
    return {"code": 0, "msg": SUCCESS_MSG, **fields}


def register_plugin(token_info, body):
    plugin, openapi = plugins.register(
        token_info["user"],
        body["space_id"],
        body["ai_plugin"],
        body.get("openapi") or "",
        project_id=body.get("project_id"),
    )
    return ok({"plugin_id": str(plugin.id), "openapi": openapi})


def get_plugin_info(token_info, body):
    user = token_info["user"]
    plugin = plugins.load(user, body["plugin_id"])
    creator = plugins.creators([plugin])[plugin.creator_id]
    version = plugins.latest_version(plugin.id)
    return _done(
        meta_info=meta_info_view(plugin, plugins.oauth_info(plugin)),
        code_info={
            "plugin_desc": plugins.manifest_text(plugin),
            "openapi_desc": plugins.document(plugin),
            "client_id": "",
            "client_secret": "",
            "service_token": plugins.masked(plugin.auth_secret),
        },
        status=version is None or plugin.updated_at > version.created_at,  # changes since the last publish
        published=version is not None,
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
    creators = plugins.creators([p for p, _ in rows])
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


def update_plugin(token_info, body):
    plugin = plugins.update_code(
        token_info["user"], body["plugin_id"], body["ai_plugin"], body.get("openapi") or ""
    )
    return _done(data={"res": True, "edit_version": plugin.edit_version})


def _meta(body: dict) -> plugins.Meta:
    icon = body.get("icon")
    return plugins.Meta(
        name=body.get("name"),
        desc=body.get("desc"),
        url=body.get("url"),
        icon_uri=(icon or {}).get("uri") if icon is not None else None,
        auth_type=body.get("auth_type"),
        location=body.get("location"),
        key=body.get("key"),
        service_token=body.get("service_token"),
        common_params=body.get("common_params"),
        oauth_info=body.get("oauth_info"),
        sub_auth_type=body.get("sub_auth_type"),
    )


def register_plugin_meta(token_info, body):
    plugin = plugins.register_meta(
        token_info["user"], body["space_id"], _meta(body), project_id=body.get("project_id")
    )
    return _done(plugin_id=str(plugin.id))


def update_plugin_meta(token_info, body):
    plugin = plugins.update_meta(token_info["user"], body["plugin_id"], _meta(body))
    return _done(edit_version=plugin.edit_version)


def create_api(token_info, body):
    plugin, tool = plugins.create_tool(
        token_info["user"],
        body["plugin_id"],
        body["name"],
        body["desc"],
        path=body.get("path"),
        method=body.get("method"),
        request=body.get("request_params"),
        response=body.get("response_params"),
        disabled=bool(body.get("disabled")),
    )
    return _done(api_id=str(tool.id), edit_version=plugin.edit_version)


def update_api(token_info, body):
    changes = {
        k: body.get(k)
        for k in (
            "name",
            "desc",
            "path",
            "method",
            "request_params",
            "response_params",
            "disabled",
            "save_example",
            "debug_example",
        )
    }
    plugin = plugins.update_tool(token_info["user"], body["plugin_id"], body["api_id"], changes)
    return _done(edit_version=plugin.edit_version)


def delete_api(token_info, body):
    plugin = plugins.delete_tool(token_info["user"], body["plugin_id"], body["api_id"])
    return _done(edit_version=plugin.edit_version)


def _api_infos(rows) -> list[dict]:
    return [
        api_info_view(t, plugin_docs.request_params(t.operation), plugin_docs.response_params(t.operation))
        for t in rows
    ]


def batch_create_api(token_info, body):
    plugin, created, duplicated = plugins.batch_create(
        token_info["user"],
        body["plugin_id"],
        body["openapi"],
        replace_same_paths=bool(body.get("replace_same_paths")),
    )
    return _done(
        paths_created=_api_infos(created),
        paths_duplicated=_api_infos(duplicated),
        edit_version=plugin.edit_version,
    )


def check_and_lock_plugin_edit(token_info, body):
    user = token_info["user"]
    occupied, holder, seized = plugins.lock(user, body["plugin_id"])
    data = {"Occupied": occupied, "Seized": seized}
    if holder is not None:
        data["user"] = creator_view(holder, user.id)
    return _done(data=data)


def unlock_plugin_edit(token_info, body):
    return _done(released=plugins.unlock(token_info["user"], body["plugin_id"]))


def publish_plugin(token_info, body):
    version = plugins.publish(
        token_info["user"], body["plugin_id"], body.get("version_name") or "", body.get("version_desc") or ""
    )
    return _done(version_ts=str(version.id))


def get_plugin_next_version(token_info, body):
    plugin = plugins.load(token_info["user"], body["plugin_id"])
    return _done(next_version_name=plugins.next_version(plugin))


def get_playground_plugin_list(token_info, body):
    user = token_info["user"]
    criteria = plugins.PluginQuery(
        space_id=body["space_id"],
        name=body.get("name") or "",
        plugin_ids=tuple(body.get("plugin_ids") or ()),
        page=body.get("page", 1),
        size=body.get("size", 20),
    )
    rows, total = plugins.published_plugins(user, criteria)
    creators = plugins.creators([p for p, _ in rows])
    listed = []
    for plugin, version in rows:
        tools = [
            plugins.VersionTool.of(t) for t in version.snapshot.get("tools") or [] if not t.get("disabled")
        ]
        view = playground_view(plugin, tools, creator_view(creators[plugin.creator_id], user.id))
        listed.append(
            view | {"version_name": version.version_name, "version_ts": str(version.id), "status": 4}
        )
    return ok({"plugin_list": listed, "total": total})


def get_oauth_status(token_info, body):
    is_oauth, authorized, url = plugins.oauth_status(token_info["user"], body["plugin_id"])
    return _done(is_oauth=is_oauth, status=1 if authorized or not is_oauth else 2, content=url)


def revoke_auth_token(token_info, body):
    plugins.revoke_token(token_info["user"], body["plugin_id"])
    return _done()


def get_queried_oauth_plugins(token_info, body):
    found = plugins.oauth_plugins_of_agent(token_info["user"], body["bot_id"])
    listed = [
        {"plugin_id": str(p.id), "status": 1 if ok_ else 2, "name": p.name, "plugin_icon": url_of(p.icon_uri)}
        for p, ok_ in found
    ]
    return _done(oauth_plugin_list=listed)


def get_oauth_schema(token_info, body=None):
    return _done(oauth_schema=json.dumps(OAUTH_SCHEMA), ide_conf="")


async def oauth_callback(code, state):
    # the code's exchange waits on the network: a thread, not run_db (inline on SQLite)
    plugin, holder = await to_thread.run_sync(plugins.complete_authorization, code, state)
    for turn in await run_db(chat.resume_authorized, plugin.id, holder):
        chat_runs.LiveRun(turn)  # the runs that waited for this authorization go on
    return ConnexionResponse(
        status_code=302, headers={"Location": f"{get_settings().public_url}/information/auth/success"}
    )


def get_bot_default_params(token_info, body):
    request, response = agent_plugins.tool_params(
        token_info["user"],
        body["bot_id"],
        body["plugin_id"],
        body["api_name"],
        body.get("space_id"),
        body.get("api_id"),
    )
    return _done(request_params=request, response_params=response, response_style={"mode": 0})


def update_bot_default_params(token_info, body):
    agent_plugins.set_tool_params(
        token_info["user"],
        body["bot_id"],
        body["plugin_id"],
        body["api_name"],
        body.get("request_params") or [],
        body.get("response_params") or [],
        body.get("space_id"),
    )
    return _done()


def delete_bot_default_params(token_info, body):
    agent_plugins.drop_tool_params(
        token_info["user"],
        body["bot_id"],
        body.get("plugin_id"),
        body.get("api_name") or "",
        everything=bool(body.get("delete_bot")),
        space_id=body.get("space_id"),
        api_id=body.get("api_id"),
    )
    return _done()


def convert_to_openapi(token_info, body):
    if body.get("space_id") is not None:
        plugins.space_to_register_in(token_info["user"], body["space_id"])
    converted = plugin_import.convert(
        body["data"],
        body.get("plugin_name") or "",
        body.get("plugin_url") or "",
        body.get("plugin_description") or "",
        merge=bool(body.get("merge_same_paths")),
    )
    return _done(
        openapi=converted.openapi,
        ai_plugin=converted.ai_plugin,
        plugin_data_format=converted.data_format,
        duplicate_api_infos=converted.duplicates,
    )
