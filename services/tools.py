"""The tools an agent's model may call during a chat run. Plugins and workflows register a
provider that turns an agent's configuration into tools; a call to a tool no provider offers is
handed back to the caller (the run requires action: /v3/chat/submit_tool_outputs)."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable


@dataclasses.dataclass
class ToolContext:
    user_id: int
    bot_id: int
    conversation_id: int
    chat_id: int
    end_user: str  # the Open API's user_id; empty in the console, where it is the user
    connector_id: int = 0
    draft: bool = True  # the playground's draft (not a published version)


class AuthorizationRequired(Exception):
    """A tool that can run only once the end user has authorized it (a plugin's OAuth): the run
    waits with the URL to authorize at, and resumes when the authorization arrives."""

    def __init__(self, url: str, plugin_id: int, plugin_name: str, holder: str):
        super().__init__(f"authorize {plugin_name} first: {url}")
        self.url, self.plugin_id, self.plugin_name, self.holder = url, plugin_id, plugin_name, holder

    def wire(self, tool_call_id: str) -> dict:
        return {
            "tool_call_id": tool_call_id,
            "plugin_id": str(self.plugin_id),
            "plugin_name": self.plugin_name,
            "authorization_url": self.url,
        }


@dataclasses.dataclass
class Tool:
    name: str
    description: str
    parameters: dict  # JSON Schema of the arguments object
    run: Callable[[dict, ToolContext], Awaitable[str]]

    def schema(self) -> dict:
        return {
            "type": "function",
            "function": {"name": self.name, "description": self.description, "parameters": self.parameters},
        }


ToolProvider = Callable[[dict], list[Tool]]  # an agent's config -> its tools
_providers: list[ToolProvider] = []


def register_provider(provider: ToolProvider) -> None:
    if provider not in _providers:
        _providers.append(provider)


def unregister_provider(provider: ToolProvider) -> None:
    if provider in _providers:
        _providers.remove(provider)


def tools_for(config: dict) -> dict[str, Tool]:
    return {tool.name: tool for provider in _providers for tool in provider(config)}
