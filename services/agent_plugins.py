"""Agents call their plugins' tools in chat: each tool bound in the settings'
`plugin_info_list` ({plugin_id, api_id, api_name}) is offered to the model as a function with the
tool's parameters, and a call sends the tool's request (services/plugin_calls)."""

from __future__ import annotations

import copy
import dataclasses
import functools
import json

from anyio import to_thread

from core import authz, errors
from core.ids import parse_id
from models.agent import Bot
from models.identity import User
from models.plugin import Plugin, PluginTool, PluginVersion
from services import agents, plugin_calls, plugin_docs, plugin_oauth, plugins, refs, tools


def _entries(config: dict) -> list[dict]:
    return [
        e
        for e in config.get("plugin_info_list") or []
        if isinstance(e, dict) and parse_id(e.get("plugin_id"))
    ]


def _pinned_tools(plugins_by_id: dict[int, Plugin], pinned: dict) -> list[PluginTool]:
    """The tools of the plugin versions a published agent was published with, as rows (not
    saved) of a plugin whose server is the version's; auth stays the plugin's current one."""
    version_ids = [parse_id(v) for k, v in pinned.items() if parse_id(k) in plugins_by_id]
    rows = []
    for version in PluginVersion.select().where(PluginVersion.id.in_([v for v in version_ids if v])):
        current = plugins_by_id[version.plugin_id]
        snapshot = version.snapshot or {}
        plugin = Plugin(**{**current.__data__, "server_url": snapshot.get("server_url", current.server_url)})
        for entry in snapshot.get("tools") or []:
            if not entry.get("disabled"):
                fields = {k: entry[k] for k in ("id", "name", "description", "method", "path", "operation")}
                rows.append(PluginTool(plugin=plugin, **fields))
    return rows


def bound_tools(config: dict) -> list[tuple[Plugin, PluginTool]]:
    """The bound tools that exist and are enabled, in the settings' order: for a published agent,
    as they were in the plugin versions it was published with."""
    entries = _entries(config)
    if not entries:
        return []
    plugin_ids = {parse_id(e["plugin_id"]) for e in entries}
    pinned = config.get(agents.PLUGIN_VERSIONS_KEY) or {}
    live_ids = {p for p in plugin_ids if str(p) not in pinned}
    rows = (
        list(
            PluginTool.select(PluginTool, Plugin)
            .join(Plugin)
            .where(PluginTool.plugin.in_(live_ids), PluginTool.disabled == False)  # noqa: E712
        )
        if live_ids
        else []
    )
    if len(live_ids) < len(plugin_ids):
        existing = {p.id: p for p in Plugin.select().where(Plugin.id.in_(plugin_ids - live_ids))}
        rows += _pinned_tools(existing, pinned)
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
        settings = ToolDefaults.of(config, plugin.id, tool.name)

        async def run(
            arguments: dict, context: tools.ToolContext, plugin=plugin, tool=tool, settings=settings
        ) -> str:
            holder = plugin_oauth.holder_of(context.user_id, context.end_user, context.connector_id)
            # a thread even on SQLite (run_db runs inline there): the call waits on the network
            outcome = await to_thread.run_sync(
                functools.partial(plugin_calls.call, holder=holder, hide=settings.hidden_fields),
                plugin,
                tool.method,
                tool.path,
                tool.operation,
                settings.arguments(tool.operation, arguments),
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
                parameters=settings.schema(tool.operation),
                run=run,
            )
        )
    return offered


tools.register_provider(_tool_provider)


# --- an agent's own defaults for its tools' parameters (Coze's bot default params) --------------

DEFAULTS_KEY = "plugin_param_defaults"  # in the agent's config: published with it


@dataclasses.dataclass(frozen=True)
class ToolDefaults:
    """One bound tool's settings in one agent: request parameters' defaults (text) and which are
    hidden from the model, and the response fields the model does not read."""

    defaults: dict[str, str] = dataclasses.field(default_factory=dict)
    hidden: frozenset = frozenset()
    hidden_fields: frozenset = frozenset()

    @classmethod
    def of(cls, config: dict, plugin_id: int, api_name: str) -> ToolDefaults:
        stored = (config.get(DEFAULTS_KEY) or {}).get(f"{plugin_id}/{api_name}") or {}
        request = stored.get("request") or {}
        return cls(
            {name: s["default"] for name, s in request.items() if s.get("default") not in (None, "")},
            frozenset(name for name, s in request.items() if s.get("disable")),
            frozenset(name for name, s in (stored.get("response") or {}).items() if s.get("disable")),
        )

    def stored(self) -> dict:
        request = {
            name: {"default": self.defaults.get(name), "disable": name in self.hidden}
            for name in sorted(set(self.defaults) | self.hidden)
        }
        return {
            "request": request,
            "response": {name: {"disable": True} for name in sorted(self.hidden_fields)},
        }

    def schema(self, operation: dict) -> dict:
        """The arguments the model sees: hidden ones left out, the agent's defaults shown."""
        schema = plugin_docs.arguments_schema(operation)
        kinds = _kinds(operation)
        for name in self.hidden:
            schema["properties"].pop(name, None)
        schema["required"] = [n for n in schema["required"] if n not in self.hidden]
        for name, text in self.defaults.items():
            if name in schema["properties"] and name not in self.hidden:
                schema["properties"][name] = {
                    **schema["properties"][name],
                    "default": plugin_docs.typed_value(kinds.get(name, "string"), text),
                }
        return schema

    def arguments(self, operation: dict, given: dict) -> dict:
        kinds = _kinds(operation)
        filled = {k: v for k, v in given.items() if k not in self.hidden}
        for name, text in self.defaults.items():
            if name in self.hidden or filled.get(name) is None:
                filled[name] = plugin_docs.typed_value(kinds.get(name, "string"), text)
        return filled


