"""Feishu / Lark bots: JSON event callbacks. With an Encrypt Key the body is `{"encrypt": ...}`
(AES-256-CBC, key SHA-256 of the Encrypt Key, the IV first) and signed in `X-Lark-Signature`
(SHA-256 hex of timestamp + nonce + Encrypt Key + body); the Verification Token is in every
event. Answers go through the message-reply API with a tenant access token."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from core import envelope
from models.channel import IGNORED, REPLIED
from services import channel_http
from services.channel_http import ChannelSendError
from services.channels import Inbound, Parsed, Reply, check_timestamp, forged, invalid, json_object

MESSAGE_EVENT = "im.message.receive_v1"
TOKEN_ERRORS = {99991661, 99991663, 99991668}  # the tenant access token is missing, invalid or expired
MENTION = re.compile(r"@_user_\d+\s*")


def decrypt(encrypt_key: str, ciphertext: str) -> bytes:
    try:
        data = base64.b64decode(ciphertext, validate=True)
        key = hashlib.sha256(encrypt_key.encode()).digest()
        decryptor = Cipher(algorithms.AES(key), modes.CBC(data[:16])).decryptor()
        padded = decryptor.update(data[16:]) + decryptor.finalize()
        unpadder = padding.PKCS7(128).unpadder()
        return unpadder.update(padded) + unpadder.finalize()
    except ValueError:
        raise forged("encrypt: does not decrypt with the channel's Encrypt Key") from None


def _reply(payload: dict) -> Reply:
    return Reply(json.dumps(payload, ensure_ascii=False).encode(), "application/json")


class FeishuBot:
    type = "feishu"
    now_via = "api"
    later_via = "api"

    def verify_url(self, channel, conf, query) -> Reply:
        raise invalid("a Feishu channel is checked by POST (url_verification), not GET")

    def parse(self, channel, conf: dict, query: dict, headers, raw: bytes) -> Parsed:
        body = json_object(raw, "body")
        key = conf.get("encrypt_key")
        if key:
            if not isinstance(body.get("encrypt"), str):
                raise forged('the channel has an Encrypt Key: the body must be {"encrypt": ...}')
            signed = headers.get("x-lark-signature")
            if signed is not None:
                stamp = str(headers.get("x-lark-request-timestamp") or "")
                nonce = str(headers.get("x-lark-request-nonce") or "")
                expected = hashlib.sha256((stamp + nonce + key).encode() + raw).hexdigest()
                if not hmac.compare_digest(expected.encode(), str(signed).encode()):
                    raise forged("X-Lark-Signature: does not match the channel's Encrypt Key")
                check_timestamp(stamp, "X-Lark-Request-Timestamp")
            body = json_object(decrypt(key, body["encrypt"]), "encrypt")
            if signed is None and body.get("type") != "url_verification":
                raise forged("X-Lark-Signature: missing (only the URL check comes unsigned)")
        token = body.get("token") if "schema" not in body else (body.get("header") or {}).get("token")
        if not hmac.compare_digest(str(token or "").encode(), str(conf["verification_token"]).encode()):
            raise forged("token: not the channel's Verification Token")
        if body.get("type") == "url_verification":
            return Parsed(immediate=_reply({"challenge": str(body.get("challenge") or "")}))
        return Parsed(inbound=_inbound(body))

    def wait_seconds(self, conf: dict) -> float:
        return 0.0  # Feishu wants its 200 within 3 seconds; answers go through the API

    def ack(self, parsed, conf, message) -> Reply:
        return _reply(envelope.ok())

    def duplicate(self, parsed, conf, earlier) -> Reply:
        return _reply(envelope.ok())

    def passive(self, parsed, conf, message, text, status) -> Reply | None:
        return None

    def on_other(self, channel, conf: dict, inbound: Inbound) -> tuple[str, str]:
        if inbound.kind.startswith("event:"):
            return "", IGNORED
        return conf.get("unsupported_reply") or "", REPLIED

    @staticmethod
    def _fetch_token(conf: dict) -> tuple[str, int]:
        answer = channel_http.call(
            "POST",
            channel_http.url(conf["api_base_url"], "/open-apis/auth/v3/tenant_access_token/internal"),
            {"app_id": conf["app_id"], "app_secret": conf["app_secret"]},
        )
        token = answer.get("tenant_access_token")
        if answer.get("code") != 0 or not isinstance(token, str) or not token:
            raise ChannelSendError(
                f"no tenant access token: {answer.get('code')} {answer.get('msg', '')}".strip()
            )
        return token, int(answer.get("expire") or 7200)

    def test(self, channel, conf: dict) -> str:
        channel_http.access_token(channel, lambda: self._fetch_token(conf), fresh=True)
        return "the credentials work: a tenant access token was issued"

    def send(self, channel, conf: dict, message, text: str) -> None:
        target = channel_http.url(conf["api_base_url"], f"/open-apis/im/v1/messages/{message.reply_to}/reply")
        payload = {"msg_type": "text", "content": json.dumps({"text": text}, ensure_ascii=False)}

        def call(token: str) -> dict:
            return channel_http.call("POST", target, payload, {"Authorization": f"Bearer {token}"})

        answer = call(channel_http.access_token(channel, lambda: self._fetch_token(conf)))
        if answer.get("code") in TOKEN_ERRORS:
            answer = call(channel_http.access_token(channel, lambda: self._fetch_token(conf), fresh=True))
        if answer.get("code") != 0:
            raise ChannelSendError(f"Feishu refused the reply: {answer.get('code')} {answer.get('msg', '')}")


def _inbound(event_body: dict) -> Inbound:
    header = event_body.get("header") if isinstance(event_body.get("header"), dict) else None
    if header is None or not header.get("event_id") or not header.get("event_type"):
        raise invalid("body: an event needs header.event_id and header.event_type (schema 2.0)")
    event = event_body.get("event") if isinstance(event_body.get("event"), dict) else {}
    event_id, event_type = str(header["event_id"]), str(header["event_type"])
    if event_type != MESSAGE_EVENT:
        return Inbound(event_id, "", f"event:{event_type}")
    message = event.get("message") if isinstance(event.get("message"), dict) else {}
    sender = (
        ((event.get("sender") or {}).get("sender_id") or {}) if isinstance(event.get("sender"), dict) else {}
    )
    user = str(sender.get("open_id") or sender.get("user_id") or "")
    message_id = str(message.get("message_id") or "")
    if not user or not message_id:
        raise invalid("event: a message needs event.sender.sender_id.open_id and event.message.message_id")
    if message.get("message_type") != "text":
        return Inbound(event_id, user, str(message.get("message_type") or "unknown"), reply_to=message_id)
    try:
        content = json.loads(message.get("content") or "{}")
    except ValueError:
        raise invalid("event.message.content: not valid JSON") from None
    text = (
        MENTION.sub("", str((content or {}).get("text") or "")).strip() if isinstance(content, dict) else ""
    )
    if not text:
        return Inbound(event_id, user, "empty", reply_to=message_id)
    return Inbound(event_id, user, "text", text, reply_to=message_id)


FEISHU = FeishuBot()
