"""The model registry: administrators add OpenAI-compatible models; agents pick one by id."""

from __future__ import annotations

from peewee import IntegrityError

from core import crypto, errors
from core.ids import parse_id
from models.db import db
from models.llm import (
    BUILTIN_MODEL_ID,
    KIND_CHAT,
    KIND_EMBEDDING,
    PROTOCOL_BUILTIN,
    PROTOCOL_LOCAL,
    PROTOCOL_OPENAI,
    LlmModel,
)
from services import local_models, webfetch

CAPABILITIES = ("tool_call", "vision", "reasoning", "json_mode")
PARAMS = ("temperature", "max_tokens", "top_p", "frequency_penalty", "presence_penalty")
_EDITABLE = ("name", "model_name", "base_url", "description", "context_length", "is_enabled")
_FIXED_FIELDS = {  # what stays as it is on models that are not endpoints
    PROTOCOL_BUILTIN: (
        "the built-in offline model",
        {"id", "is_enabled", "is_default", "name", "description"},
    ),
    PROTOCOL_LOCAL: ("a local model", {"id", "is_enabled", "name", "description", "protocol"}),
}


def _check_kind(kind: str, dimensions, is_default: bool = False) -> None:
    if is_default and kind != KIND_CHAT:
        raise errors.MODEL_KIND_MISMATCH("is_default: only a chat model can be the agents' default")
    if kind == KIND_EMBEDDING and not dimensions:
        raise errors.MODEL_KIND_MISMATCH("dimensions: an embedding model needs the length of its vectors")


def _local_fields(model_name: str, kind: str, base_url: str, api_key: str, dimensions) -> dict:
    """What a local model's registration implies; it must be one this server knows and has."""
    for field, value in (("base_url", base_url), ("api_key", api_key)):
        if value:
            raise errors.BAD_REQUEST(f"{field}: a local model runs inside the server and takes none")
    if kind != KIND_EMBEDDING:
        raise errors.MODEL_KIND_MISMATCH(f"kind: only embedding models run locally, not {kind} models")
    local = local_models.MODELS.get(model_name.strip())
    if local is None:
        raise errors.BAD_REQUEST(
            f"model_name: no local model is named {model_name!r}; there are {', '.join(local_models.MODELS)}"
        )
    if dimensions not in (None, local.dimensions):
        raise errors.MODEL_KIND_MISMATCH(f"dimensions: {local.name} makes {local.dimensions}-long vectors")
    if not local_models.installed(local.name):
        raise errors.MODEL_NOT_INSTALLED(
            f"model_name: {local.name} is not installed on this server ({local_models.INSTALL_HINT})"
        )
    return {"base_url": "", "dimensions": local.dimensions, "context_length": local.max_tokens}


def _check_endpoint(base_url: str) -> None:
    """Model endpoints go through the SSRF guard (again on every connection): private and
    metadata addresses only when the outbound allow-list admits them. A host that does not
    resolve yet is accepted; calls to it fail until it does."""
    try:
        webfetch.check(base_url, allow_private=False)
    except webfetch.FetchError as exc:
        if exc.forbidden:
            raise errors.BAD_REQUEST(f"base_url: {exc}")


def create(
    *,
    name: str,
    model_name: str,
    protocol: str | None = None,
    kind: str | None = None,
    base_url: str = "",
    api_key: str = "",
    dimensions: int | None = None,
    description: str = "",
    context_length: int = 8192,
    capabilities: dict | None = None,
    default_params: dict | None = None,
    is_enabled: bool = True,
    is_default: bool = False,
) -> LlmModel:
    api_key = api_key or ""
    kind = kind or KIND_CHAT
    protocol = protocol or PROTOCOL_OPENAI
    if protocol == PROTOCOL_LOCAL:
        implied = _local_fields(model_name, kind, base_url, api_key, dimensions)
        base_url, dimensions, context_length = (
            implied["base_url"],
            implied["dimensions"],
            implied["context_length"],
        )
    elif not base_url:
        raise errors.BAD_REQUEST("base_url: required for a model behind an OpenAI-compatible endpoint")
    else:
        _check_endpoint(base_url)
    _check_kind(kind, dimensions, bool(is_default))
    with db.atomic():
        model = LlmModel.create(
            name=name.strip(),
            model_name=model_name.strip(),
            protocol=protocol,
            base_url=base_url.rstrip("/"),
            description=description or "",
            context_length=context_length,
            capabilities=_capabilities(capabilities),
            default_params=default_params or {},
            api_key_encrypted=crypto.encrypt(api_key) if api_key else "",
            api_key_hint=crypto.hint(api_key) if api_key else "",
            is_enabled=is_enabled,
            kind=kind,
            dimensions=dimensions if kind == KIND_EMBEDDING else None,
        )
        if is_default:
            model.make_default()
    return model


