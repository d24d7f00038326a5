"""A chat (one run of an agent over a conversation) as the Open API reports it."""

from __future__ import annotations


def chat_view(run) -> dict:
    view = {
        "id": str(run.id),
        "conversation_id": str(run.conversation_id),
        "bot_id": str(run.bot_id),
        "section_id": str(run.section_id),
        "status": run.status,
        "created_at": run.created_at,
        "usage": {"token_count": 0, "output_count": 0, "input_count": 0, **(run.usage or {})},
        "last_error": {"code": 0, "msg": "", **(run.last_error or {})},
        "meta_data": run.meta_data or {},
    }
    if run.completed_at:
        view["completed_at"] = run.completed_at
    if run.failed_at:
        view["failed_at"] = run.failed_at
    if run.required_action:
        view["required_action"] = run.required_action
    return view
