"""Embedding and rerank models for knowledge: which ones the administrator chose, and calling
them through the OpenAI-compatible embeddings API and the common rerank API (Jina, Cohere,
vLLM, Xinference: `POST {base}/rerank` with query and documents, answering scores by index)."""
from __future__ import annotations

import httpx
import numpy as np

from core import errors
from core.settings import get_settings
from models.llm import KIND_EMBEDDING, KIND_RERANK, LlmModel
from models.server_config import ServerConfig
from services import model_registry

CONFIG_KEY = "knowledge"
BATCH = 64
_client: httpx.Client | None = None  # pooled keep-alive connections (thread-safe)


class EmbeddingError(Exception):
    pass


def config() -> dict:
    return ServerConfig.read(CONFIG_KEY)


def save_config(body: dict) -> dict:
    """Choose the embedding and rerank models (ids, or null for none); they must be enabled
    models of those kinds."""
    current = config()
    for field, kind in (("embedding_model_id", KIND_EMBEDDING), ("rerank_model_id", KIND_RERANK)):
        if field in body:
            value = body[field]
            current[field] = str(model_registry.usable(value, kind).id) if value not in (None, "", "0") else None
    ServerConfig.write(CONFIG_KEY, current)
    return current


def _configured(field: str, kind: str) -> LlmModel | None:
    model_id = config().get(field)
    if not model_id:
        return None
    model = LlmModel.get_or_none(LlmModel.id == int(model_id))
    return model if model is not None and model.is_enabled and model.kind == kind else None


def embedding_model() -> LlmModel | None:
    return _configured("embedding_model_id", KIND_EMBEDDING)


def rerank_model() -> LlmModel | None:
    return _configured("rerank_model_id", KIND_RERANK)


def _post(model: LlmModel, path: str, payload: dict) -> dict:
    headers = {"Content-Type": "application/json", "User-Agent": "cozeplus"}
    key = model_registry.api_key(model)
    if key:
        headers["Authorization"] = f"Bearer {key}"
    global _client
    if _client is None:
        _client = httpx.Client(trust_env=False)
    try:
        response = _client.post(f"{model.base_url}{path}", json=payload, headers=headers,
                                timeout=get_settings().model_timeout_seconds)
    except httpx.HTTPError as exc:
        raise EmbeddingError(f"{model.name} could not be reached ({type(exc).__name__})")
    if response.status_code != 200:
        raise EmbeddingError(f"{model.name} answered HTTP {response.status_code}: {response.text[:200]}")
    try:
        return response.json()
    except ValueError:
        raise EmbeddingError(f"{model.name} did not answer JSON")


def embed(model: LlmModel, texts: list[str]) -> np.ndarray:
    """Unit-length float32 vectors, one row per text, in batches."""
    rows: list[np.ndarray] = []
    for start in range(0, len(texts), BATCH):
        batch = texts[start:start + BATCH]
        body = _post(model, "/embeddings", {"model": model.model_name, "input": batch})
        try:
            items = sorted(body["data"], key=lambda item: item.get("index", 0))
            vectors = np.asarray([item["embedding"] for item in items], dtype=np.float32)
        except (KeyError, TypeError, ValueError):
            raise EmbeddingError(f"{model.name} answered embeddings in an unknown shape")
        if vectors.shape != (len(batch), model.dimensions):
            raise EmbeddingError(f"{model.name} answered {vectors.shape[-1] if vectors.ndim == 2 else '?'}-long "
                                 f"vectors for {len(batch)} texts; it is registered with {model.dimensions}")
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        rows.append(vectors / np.where(norms == 0, 1, norms))
    return np.concatenate(rows) if rows else np.zeros((0, model.dimensions or 1), np.float32)


def rerank(model: LlmModel, query: str, documents: list[str]) -> list[float]:
    """A relevance score per document (in the given order)."""
    body = _post(model, "/rerank", {"model": model.model_name, "query": query, "documents": documents,
                                    "top_n": len(documents)})
    scores = [0.0] * len(documents)
    try:
        for item in body["results"]:
            scores[int(item["index"])] = float(item.get("relevance_score", item.get("score")))
    except (KeyError, TypeError, ValueError, IndexError):
        raise EmbeddingError(f"{model.name} answered rerank results in an unknown shape")
    return scores


def require_embedding_model() -> LlmModel:
    model = embedding_model()
    if model is None:
        raise errors.RETRIEVAL_UNAVAILABLE("no embedding model is configured")
    return model
