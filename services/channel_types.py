"""The kinds of channel and the configuration each needs, as JSON schemas. A property marked
`x-secret` is stored encrypted (services/channels) and shown only as a hint."""

from __future__ import annotations

import dataclasses

_URL = {"type": "string", "maxLength": 2048, "pattern": "^https?://[^\\s]+$"}
_PASSIVE = {
    "type": "number",
    "minimum": 0,
    "maximum": 4.8,
    "default": 4.5,
    "description": "How long to wait for the answer before replying through the API instead "
    "(the platform waits 5 seconds for a passive reply; 0: always through the API).",
}
_ERROR_REPLY = {
    "type": "string",
    "maxLength": 600,
    "default": "Sorry, I could not answer that just now. Please try again.",
    "description": "Sent when the agent fails to answer.",
}
_UNSUPPORTED = {
    "type": "string",
    "maxLength": 600,
    "default": "Sorry, I can only read text messages.",
    "description": "The answer to a message that is not text (empty: none).",
}


def _secret(description: str, **rules) -> dict:
    return {"type": "string", "x-secret": True, "writeOnly": True, "description": description, **rules}


@dataclasses.dataclass(frozen=True)
class ChannelType:
    type: str
    name: str
    description: str
    schema: dict
    generated_secrets: tuple[str, ...] = ()  # made when not given (shown once)

    @property
    def secret_fields(self) -> list[str]:
        return [name for name, prop in self.schema["properties"].items() if prop.get("x-secret")]

    def defaults(self) -> dict:
        return {name: p["default"] for name, p in self.schema["properties"].items() if "default" in p}


WECHAT_MP = ChannelType(
    "wechat_mp",
    "WeChat Official Account (service account)",
    "Followers chat with the agent; each openid has its own conversation. Set the server URL to "
    "callback_url and the same Token (and EncodingAESKey for safe mode) in the account's settings.",
    {
        "type": "object",
        "additionalProperties": False,
        "required": ["app_id", "app_secret", "token"],
        "properties": {
            "app_id": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$", "description": "AppID"},
            "app_secret": _secret(
                "AppSecret (for the customer-service message API)", minLength=1, maxLength=128
            ),
            "token": _secret("The server Token (3-32 letters and digits)", pattern="^[A-Za-z0-9]{3,32}$"),
            "encoding_aes_key": _secret(
                "EncodingAESKey (43 characters), for compatible and safe mode", pattern="^[A-Za-z0-9]{43}$"
            ),
            "message_mode": {"type": "string", "enum": ["plain", "compatible", "safe"], "default": "plain"},
            "api_base_url": {**_URL, "default": "https://api.weixin.qq.com"},
            "passive_reply_seconds": _PASSIVE,
            "welcome_message": {
                "type": "string",
                "maxLength": 600,
                "default": "",
                "description": "Sent on follow.",
            },
            "unsupported_reply": _UNSUPPORTED,
            "error_reply": _ERROR_REPLY,
        },
    },
)

WECOM = ChannelType(
    "wecom",
    "WeCom (WeChat Work) application",
    "Members chat with the agent in a self-built application; each userid has its own "
    "conversation. Set the receive-message URL to callback_url with the same Token and "
    "EncodingAESKey.",
    {
        "type": "object",
        "additionalProperties": False,
        "required": ["corp_id", "agent_id", "corp_secret", "token", "encoding_aes_key"],
        "properties": {
            "corp_id": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$", "description": "CorpID"},
            "agent_id": {"type": "integer", "minimum": 1, "maximum": 2147483647, "description": "AgentId"},
            "corp_secret": _secret("The application's Secret", minLength=1, maxLength=128),
            "token": _secret("The callback Token", pattern="^[A-Za-z0-9]{3,32}$"),
            "encoding_aes_key": _secret("EncodingAESKey (43 characters)", pattern="^[A-Za-z0-9]{43}$"),
            "api_base_url": {**_URL, "default": "https://qyapi.weixin.qq.com"},
            "passive_reply_seconds": _PASSIVE,
            "unsupported_reply": _UNSUPPORTED,
            "error_reply": _ERROR_REPLY,
        },
    },
)

FEISHU = ChannelType(
    "feishu",
    "Feishu / Lark bot",
    "Users chat with the agent through the app's bot (direct messages, or mentions in groups); "
    "each open_id has its own conversation. Subscribe the event im.message.receive_v1 with "
    "callback_url as the request URL. For Lark use https://open.larksuite.com as api_base_url.",
    {
        "type": "object",
        "additionalProperties": False,
        "required": ["app_id", "app_secret", "verification_token"],
        "properties": {
            "app_id": {
                "type": "string",
                "pattern": "^[A-Za-z0-9_-]{1,64}$",
                "description": "App ID (cli_...)",
            },
            "app_secret": _secret("App Secret", minLength=1, maxLength=128),
            "verification_token": _secret("Verification Token", minLength=1, maxLength=128),
            "encrypt_key": _secret(
                "Encrypt Key (events encrypted and signed when set)", minLength=1, maxLength=128
            ),
            "api_base_url": {**_URL, "default": "https://open.feishu.cn"},
            "unsupported_reply": _UNSUPPORTED,
            "error_reply": _ERROR_REPLY,
        },
    },
)

WEBHOOK = ChannelType(
    "webhook",
    "Generic webhook",
    "Your own integration POSTs JSON {user_id, text, message_id?} to callback_url, signed in "
    'X-Cozeplus-Signature (t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>" with the '
    "secret>); the answer comes back in the response, or is posted, signed the same way, to "
    "your callback_url.",
    {
        "type": "object",
        "additionalProperties": False,
        "required": [],
        "properties": {
            "secret": _secret("The signing secret (made when not given)", minLength=16, maxLength=200),
            "reply_mode": {"type": "string", "enum": ["sync", "callback"], "default": "sync"},
            "callback_url": {**_URL, "description": "Where answers are posted (reply_mode callback)."},
            "answer_timeout_seconds": {"type": "number", "minimum": 1, "maximum": 120, "default": 60},
            "error_reply": _ERROR_REPLY,
        },
    },
    generated_secrets=("secret",),
)

TYPES = {t.type: t for t in (WECHAT_MP, FEISHU, WECOM, WEBHOOK)}
