"""Plugins and their tools as Coze's console reads them (PluginMetaInfo, PluginAPIInfo, ...)."""

from __future__ import annotations

from core.links import url_of

METHODS = {"get": 1, "post": 2, "put": 3, "delete": 4, "patch": 5}
MASK = "******"


def meta_info_view(plugin, oauth_info: str = "") -> dict:
    """`oauth_info`: the OAuth payload as shown (its client secret masked)."""
    view = {
        "name": plugin.name,
        "desc": plugin.description,
        "url": plugin.server_url,
        "icon": {"uri": plugin.icon_uri, "url": url_of(plugin.icon_uri)},
        "auth_type": [plugin.auth_type],
        "common_params": plugin.common_params or {},
        "sub_auth_type": plugin.sub_auth_type,
    }
    if plugin.auth_type == 1:
        view |= {"location": plugin.auth_location, "key": plugin.auth_key, "service_token": MASK}
    if plugin.auth_type == 3:
        view["oauth_info"] = oauth_info
    return view


def api_info_view(tool, request_params: list, response_params: list) -> dict:
    return {
        "plugin_id": str(tool.plugin_id),
        "api_id": str(tool.id),
        "name": tool.name,
        "desc": tool.description,
        "path": tool.path,
        "method": METHODS.get(tool.method, 1),
        "request_params": request_params,
        "response_params": response_params,
        "create_time": str(tool.created_at),
        "debug_status": tool.debug_status,
        "disabled": tool.disabled,
        "online_status": 0,
        "debug_example": tool.debug_example or {},
    }


def playground_view(plugin, tools, creator: dict) -> dict:
    return {
        "id": str(plugin.id),
        "name": plugin.name,
        "desc_for_human": plugin.description,
        "plugin_icon": url_of(plugin.icon_uri),
        "plugin_type": plugin.plugin_type,
        "status": 0,
        "auth": plugin.auth_type,
        "plugin_apis": [
            {
                "name": t.name,
                "desc": t.description,
                "api_id": str(t.id),
                "plugin_id": str(plugin.id),
                "plugin_name": plugin.name,
                "parameters": [],
            }
            for t in tools
        ],
        "create_time": str(plugin.created_at),
        "update_time": str(plugin.updated_at),
        "creator": creator,
        "space_id": str(plugin.space_id),
        "project_id": str(plugin.project_id or 0),
    }
