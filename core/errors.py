"""The one registry of error codes, and the exception every layer raises.

Codes follow the seed's domain ranges (Agent 100xxxxxx ... Workflow 720xxxxxx); Passport keeps
Coze's 700xxxxxx. Errors that belong to no operation (unknown route, wrong method, body too large
before routing) use the Coze open platform's generic codes (4000, 4100, 4101, 4200, 4013 ...),
which the official SDKs already map to their error classes.
"""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class ErrorCode:
    code: int
    status: int
    name: str
    message: str

    def __call__(self, msg: str | None = None, *, headers: dict | None = None) -> ApiError:
        return ApiError(self, msg, headers=headers)


_REGISTRY: dict[int, ErrorCode] = {}


def _code(code: int, status: int, name: str, message: str) -> ErrorCode:
    if code in _REGISTRY:
        raise ValueError(f"error code {code} registered twice")
    _REGISTRY[code] = err = ErrorCode(code, status, name, message)
    return err


def all_codes() -> list[ErrorCode]:
    return sorted(_REGISTRY.values(), key=lambda e: e.code)


class ApiError(Exception):
    """Raised anywhere; rendered as the envelope with the code's HTTP status."""

    def __init__(self, error: ErrorCode, msg: str | None = None, *, headers: dict | None = None):
        self.error = error
        self.code = error.code
        self.status_code = error.status
        self.msg = msg or error.message
        self.headers = headers or {}
        super().__init__(self.msg)


# Generic (no domain)
BAD_REQUEST = _code(4000, 400, "bad_request", "the request is not valid")
UNAUTHENTICATED = _code(4100, 401, "unauthenticated", "authentication is required")
FORBIDDEN = _code(4101, 403, "forbidden", "not allowed")
ROUTE_NOT_FOUND = _code(4200, 404, "route_not_found", "no such route")
METHOD_NOT_ALLOWED = _code(4205, 405, "method_not_allowed", "method not allowed on this route")
PAYLOAD_TOO_LARGE = _code(4113, 413, "payload_too_large", "request body too large")
UNSUPPORTED_MEDIA_TYPE = _code(4115, 415, "unsupported_media_type", "unsupported content type")
RATE_LIMITED = _code(4013, 429, "rate_limited", "too many requests")
INTERNAL = _code(5000, 500, "internal_error", "internal server error")
UNAVAILABLE = _code(5030, 503, "unavailable", "the server is overloaded; retry later")

# Passport 700xxxxxx (Coze's range)
EMAIL_EXISTS = _code(700000001, 409, "email_exists", "the e-mail is already registered")
UNIQUE_NAME_EXISTS = _code(700000002, 409, "unique_name_exists", "user_unique_name is taken")
LOGIN_FAILED = _code(700000003, 401, "login_failed", "invalid e-mail or password")
USER_NOT_FOUND = _code(700000005, 404, "user_not_found", "user not found")
PASSPORT_INVALID_PARAM = _code(700000006, 400, "passport_invalid_param", "invalid parameter")
REGISTRATION_DISABLED = _code(700000008, 403, "registration_disabled", "registration is closed")
ACCOUNT_DISABLED = _code(700000009, 403, "account_disabled", "the account is disabled")
LOGIN_THROTTLED = _code(700000010, 429, "login_throttled", "too many failed logins; retry later")
WRONG_OLD_PASSWORD = _code(700000011, 403, "wrong_old_password", "old_password is not correct")
NOT_A_SESSION = _code(700000012, 400, "not_a_session", "this credential is not a login session")
SESSION_REQUIRED = _code(
    700000013, 403, "session_required", "this operation needs a login session, not a personal access token"
)
AUTH_FAILED = _code(700012006, 401, "auth_failed", "authentication failed")

