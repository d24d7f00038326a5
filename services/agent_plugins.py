"""Agents call their plugins' tools in chat: each tool bound in the settings'
`plugin_info_list` ({plugin_id, api_id, api_name}) is offered to the model as a function with the
tool's parameters, and a call sends the tool's request (services/plugin_calls)."""

from __future__ import annotations

import functools
import json

from anyio import to_thread

from core.ids import parse_id
from models.plugin import Plugin, PluginTool
from services import plugin_calls, plugin_docs, plugin_oauth, tools


def _entries(config: dict) -> list[dict]:
    return [
        e
        for e in config.get("plugin_info_list") or []
        if isinstance(e, dict) and parse_id(e.get("plugin_id"))
    ]


def bound_tools(config: dict) -> list[tuple[Plugin, PluginTool]]:
    """The bound tools that exist and are enabled, in the settings' order."""
    entries = _entries(config)
    if not entries:
        return []
    plugin_ids = {parse_id(e["plugin_id"]) for e in entries}
    rows = list(
        PluginTool.select(PluginTool, Plugin)
        .join(Plugin)
        .where(PluginTool.plugin.in_(plugin_ids), PluginTool.disabled == False)  # noqa: E712
    )
    by_id = {t.id: t for t in rows}
    by_name = {(t.plugin_id, t.name): t for t in rows}
    found, seen = [], set()
    for entry in entries:
        plugin_id = parse_id(entry["plugin_id"])
        tool = by_id.get(parse_id(entry.get("api_id")) or -1) or by_name.get(
            (plugin_id, entry.get("api_name"))
        )
        if tool is None or tool.plugin_id != plugin_id or tool.id in seen:
            continue
        seen.add(tool.id)
        found.append((tool.plugin, tool))
    return found


def _function_name(plugin: Plugin, tool: PluginTool, taken: set[str]) -> str:
    name = tool.name
    if name in taken:  # two plugins with a tool of the same name: the second says whose
        name = f"{(plugin.manifest or {}).get('name_for_model', 'plugin')}_{tool.name}"[:64]
    taken.add(name)
    return name


def _tool_provider(config: dict) -> list[tools.Tool]:
    offered, taken = [], set()
    for plugin, tool in bound_tools(config):

        async def run(arguments: dict, context: tools.ToolContext, plugin=plugin, tool=tool) -> str:
            holder = plugin_oauth.holder_of(context.user_id, context.end_user, context.connector_id)
            # a thread even on SQLite (run_db runs inline there): the call waits on the network
            outcome = await to_thread.run_sync(
                functools.partial(plugin_calls.call, holder=holder),
                plugin,
                tool.method,
                tool.path,
                tool.operation,
                arguments,
            )
            if outcome.success:
                return outcome.output
            if outcome.authorize_url:
                raise tools.AuthorizationRequired(outcome.authorize_url, plugin.id, plugin.name, holder)
            return json.dumps({"error": outcome.reason, "status": outcome.status}, ensure_ascii=False)

        manifest = plugin.manifest or {}
        about = tool.description or manifest.get("description_for_model") or plugin.description
        offered.append(
            tools.Tool(
                name=_function_name(plugin, tool, taken),
                description=f"{about} (plugin {plugin.name})"[:1000],
                parameters=plugin_docs.arguments_schema(tool.operation),
                run=run,
            )
        )
    return offered


tools.register_provider(_tool_provider)
