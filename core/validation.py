"""Request validation tweaks: parameter errors that name their parameter, and JSON bodies read
through core.jsonsafe (bounded nesting, no lone surrogates)."""

from __future__ import annotations

import copy

from connexion.datastructures import MediaTypeDict
from connexion.exceptions import BadRequestProblem
from connexion.utils import is_null, is_nullable
from connexion.validators import VALIDATOR_MAP as CONNEXION_VALIDATORS
from connexion.validators import JSONRequestBodyValidator, ParameterValidator
from jsonschema import Draft4Validator
from jsonschema.exceptions import ValidationError

from core import jsonsafe


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
            return f"{parameter_type} parameter '{param['name']}': {exc.message}"
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


_BODY_VALIDATORS = MediaTypeDict({**CONNEXION_VALIDATORS["body"], "*/*json": SafeJSONRequestBodyValidator})

VALIDATOR_MAP = {"parameter": NamedParameterValidator, "body": _BODY_VALIDATORS}
