"""Request validation tweaks: parameter errors that name their parameter."""
from __future__ import annotations

import copy

from jsonschema import Draft4Validator
from connexion.utils import is_null, is_nullable
from connexion.validators import ParameterValidator
from jsonschema.exceptions import ValidationError


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


VALIDATOR_MAP = {"parameter": NamedParameterValidator}