# Agent 100xxxxxx
AGENT_INVALID_PARAM = _code(100000000, 400, "agent_invalid_param", "invalid parameter")
AGENT_NOT_FOUND = _code(100000002, 404, "agent_not_found", "agent not found")
AGENT_BAD_CONNECTOR = _code(
    100000004,
    400,
    "agent_bad_connector",
    "an agent can be published to connectors 1024 (API) and 999 (Chat SDK)",
)
AGENT_NOT_PUBLISHED = _code(100000006, 404, "agent_not_published", "the agent has not been published")
AGENT_VERSION_NOT_FOUND = _code(100000005, 404, "agent_version_not_found", "agent version not found")
AGENT_NO_MODEL = _code(100000013, 409, "agent_no_model", "no LLM model is enabled")
MODEL_NOT_FOUND = _code(100000020, 404, "model_not_found", "model not found")
MODEL_DISABLED = _code(100000021, 409, "model_disabled", "the model is disabled")
MODEL_BUILTIN_READONLY = _code(
    100000022, 409, "model_builtin_readonly", "the built-in model cannot be changed this way"
)
MODEL_IN_USE = _code(100000023, 409, "model_in_use", "the model is in use")
MODEL_KIND_MISMATCH = _code(100000024, 400, "model_kind_mismatch", "the model is not of the kind needed here")
MODEL_NOT_INSTALLED = _code(
    100000025, 409, "model_not_installed", "the local model is not installed on this server"
)
# App 101, Connector 102
APP_INVALID_PARAM = _code(101000000, 400, "app_invalid_param", "invalid parameter")
APP_NOT_FOUND = _code(101000002, 404, "app_not_found", "app not found")
CONNECTOR_INVALID_PARAM = _code(102000000, 400, "connector_invalid_param", "invalid parameter")
# Conversation 103xxxxxx
CONVERSATION_INVALID_PARAM = _code(103000000, 400, "conversation_invalid_param", "invalid parameter")
CONVERSATION_NOT_FOUND = _code(103000002, 404, "conversation_not_found", "conversation not found")
AGENT_RUN_FAILED = _code(103100001, 502, "agent_run_failed", "the agent run failed")
AGENT_NOT_AVAILABLE = _code(
    103100002, 404, "agent_not_available", "the agent is not published to this connector"
)
MESSAGE_NOT_FOUND = _code(103200001, 404, "message_not_found", "message not found")
CHAT_NOT_FOUND = _code(103200002, 404, "chat_not_found", "chat not found")
CHAT_NOT_AWAITING_TOOLS = _code(
    103200006, 409, "chat_not_awaiting_tools", "the chat is not waiting for tool outputs"
)
# cozepy's create_and_poll recognises this generic code for "cannot cancel"
CHAT_NOT_CANCELLABLE = _code(
    4104, 409, "chat_not_cancellable", "only a created or in-progress chat can be cancelled"
)
# Upload 104xxxxxx
UPLOAD_INVALID_PARAM = _code(104000000, 400, "upload_invalid_param", "invalid parameter")
FILE_TOO_LARGE = _code(104000004, 413, "file_too_large", "the file is too large")
NO_FILE = _code(104000006, 400, "no_file", "no file in the request")
TOO_MANY_FILES = _code(104000007, 400, "too_many_files", "more than one file in the request")
UNSUPPORTED_FILE_TYPE = _code(104000008, 415, "unsupported_file_type", "unsupported file type")
FILE_NOT_FOUND = _code(104000009, 404, "file_not_found", "file not found")
UPLOAD_ALREADY_DONE = _code(104000011, 409, "upload_already_done", "this upload session was already used")
FILE_LINK_INVALID = _code(104000010, 403, "file_link_invalid", "the download link is not valid")
# Knowledge 105, Memory 106, Channel 107
KNOWLEDGE_INVALID_PARAM = _code(105000000, 400, "knowledge_invalid_param", "invalid parameter")
KNOWLEDGE_NOT_FOUND = _code(105000001, 404, "knowledge_not_found", "knowledge base not found")
DOCUMENT_NOT_FOUND = _code(105000002, 404, "document_not_found", "document not found")
SLICE_NOT_FOUND = _code(105000003, 404, "slice_not_found", "slice not found")
KNOWLEDGE_NAME_DUPLICATE = _code(
    105000010, 409, "knowledge_name_duplicate", "the space already has a knowledge base with this name"
)
DOCUMENT_BUSY = _code(105000015, 409, "document_busy", "the document is being processed")
DOCUMENT_FILE_TYPE = _code(
    105000020, 415, "document_file_type", "this knowledge base does not take this file type"
)
DOCUMENT_UNREADABLE = _code(105000021, 400, "document_unreadable", "the document cannot be read")
DOCUMENT_TOO_LARGE = _code(105000022, 413, "document_too_large", "the document is over a size limit")
DOCUMENT_URL_FORBIDDEN = _code(105000023, 400, "document_url_forbidden", "the URL may not be fetched")
RETRIEVAL_UNAVAILABLE = _code(
    105000024, 400, "retrieval_unavailable", "the retrieval strategy is not available"
)
KNOWLEDGE_EMBEDDING_FAILED = _code(
    105000025, 424, "knowledge_embedding_failed", "the embedding or rerank model failed"
)
SLICE_INVALID = _code(105000037, 400, "slice_invalid", "the slice content does not fit the document")
MEMORY_INVALID_PARAM = _code(106000000, 400, "memory_invalid_param", "invalid parameter")
DATABASE_NOT_FOUND = _code(106000017, 404, "database_not_found", "database not found")
CHANNEL_INVALID_PARAM = _code(107000000, 400, "channel_invalid_param", "invalid parameter")
# Permission 108xxxxxx (also spaces and personal access tokens)
PERMISSION_INVALID_PARAM = _code(108000000, 400, "permission_invalid_param", "invalid parameter")
PERMISSION_DENIED = _code(108000006, 403, "permission_denied", "permission denied")
PAT_NOT_FOUND = _code(108000008, 404, "pat_not_found", "personal access token not found")
SPACE_NOT_FOUND = _code(108000009, 404, "space_not_found", "space not found")
# Plugin 109, Prompt 110, Search 111, ShortcutCmd 112, Corporation 120, Workflow 720
PLUGIN_INVALID_PARAM = _code(109000000, 400, "plugin_invalid_param", "invalid parameter")
PLUGIN_NOT_FOUND = _code(109000005, 404, "plugin_not_found", "plugin not found")
PROMPT_INVALID_PARAM = _code(110000000, 400, "prompt_invalid_param", "invalid parameter")
PROMPT_NOT_FOUND = _code(110000005, 404, "prompt_not_found", "prompt not found")
SEARCH_INVALID_PARAM = _code(111000000, 400, "search_invalid_param", "invalid parameter")
SHORTCUT_INVALID_PARAM = _code(112000000, 400, "shortcut_invalid_param", "invalid parameter")
SHORTCUT_NOT_FOUND = _code(112000001, 404, "shortcut_not_found", "shortcut command not found")
SHORTCUT_DUPLICATE = _code(
    112000002, 409, "shortcut_duplicate", "the agent already has a shortcut with this name or command"
)
CORPORATION_INVALID_PARAM = _code(120000000, 400, "corporation_invalid_param", "invalid parameter")
CORPORATION_NOT_FOUND = _code(120000001, 404, "corporation_not_found", "organization not found")
WORKFLOW_INVALID_PARAM = _code(720702001, 400, "workflow_invalid_param", "invalid parameters")
WORKFLOW_NOT_FOUND = _code(720702004, 404, "workflow_not_found", "workflow not found")

