"""The error codes and the exception every layer raises.

The one registry is the spec's `x-error-codes` (openapi.yaml): each entry becomes a constant here
named for it in capitals (`knowledge_not_found` -> `errors.KNOWLEDGE_NOT_FOUND`), so the contract
and the server cannot disagree; `tests/test_spec.py` checks that every `errors.NAME` the code uses
is registered. Codes follow the seed's domain ranges (Agent 100xxxxxx ... Workflow 720xxxxxx);
Passport keeps Coze's 700xxxxxx. Errors that belong to no operation (unknown route, wrong method,
body too large before routing) use the Coze open platform's generic codes (4000, 4100, 4101, 4200,
4013 ...), which the official SDKs already map to their error classes. To add a code, add it to
`x-error-codes`.
"""

from __future__ import annotations

import dataclasses

from core import spec


@dataclasses.dataclass(frozen=True)
class ErrorCode:
    code: int
    status: int
    name: str
    message: str
    open_code: int = 0  # what the Open API's workflow runs answer instead (Coze's mapping)

    def __call__(self, msg: str | None = None, *, headers: dict | None = None) -> ApiError:
        return ApiError(self, msg, headers=headers)


def _registry(document: dict) -> tuple[dict[int, ErrorCode], dict[str, ErrorCode]]:
    """(code: error, tag: its invalid-parameter error) from the spec."""
    by_code: dict[int, ErrorCode] = {}
    for entry in document["x-error-codes"]:
        error = ErrorCode(
            entry["code"], entry["status"], entry["name"], entry["message"], entry.get("open_code", 0)
        )
        if error.code in by_code or not error.name.isidentifier():
            raise ValueError(f"x-error-codes: {error.code} {error.name!r} is repeated or not a name")
        by_code[error.code] = error
    by_name = {e.name: e for e in by_code.values()}
    invalid = {tag["name"]: by_name[tag["x-invalid-param"]] for tag in document["tags"]}
    for error in by_code.values():
        if error.open_code and error.open_code not in by_code:
            raise ValueError(f"x-error-codes: {error.code}'s open_code {error.open_code} is not registered")
    return by_code, invalid


_BY_CODE, INVALID_PARAM_BY_TAG = _registry(spec.load())
OPEN_CODE_TAGS = frozenset(tag["name"] for tag in spec.load()["tags"] if tag.get("x-open-codes"))
globals().update({error.name.upper(): error for error in _BY_CODE.values()})


def open_form(error: ErrorCode) -> ErrorCode:
    """The error as the Open API's workflow runs report it."""
    return _BY_CODE[error.open_code] if error.open_code else error


def open_code(code: int) -> int:
    found = _BY_CODE.get(code)
    return found.open_code or code if found else code


def all_codes() -> list[ErrorCode]:
    return sorted(_BY_CODE.values(), key=lambda e: e.code)


class ApiError(Exception):
    """Raised anywhere; rendered as the envelope with the code's HTTP status."""

    def __init__(self, error: ErrorCode, msg: str | None = None, *, headers: dict | None = None):
        self.error = error
        self.code = error.code
        self.status_code = error.status
        self.msg = msg or error.message
        self.headers = headers or {}
        super().__init__(self.msg)
