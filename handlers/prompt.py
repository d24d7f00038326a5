"""The prompt library (Coze's /api/playground_api/*prompt_resource* routes)."""

from __future__ import annotations

from core import authz
from core.envelope import ok
from services import library


def _view(prompt) -> dict:
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


def upsert_prompt_resource(token_info, body):
    return ok({"id": str(library.upsert_prompt(token_info["user"], body["prompt"]).id)})


def get_prompt_resource_info(token_info, prompt_resource_id):
    return ok({"prompt_resource": _view(library.get_prompt(token_info["user"], prompt_resource_id))})


def delete_prompt_resource(token_info, body):
    library.get_prompt(token_info["user"], body["prompt_resource_id"], authz.WRITE).delete_instance()
    return ok()


def get_official_prompt_list(token_info, body=None):
    return ok({"prompts": library.official_prompts((body or {}).get("keyword"))})