# Which code a request-validation failure gets, by the operation's tag.
INVALID_PARAM_BY_TAG: dict[str, ErrorCode] = {
    "passport": PASSPORT_INVALID_PARAM,
    "space": PERMISSION_INVALID_PARAM,
    "permission": PERMISSION_INVALID_PARAM,
    "agent": AGENT_INVALID_PARAM,
    "app": APP_INVALID_PARAM,
    "connector": CONNECTOR_INVALID_PARAM,
    "conversation": CONVERSATION_INVALID_PARAM,
    "chat": CONVERSATION_INVALID_PARAM,
    "workflow": WORKFLOW_INVALID_PARAM,
    "knowledge": KNOWLEDGE_INVALID_PARAM,
    "plugin": PLUGIN_INVALID_PARAM,
    "memory": MEMORY_INVALID_PARAM,
    "channel": CHANNEL_INVALID_PARAM,
    "webhook": CHANNEL_INVALID_PARAM,
    "upload": UPLOAD_INVALID_PARAM,
    "corporation": CORPORATION_INVALID_PARAM,
    "prompt": PROMPT_INVALID_PARAM,
    "shortcut": SHORTCUT_INVALID_PARAM,
    "search": SEARCH_INVALID_PARAM,
    "admin": BAD_REQUEST,
}
