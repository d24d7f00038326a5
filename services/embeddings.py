"""The models knowledge uses besides agents' own: which ones the administrator chose, and
calling them: embeddings through the OpenAI-compatible embeddings API, reranking through the
common rerank API (Jina, Cohere, vLLM, Xinference: `POST {base}/rerank` with query and
documents, answering scores by index), image captions through a vision chat model."""

from __future__ import annotations

import asyncio
import base64
import time

import httpx
import numpy as np

from core import errors
from core.settings import get_settings
from models.llm import KIND_CHAT, KIND_EMBEDDING, KIND_RERANK, PROTOCOL_LOCAL, LlmModel
from models.server_config import ServerConfig
from services import local_models, model_registry, webfetch

CONFIG_KEY = "knowledge"
BATCH = 64
_client: httpx.Client | None = None  # pooled keep-alive connections (thread-safe)


class EmbeddingError(Exception):
    pass


_cached: tuple[float, dict, dict] | None = None  # (when, config, models by field) of this process
CACHE_SECONDS = 5.0  # another worker's change is seen this late at most


def config() -> dict:
    return ServerConfig.read(CONFIG_KEY)


_UNCHANGED = object()


def save_config(
    *, embedding_model_id=_UNCHANGED, rerank_model_id=_UNCHANGED, caption_model_id=_UNCHANGED
) -> dict:
    """Choose the embedding, rerank and caption models (ids, or None/"" for none; a choice not
    given stays); they must be enabled models of those kinds."""
    current = config()
    for field, kind, value in (
        ("embedding_model_id", KIND_EMBEDDING, embedding_model_id),
        ("rerank_model_id", KIND_RERANK, rerank_model_id),
        ("caption_model_id", KIND_CHAT, caption_model_id),
    ):
        if value is not _UNCHANGED:
            current[field] = (
                str(model_registry.usable(value, kind).id) if value not in (None, "", "0") else None
            )
    caption = current.get("caption_model_id")
    if caption and not (LlmModel.get_by_id(int(caption)).capabilities or {}).get("vision"):
        raise errors.MODEL_KIND_MISMATCH(
            f"caption_model_id: model {caption} cannot see images (capabilities.vision)"
        )
    ServerConfig.write(CONFIG_KEY, current)
    global _cached
    _cached = None
    return current


def _configured(field: str, kind: str) -> LlmModel | None:
    """The chosen model of a field, if it is still enabled and of its kind; read at most every
    few seconds, since every search asks."""
    global _cached
    if _cached is None or time.monotonic() - _cached[0] > CACHE_SECONDS:
        _cached = (time.monotonic(), config(), {})
    _, current, models = _cached
    if field not in models:
        model_id = current.get(field)
        model = LlmModel.get_or_none(LlmModel.id == int(model_id)) if model_id else None
        models[field] = model if model is not None and model.is_enabled and model.kind == kind else None
    return models[field]


def embedding_model() -> LlmModel | None:
    return _configured("embedding_model_id", KIND_EMBEDDING)


def rerank_model() -> LlmModel | None:
    return _configured("rerank_model_id", KIND_RERANK)


def caption_model() -> LlmModel | None:
    return _configured("caption_model_id", KIND_CHAT)


CAPTION_PROMPT = (
    "Describe this image in one or two sentences for a search index: what it shows, "
    "and any text in it. Answer with the description only."
)


def caption_image(model: LlmModel, content: bytes, media_type: str) -> str:
    """A caption by a vision chat model (called from task threads: runs its own event loop)."""
    from services import llm, llm_openai

    url = f"data:{media_type};base64,{base64.b64encode(content).decode()}"
    request = llm.ChatRequest(
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": CAPTION_PROMPT},
                    {"type": "image_url", "image_url": {"url": url}},
                ],
            }
        ],
        params={"temperature": 0, "max_tokens": 200},
    )

    async def ask() -> str:
        try:
            text, _ = await llm.complete(model, request)
            return text.strip()
        finally:
            llm_openai.close_connections()

    try:
        return asyncio.run(ask())
    except llm.ProviderError as exc:
        raise EmbeddingError(f"{model.name} could not caption the image: {exc.msg}")


def _post(model: LlmModel, path: str, payload: dict) -> dict:
    headers = {"Content-Type": "application/json", "User-Agent": "cozeplus"}
    key = model_registry.api_key(model)
    if key:
        headers["Authorization"] = f"Bearer {key}"
    global _client
    if _client is None:
        _client = httpx.Client(trust_env=False)
    url = f"{model.base_url}{path}"
    try:  # through the SSRF guard, to the address it vetted
        scheme, host, port, address = webfetch.check(url, allow_private=False)
    except webfetch.FetchError as exc:
        raise EmbeddingError(f"{model.name} may not be reached: {exc}")
    headers["Host"] = host if port == (443 if scheme == "https" else 80) else f"{host}:{port}"
    try:
        response = _client.post(
            webfetch.pinned(url, address),
            json=payload,
            headers=headers,
            extensions={"sni_hostname": host},
            timeout=get_settings().model_timeout_seconds,
        )
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
    if model.protocol == PROTOCOL_LOCAL:
        try:
            return local_models.embed(model.model_name, texts)
        except local_models.LocalModelUnavailable as exc:
            raise EmbeddingError(str(exc))
    rows: list[np.ndarray] = []
    for start in range(0, len(texts), BATCH):
        batch = texts[start : start + BATCH]
        body = _post(model, "/embeddings", {"model": model.model_name, "input": batch})
        try:
            items = sorted(body["data"], key=lambda item: item.get("index", 0))
            vectors = np.asarray([item["embedding"] for item in items], dtype=np.float32)
        except (KeyError, TypeError, ValueError):
            raise EmbeddingError(f"{model.name} answered embeddings in an unknown shape")
        if vectors.shape != (len(batch), model.dimensions):
            raise EmbeddingError(
                f"{model.name} answered {vectors.shape[-1] if vectors.ndim == 2 else '?'}-long "
                f"vectors for {len(batch)} texts; it is registered with {model.dimensions}"
            )
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        rows.append(vectors / np.where(norms == 0, 1, norms))
    return np.concatenate(rows) if rows else np.zeros((0, model.dimensions or 1), np.float32)


def rerank(model: LlmModel, query: str, documents: list[str]) -> list[float]:
    """A relevance score per document (in the given order)."""
    body = _post(
        model,
        "/rerank",
        {"model": model.model_name, "query": query, "documents": documents, "top_n": len(documents)},
    )
    scores = [0.0] * len(documents)
    try:
        for item in body["results"]:
            scores[int(item["index"])] = float(item.get("relevance_score", item.get("score")))
    except (KeyError, TypeError, ValueError, IndexError):
        raise EmbeddingError(f"{model.name} answered rerank results in an unknown shape")
    return scores
