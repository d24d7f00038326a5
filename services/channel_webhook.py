"""The generic webhook channel: custom integrations POST `{user_id, text, message_id?}` signed
as outgoing webhooks are (`X-Cozeplus-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of
"<t>.<body>">`); the answer comes back in the response, or is posted, signed the same way, to
the channel's callback_url."""

from __future__ import annotations

import hmac
import json
import time

from core import envelope
from core.ids import new_id
from services import webfetch, webhooks
from services.channel_http import ChannelSendError
from services.channels import Inbound, Parsed, Reply, check_timestamp, forged, invalid, json_object

REPLY_EVENT = "channel.reply"
PING_EVENT = "channel.ping"


def _signed_parts(header: str) -> tuple[str, str]:
    parts = dict(item.split("=", 1) for item in header.split(",") if "=" in item)
    return parts.get("t", "").strip(), parts.get("v1", "").strip()


def _text_field(fields: dict, name: str, limit: int, required: bool = True) -> str:
    value = fields.get(name)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise invalid(f"{name}: a non-empty string of at most {limit} characters")
    return value


def _view(message, status: str, answer: str) -> dict:
    return {
        "message_id": message.external_id,
        "conversation_id": str(message.conversation_id),
        "chat_id": str(message.chat_id),
        "status": status,
        "answer": answer,
    }


def _json_reply(data: dict) -> Reply:
    return Reply(json.dumps(envelope.ok(data), ensure_ascii=False).encode(), "application/json")


class GenericWebhook:
    type = "webhook"
    now_via = "response"
    later_via = "callback"

    def verify_url(self, channel, conf, query) -> Reply:
        raise invalid("a webhook channel takes POSTs only")

    def parse(self, channel, conf: dict, query: dict, headers, raw: bytes) -> Parsed:
        stamp, given = _signed_parts(str(headers.get(webhooks.SIGNATURE_HEADER.lower()) or ""))
        if not given:
            raise forged(f"{webhooks.SIGNATURE_HEADER}: missing (t=<unix seconds>,v1=<HMAC-SHA256>)")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise invalid("body: not UTF-8") from None
        expected = webhooks.signature(conf["secret"], stamp, text).split("v1=", 1)[1]
        if not hmac.compare_digest(expected.encode(), given.encode()):
            raise forged(f"{webhooks.SIGNATURE_HEADER}: does not match the channel's secret")
        check_timestamp(stamp, f"{webhooks.SIGNATURE_HEADER} t")
        body = json_object(raw, "body")
        user = _text_field(body, "user_id", 128)
        question = _text_field(body, "text", 10000)
        message_id = _text_field(body, "message_id", 128, required=False) or f"auto-{new_id()}"
        return Parsed(inbound=Inbound(message_id, user, "text", question))

    def wait_seconds(self, conf: dict) -> float:
        return float(conf["answer_timeout_seconds"]) if conf["reply_mode"] == "sync" else 0.0

    def passive(self, parsed, conf: dict, message, text: str, status: str) -> Reply | None:
        return _json_reply(_view(message, status, text)) if conf["reply_mode"] == "sync" else None

    def ack(self, parsed, conf: dict, message) -> Reply:
        return _json_reply(_view(message, message.status, ""))

    def duplicate(self, parsed, conf: dict, earlier) -> Reply:
        return _json_reply(_view(earlier, earlier.status, earlier.reply))

    def on_other(self, channel, conf, inbound):  # every inbound here is a text
        return "", ""

    def _post(self, conf: dict, event: str, data: dict) -> None:
        target = conf.get("callback_url")
        payload = json.dumps(
            {"id": f"evt_{new_id()}", "event": event, "timestamp": int(time.time()), "data": data},
            ensure_ascii=False,
            separators=(",", ":"),
        )
        headers = {
            "Content-Type": "application/json",
            webhooks.SIGNATURE_HEADER: webhooks.signature(conf["secret"], int(time.time()), payload),
            "X-Cozeplus-Event": event,
        }
        try:
            sent = webfetch.send(
                "POST",
                target,
                headers=headers,
                body=payload.encode(),
                max_bytes=webhooks.MAX_RESPONSE,
                user_agent="cozeplus-channel/1.0",
            )
        except webfetch.FetchError as exc:
            raise ChannelSendError(str(exc)) from None
        if not 200 <= sent.status < 300:
            raise ChannelSendError(f"the callback_url answered HTTP {sent.status}")

    def test(self, channel, conf: dict) -> str:
        if not conf.get("callback_url"):
            return "nothing to check: answers go back in the responses"
        self._post(conf, PING_EVENT, {"channel_id": str(channel.id)})
        return "the callback_url accepted a signed channel.ping"

    def send(self, channel, conf: dict, message, text: str) -> None:
        if not conf.get("callback_url"):
            return  # a late answer with nowhere to go stays in the message log
        data = {
            "channel_id": str(channel.id),
            "user_id": message.external_user,
            **_view(message, "replied", text),
        }
        self._post(conf, REPLY_EVENT, data)


WEBHOOK = GenericWebhook()
