"""Agents (draft bots) and the models they can use."""
from __future__ import annotations

from core import errors
from core.envelope import ok
from handlers.views import model_choice_view
from models.llm import LlmModel
from services import model_registry


def get_type_list(token_info, body=None):
    body = body or {}
    models = list(LlmModel.listed(include_disabled=False))
    current = body.get("cur_model_id")
    if current and all(str(m.id) != str(current) for m in models):
        try:  # keep an agent's current (now disabled) model visible, marked as such
            models.append(model_registry.get(current))
        except errors.ApiError:
            pass  # an unknown current model is simply not listed
    return ok({"model_list": [model_choice_view(m) for m in models]})
