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


# --- the OpenAI Chat Completions facade ---------------------------------------------------------


def openai_usage(usage: dict) -> dict:
    """A chat's usage (Coze's counts) as OpenAI reports it."""
    prompt, completion = usage.get("input_count", 0), usage.get("output_count", 0)
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def completion_view(run, content: str) -> dict:
    return {
        "id": f"chatcmpl-{run.id}",
        "object": "chat.completion",
        "created": run.created_at,
        "model": str(run.bot_id),
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}
        ],
        "usage": openai_usage(run.usage or {}),
    }


def completion_chunk(
    run, delta: dict | None, finish_reason: str | None = None, usage: dict | None = None
) -> dict:
    chunk = {
        "id": f"chatcmpl-{run.id}",
        "object": "chat.completion.chunk",
        "created": run.created_at,
        "model": str(run.bot_id),
        "choices": [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
    }
    if usage is not None:
        chunk["usage"] = openai_usage(usage)
    return chunk


def agent_model_view(bot) -> dict:
    return {
        "id": str(bot.id),
        "object": "model",
        "created": bot.created_at,
        "owned_by": f"space:{bot.space_id}",
        "name": bot.name,
    }
