"""The server's administration: the model registry and the knowledge models."""

from __future__ import annotations


def model_admin_view(model) -> dict:
    return {
        "id": str(model.id),
        "name": model.name,
        "model_name": model.model_name,
        "protocol": model.protocol,
        "base_url": model.base_url,
        "api_key_set": bool(model.api_key_encrypted),
        "api_key_hint": model.api_key_hint,
        "description": model.description,
        "context_length": model.context_length,
        "capabilities": model.capabilities,
        "default_params": model.default_params,
        "kind": model.kind,
        "dimensions": model.dimensions,
        "is_enabled": model.is_enabled,
        "is_default": model.is_default,
        "create_time": model.created_at,
        "update_time": model.updated_at,
    }


def local_model_view(model, installed: bool, install_hint: str) -> dict:
    return {
        "model_name": model.name,
        "kind": "embedding",
        "dimensions": model.dimensions,
        "max_tokens": model.max_tokens,
        "languages": model.languages,
        "installed": installed,
        "install_hint": install_hint,
    }


def knowledge_config_view(config: dict, strategies: list[int]) -> dict:
    return {
        "embedding_model_id": config.get("embedding_model_id"),
        "rerank_model_id": config.get("rerank_model_id"),
        "caption_model_id": config.get("caption_model_id"),
        "available_strategies": strategies,
    }
