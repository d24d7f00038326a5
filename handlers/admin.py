"""Health and (later) server administration."""

from __future__ import annotations

import hmac
from importlib.metadata import PackageNotFoundError, version

from connexion import request
from connexion.lifecycle import ConnexionResponse

from core import errors
from core.authz import require
from core.envelope import ok
from core.http import given
from core.metrics import exposition
from core.settings import get_settings
from models.db import db
from models.llm import LlmModel
from services import embeddings, ingestion, local_models, model_registry, retrieval, tasks
from views.admin import knowledge_config_view, local_model_view, model_admin_view

try:
    VERSION = version("cozeplus")
except PackageNotFoundError:  # running from a checkout that was not installed
    VERSION = "0.0.0+checkout"


def root():
    return ok(
        {
            "name": "Coze Plus API",
            "docs": "/ui/",
            "spec": "/openapi.json",
            "health": "/healthz",
            "version": VERSION,
        }
    )


def metrics(token_info=None):
    expected = get_settings().metrics_token
    if expected:
        given_token = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(given_token.encode(), expected.encode()):
            raise errors.UNAUTHENTICATED(
                "/metrics needs the metrics token (COZEPLUS_METRICS_TOKEN) as a bearer token"
            )
    body, content_type = exposition(tasks.pending())
    return ConnexionResponse(status_code=200, body=body, content_type=content_type, mimetype="text/plain")


def healthz():
    try:
        db.execute_sql("SELECT 1")
    except Exception:
        raise errors.UNAVAILABLE("the database does not answer")
    engine = "sqlite" if "sqlite" in type(db.obj).__name__.lower() else "postgresql"
    return ok({"status": "ok", "database": engine, "version": VERSION})


# --- the model registry (super admins) -------------------------------------------------------


def create_model(token_info, body):
    require(token_info["user"], "model:manage")
    return ok({"model": model_admin_view(model_registry.create(**given(body, *model_registry.FIELDS)))})


def update_model(token_info, body):
    require(token_info["user"], "model:manage")
    return ok(
        {"model": model_admin_view(model_registry.update(body["id"], **given(body, *model_registry.FIELDS)))}
    )


def list_models(token_info, body=None):
    require(token_info["user"], "model:read")
    models = LlmModel.listed(include_disabled=(body or {}).get("include_disabled", True))
    return ok({"models": [model_admin_view(m) for m in models]})


def list_local_models(token_info):
    require(token_info["user"], "model:read")
    hint = local_models.INSTALL_HINT
    return ok(
        {
            "models": [
                local_model_view(m, local_models.installed(m.name), hint)
                for m in local_models.MODELS.values()
            ]
        }
    )


def delete_model(token_info, body):
    require(token_info["user"], "model:manage")
    model_registry.delete(body["id"])
    return ok()


# --- knowledge models (super admins) ----------------------------------------------------------


def get_knowledge_config(token_info):
    require(token_info["user"], "model:read")
    return ok(knowledge_config_view(embeddings.config(), retrieval.available_strategies()))


def save_knowledge_config(token_info, body):
    require(token_info["user"], "model:manage")
    before = embeddings.config().get("embedding_model_id")
    choices = ("embedding_model_id", "rerank_model_id", "caption_model_id")
    config = embeddings.save_config(**{key: body[key] for key in choices if key in body})
    if config.get("embedding_model_id") and config["embedding_model_id"] != before:
        ingestion.embed_missing_task()
    return ok(knowledge_config_view(config, retrieval.available_strategies()))
