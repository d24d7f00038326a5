"""Request validation tweaks: messages that name the field and the rule in plain words (never the
validator's regex, nor a long echo of the value), and JSON bodies read through core.jsonsafe
(bounded nesting, no lone surrogates)."""

from __future__ import annotations

import copy
import functools

from connexion.datastructures import MediaTypeDict
from connexion.exceptions import BadRequestProblem
from connexion.json_schema import Draft4RequestValidator, resolve_refs
from connexion.utils import is_null, is_nullable
from connexion.validators import VALIDATOR_MAP as CONNEXION_VALIDATORS
from connexion.validators import JSONRequestBodyValidator, ParameterValidator
from jsonschema import Draft4Validator
from jsonschema.exceptions import ValidationError

from core import jsonsafe, spec

# What the spec's patterns mean, in words.
PATTERN_WORDS = {
    r"[^\s\x00-\x1f\x7f-\x9f]": "must not be empty or only spaces and control characters",
    r"^(file:[0-9]{1,19}|https?://[^\x00-\x20]+)?$": "must be file:<id> of an upload or an http(s) URL",
    r"^[0-9]*$": "must be digits",
    r"^[0-9]{1,19}$": "must be a digit string id",
    r"^[0-9]{0,19}$": "must be a digit string id",
    r"^[0-9]{1,6}$": "must be a number of at most 6 digits",
    r"^[0-9]{1,3}$": "must be a number of at most 3 digits",
    r"^[^@ \t\r\n]+@[^@ \t\r\n]+\.[^@ \t\r\n]+$": "must be an e-mail address",
    r"^([1-9][0-9]{0,4}|permanent|customize)$": 'must be a number of days, "permanent" or "customize"',
    r"^/[^\s\x00-\x1f\x7f-\x9f/]{1,99}$": "must be / and a word of up to 99 characters, such as /summary",
    r"^\.?[A-Za-z0-9]{1,10}$": "must be a file extension, such as png",
    r"^[A-Za-z0-9]{1,10}$": "must be a file extension, such as png",
    r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})*$": "must be a language tag, such as en or zh-CN",
    r"^[A-Za-z0-9_.-]{2,50}$": "must be 2 to 50 letters, digits, '_', '.' or '-'",
    r"^pat_[0-9a-f]{64}$": "must be a personal access token (pat_ and 64 hex digits)",
}
_JSON_TYPES = {
    dict: "an object",
    list: "an array",
    str: "a string",
    bool: "a boolean",
    int: "a number",
    float: "a number",
    type(None): "null",
}
_TYPE_WORDS = {
    "object": "an object",
    "array": "an array",
    "string": "a string",
    "boolean": "a boolean",
    "integer": "an integer",
    "number": "a number",
    "null": "null",
}


def _where(error: ValidationError, root: str) -> str:
    path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
    return (root + path) if root else path.lstrip(".") or "the value"


def _expected(schema: dict) -> str:
    """What a schema accepts, in a few words (for oneOf/anyOf failures)."""
    choices = schema.get("oneOf") or schema.get("anyOf") or []
    if schema.get("description") and not any("required" in choice for choice in choices):
        words = schema["description"].split(":")[0].rstrip(".")  # its first clause
        return words[:1].lower() + words[1:]
    if choices:
        return " or ".join(_expected(choice) for choice in choices)
    if schema.get("enum") == [None]:
        return "null"
    if "required" in schema:
        return f"an object with {' and '.join(schema['required'])}"
    if schema.get("pattern") in PATTERN_WORDS:
        words = PATTERN_WORDS[schema["pattern"]]
        return words.removeprefix("must be ") if words.startswith("must be ") else f"a string that {words}"
    return _TYPE_WORDS.get(schema.get("type"), "a value of another form")


def plain_message(error: ValidationError, root: str = "body") -> str:
    """The field and the rule it breaks, in plain words."""
    try:
        return _plain(error, root)
    except Exception:  # an unforeseen schema shape: the validator's own words, never a crash
        return f"{_where(error, root)}: {error.message[:200]}"


