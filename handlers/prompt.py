"""The prompt library (Coze's /api/playground_api/*prompt_resource* routes)."""

from __future__ import annotations

from core import authz
from core.envelope import ok
from services import library
from views.prompt import prompt_view


def upsert_prompt_resource(token_info, body):
    return ok({"id": str(library.upsert_prompt(token_info["user"], body["prompt"]).id)})


def get_prompt_resource_info(token_info, prompt_resource_id):
    return ok({"prompt_resource": prompt_view(library.get_prompt(token_info["user"], prompt_resource_id))})


def delete_prompt_resource(token_info, body):
    library.get_prompt(token_info["user"], body["prompt_resource_id"], authz.DELETE).delete_instance()
    return ok()


def get_official_prompt_list(token_info, body=None):
    return ok({"prompts": library.official_prompts((body or {}).get("keyword"))})
