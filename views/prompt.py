"""The prompt library's prompts."""

from __future__ import annotations


def prompt_view(prompt) -> dict:
    return {
        "id": str(prompt.id),
        "space_id": str(prompt.space_id),
        "name": prompt.name,
        "description": prompt.description,
        "prompt_text": prompt.prompt_text,
        "creator_id": str(prompt.creator_id),
        "create_time": prompt.created_at,
        "update_time": prompt.updated_at,
    }
