"""An agent's shortcut commands."""

from __future__ import annotations


def shortcut_view(command) -> dict:
    return {
        "command_id": str(command.id),
        "object_id": str(command.bot_id),
        "command_name": command.command_name,
        "shortcut_command": command.shortcut_command,
        "send_type": 0,
        "description": "",
        "components_list": [],
        **command.config,
    }