def get(model_id) -> LlmModel:
    number = parse_id(model_id)
    model = LlmModel.by_id(number) if number is not None else None
    if model is None:
        raise errors.MODEL_NOT_FOUND(f"model {model_id} not found")
    return model


def update(model_id, **changed) -> LlmModel:
    """Change the fields given (keywords named as create's); the others stay."""
    unknown = set(changed) - set(FIELDS)
    if unknown:
        raise TypeError(f"unknown model fields: {', '.join(sorted(unknown))}")
    given = {"id": model_id, **changed}  # presence matters below: an api_key of "" removes the key
    model = get(model_id)
    if given.get("protocol", model.protocol) != model.protocol:
        raise errors.BAD_REQUEST(f"protocol: model {model.id} is {model.protocol}; add a new model instead")
    if model.protocol in _FIXED_FIELDS:
        label, accepted = _FIXED_FIELDS[model.protocol]
        if set(given) - accepted:
            raise errors.MODEL_BUILTIN_READONLY(
                f"{label} only accepts {', '.join(sorted(accepted - {'id', 'protocol'}))}; "
                f"not {', '.join(sorted(set(given) - accepted))}"
            )
    changes = {k: given[k] for k in _EDITABLE if k in given}
    kind = given.get("kind") or model.kind
    _check_kind(kind, given.get("dimensions", model.dimensions), bool(given.get("is_default")))
    if "kind" in given or "dimensions" in given:
        changes.update(
            kind=kind,
            dimensions=given.get("dimensions", model.dimensions) if kind == KIND_EMBEDDING else None,
        )
    if "base_url" in changes:
        changes["base_url"] = changes["base_url"].rstrip("/")
        _check_endpoint(changes["base_url"])
    if "capabilities" in given:
        changes["capabilities"] = _capabilities(given["capabilities"])
    if "default_params" in given:
        changes["default_params"] = given["default_params"]
    if "api_key" in given:
        key = given["api_key"] or ""
        changes["api_key_encrypted"] = crypto.encrypt(key) if key else ""
        changes["api_key_hint"] = crypto.hint(key) if key else ""
    with db.atomic():
        if changes:
            model.touch(**changes)
        if given.get("is_default"):
            model.make_default()
    return model


FIELDS = (
    "name",
    "model_name",
    "protocol",
    "kind",
    "base_url",
    "api_key",
    "dimensions",
    "description",
    "context_length",
    "capabilities",
    "default_params",
    "is_enabled",
    "is_default",
)


def delete(model_id) -> None:
    model = get(model_id)
    if model.id == BUILTIN_MODEL_ID:
        raise errors.MODEL_BUILTIN_READONLY("the built-in offline model cannot be deleted; disable it")
    try:
        model.delete_instance()
    except IntegrityError:
        raise errors.MODEL_IN_USE(f"model {model_id} is used by agents; disable it instead")


def usable(model_id, kind: str = KIND_CHAT) -> LlmModel:
    """The model an agent (or knowledge, for other kinds) may name: it must exist, be enabled
    and be of that kind."""
    model = get(model_id)
    if not model.is_enabled:
        raise errors.MODEL_DISABLED(f"model {model_id} ({model.name}) is disabled")
    if model.kind != kind:
        raise errors.MODEL_KIND_MISMATCH(
            f"model {model_id} ({model.name}) is a {model.kind} model, not a {kind} model"
        )
    return model


def api_key(model: LlmModel) -> str | None:
    return crypto.decrypt(model.api_key_encrypted) if model.api_key_encrypted else None


def _capabilities(given: dict | None) -> dict:
    given = given or {}
    return {name: bool(given.get(name, False)) for name in CAPABILITIES}