def _kinds(operation: dict) -> dict[str, str]:
    return {
        name: s.get("type", "string")
        for name, s in plugin_docs.arguments_schema(operation)["properties"].items()
    }


def _agent_tool(
    user: User, bot_id, plugin_id, api_name: str, action: str, space_id=None, api_id=None
) -> tuple[Bot, PluginTool]:
    """The agent and the plugin's tool named by api_id (when given) or else api_name."""
    bot = agents.load(user, bot_id, action, space_id)
    plugin = plugins.load(user, plugin_id)
    if api_id not in (None, "", "0"):
        # the id names the tool for certain; a name sent beside it is the console's label
        return bot, refs.under(refs.PLUGIN_TOOL, api_id, PluginTool.plugin == plugin.id, field="api_id")
    tool = PluginTool.get_or_none((PluginTool.plugin == plugin.id) & (PluginTool.name == api_name))
    if tool is None:
        raise errors.PLUGIN_TOOL_NOT_FOUND(f"api_name: plugin {plugin.id} has no tool {api_name!r}")
    return bot, tool


def tool_params(
    user: User, bot_id, plugin_id, api_name: str, space_id=None, api_id=None
) -> tuple[list[dict], list[dict]]:
    """The tool's request and response parameters with this agent's local_default and
    local_disable."""
    bot, tool = _agent_tool(user, bot_id, plugin_id, api_name, authz.READ, space_id, api_id)
    settings = ToolDefaults.of(bot.config, tool.plugin_id, tool.name)
    request = plugin_docs.request_params(tool.operation)
    for parameter in request:
        parameter["local_default"] = settings.defaults.get(parameter["name"], "")
        parameter["local_disable"] = parameter["name"] in settings.hidden
    response = plugin_docs.response_params(tool.operation)
    for parameter in response:
        parameter["local_disable"] = parameter["name"] in settings.hidden_fields
    return request, response


def set_tool_params(
    user: User, bot_id, plugin_id, api_name: str, request: list[dict], response: list[dict], space_id=None
) -> Bot:
    bot, tool = _agent_tool(user, bot_id, plugin_id, api_name, authz.UPDATE, space_id)
    invalid = errors.PLUGIN_INVALID_PARAM
    known = {p["name"]: p for p in plugin_docs.request_params(tool.operation)}
    kinds = _kinds(tool.operation)
    defaults, hidden = {}, set()
    for index, given in enumerate(request):
        name, at = given.get("name"), f"request_params[{index}]"
        if name not in known:
            raise invalid(f"{at}.name: the tool {tool.name} has no parameter {name!r}")
        text = given.get("local_default")
        if text not in (None, ""):
            try:
                plugin_docs.typed_value(kinds.get(name, "string"), text)
            except ValueError:
                raise invalid(f"{at}.local_default: not a valid {kinds.get(name, 'string')}: {text[:100]!r}")
            defaults[name] = text
        if given.get("local_disable"):
            if known[name]["is_required"] and name not in defaults and not known[name]["global_default"]:
                raise invalid(f"{at}.local_disable: {name} is required, so hiding it needs a local_default")
            hidden.add(name)
    fields = {p["name"] for p in plugin_docs.response_params(tool.operation)}
    hidden_fields = set()
    for index, given in enumerate(response):
        if given.get("name") not in fields:
            raise invalid(
                f"response_params[{index}].name: the tool {tool.name} has no field {given.get('name')!r}"
            )
        if given.get("local_disable"):
            hidden_fields.add(given["name"])
    settings = ToolDefaults(defaults, frozenset(hidden), frozenset(hidden_fields))
    return _store(bot, {f"{tool.plugin_id}/{tool.name}": settings.stored()})


def drop_tool_params(
    user: User,
    bot_id,
    plugin_id=None,
    api_name: str = "",
    everything: bool = False,
    space_id=None,
    api_id=None,
) -> Bot:
    if everything:
        bot = agents.load(user, bot_id, authz.UPDATE, space_id)
        return _store(bot, None)
    if plugin_id is None or not (api_name or api_id):
        raise errors.PLUGIN_INVALID_PARAM("plugin_id and api_name: required unless delete_bot is true")
    bot, tool = _agent_tool(user, bot_id, plugin_id, api_name, authz.UPDATE, space_id, api_id)
    return _store(bot, {f"{tool.plugin_id}/{tool.name}": None})


def _store(bot: Bot, changes: dict | None) -> Bot:
    """Merge `changes` (None values drop an entry; None drops them all) into the draft."""
    config = copy.deepcopy(bot.config)
    current = config.get(DEFAULTS_KEY) or {}
    if changes is None:
        current = {}
    for key, value in (changes or {}).items():
        if value is None:
            current.pop(key, None)
        else:
            current[key] = value
    config[DEFAULTS_KEY] = current
    if config != bot.config:
        bot.touch(config=config, draft_version=bot.draft_version + 1)
    return bot