def _plain(error: ValidationError, root: str) -> str:
    where, rule, value = _where(error, root), error.validator, error.instance
    limit = error.validator_value
    if rule == "maxLength":
        return f"{where} is too long: {len(value)} characters, at most {limit}"
    if rule == "minLength":
        return (
            f"{where} must not be empty"
            if limit == 1
            else f"{where} is too short: at least {limit} characters"
        )
    if rule == "pattern":
        return f"{where} {PATTERN_WORDS.get(limit, f'does not have the expected form ({limit})')}"
    if rule in ("oneOf", "anyOf"):
        return f"{where} must be {_expected(error.schema)}"
    if rule == "type":
        expected = " or ".join(_TYPE_WORDS.get(t, t) for t in ([limit] if isinstance(limit, str) else limit))
        return f"{where} must be {expected}, not {_JSON_TYPES.get(type(value), 'this')}"
    if rule == "enum":
        return f"{where} must be one of {', '.join(map(repr, limit))}"
    if rule == "required":
        missing = error.message.split("'")[1] if "'" in error.message else "a field"
        return f"{where}.{missing} is required" if where != "the value" else f"{missing} is required"
    if rule == "additionalProperties":
        extra = (
            sorted(set(value) - set(error.schema.get("properties", {}))) if isinstance(value, dict) else []
        )
        return f"{where} has unknown fields: {', '.join(extra)}" if extra else f"{where} has unknown fields"
    if rule in ("maximum", "minimum"):
        return f"{where} must be at {'most' if rule == 'maximum' else 'least'} {limit}"
    if rule in ("maxItems", "minItems"):
        return f"{where} must have at {'most' if rule == 'maxItems' else 'least'} {limit} items"
    if rule in ("maxProperties", "minProperties"):
        return f"{where} must have at {'most' if rule == 'maxProperties' else 'least'} {limit} entries"
    return f"{where}: {error.message[:200]}"


@functools.cache
def _body_validator(operation_id: str) -> Draft4RequestValidator:
    document = resolve_refs(spec.load())
    for path_item in document["paths"].values():
        for operation in path_item.values():
            if isinstance(operation, dict) and operation.get("operationId") == operation_id:
                schema = operation["requestBody"]["content"]["application/json"]["schema"]
                return Draft4RequestValidator(schema, format_checker=Draft4Validator.FORMAT_CHECKER)
    raise KeyError(operation_id)


def body_problem(operation_id: str, value, root: str = "body") -> str | None:
    """What is wrong with `value` as the JSON body of the spec's operation, in the words HTTP
    requests get; None when it is valid. For bodies that arrive another way (WebSocket messages)."""
    error = next(iter(_body_validator(operation_id).iter_errors(value)), None)
    return None if error is None else plain_message(error, root)


class NamedParameterValidator(ParameterValidator):
    """Connexion's messages ("0 is less than the minimum of 1") do not say which parameter."""

    @staticmethod
    def validate_parameter(parameter_type, value, param, param_name=None):
        if is_nullable(param) and is_null(value):
            return None
        if value is None:
            if param.get("required"):
                return f"missing {parameter_type} parameter '{param['name']}'"
            return None
        schema = copy.deepcopy(param.get("schema", param))
        try:
            Draft4Validator(schema, format_checker=Draft4Validator.FORMAT_CHECKER).validate(value)
        except ValidationError as exc:
            return plain_message(exc, f"{parameter_type} parameter '{param['name']}'")
        return None


class SafeJSONRequestBodyValidator(JSONRequestBodyValidator):
    """Connexion's json.loads crashes (500) on deeply nested bodies and lets lone surrogates
    through to the database driver; both are refused here, before any handler runs."""

    async def _parse(self, stream, scope):
        text = b"".join([message async for message in stream]).decode(self._encoding)
        if not text:
            return None
        try:
            return jsonsafe.loads(text, "body")
        except jsonsafe.JsonProblem as exc:
            raise BadRequestProblem(detail=str(exc))

    def _validate(self, body):
        if not self._nullable and body is None:
            raise BadRequestProblem("the request body must not be empty")
        try:
            return self._validator.validate(body)
        except ValidationError as exc:
            raise BadRequestProblem(detail=plain_message(exc))


_BODY_VALIDATORS = MediaTypeDict({**CONNEXION_VALIDATORS["body"], "*/*json": SafeJSONRequestBodyValidator})

VALIDATOR_MAP = {"parameter": NamedParameterValidator, "body": _BODY_VALIDATORS}
