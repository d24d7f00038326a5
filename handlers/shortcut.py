"""Shortcut commands of an agent: create or update, list, delete."""

from __future__ import annotations

from core.envelope import ok
from services import agents, library
from views.shortcut import shortcut_view


def create_update_shortcut_command(token_info, body):
    command = library.save_shortcut(
        token_info["user"], body["object_id"], body.get("space_id"), body["shortcuts"]
    )
    return ok({"shortcuts": shortcut_view(command)})


def list_shortcut_commands(token_info, body):
    bot = agents.load(token_info["user"], body["object_id"], space_id=body.get("space_id"))
    return ok({"shortcuts": [shortcut_view(c) for c in agents.shortcuts_of(bot)]})


def delete_shortcut_command(token_info, body):
    library.delete_shortcut(token_info["user"], body["object_id"], body.get("space_id"), body["command_id"])
    return ok()
