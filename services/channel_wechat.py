"""WeChat Official Accounts and WeCom applications: XML callbacks signed with the channel's Token
(SHA-1 of the sorted token, timestamp, nonce and, when encrypted, the ciphertext), encrypted
with the EncodingAESKey (wechatpy's implementation of WeChat's AES scheme), answered by a
passive reply in the response or through the platform's message API."""

from __future__ import annotations

import hashlib
import hmac
import time
from xml.parsers.expat import ExpatError

import xmltodict
from wechatpy.crypto import WeChatCrypto
from wechatpy.enterprise.crypto import WeChatCrypto as WeComCrypto
from wechatpy.enterprise.exceptions import InvalidCorpIdException
from wechatpy.exceptions import InvalidAppIdException, InvalidSignatureException
from wechatpy.replies import TextReply

from models.channel import IGNORED, REPLIED, ChannelUser
from services import channel_http
from services.channel_http import ChannelSendError
from services.channels import Inbound, Parsed, Reply, check_timestamp, forged, invalid

TOKEN_ERRORS = {40001, 40014, 42001}  # the access token is not (or no longer) valid
ACK = Reply(b"success")


def _plain_signature(token: str, *parts: str) -> str:
    return hashlib.sha1("".join(sorted([token, *parts])).encode()).hexdigest()


def _same(expected: str, given) -> bool:
    return hmac.compare_digest(expected.encode(), str(given or "").encode())


def _cdata_safe(text: str) -> str:
    return text.replace("]]>", "]]]]><![CDATA[>")  # a reply's text sits in a CDATA section


def _xml(raw) -> dict:
    try:
        parsed = xmltodict.parse(raw, disable_entities=True)
    except (ExpatError, ValueError) as exc:
        raise invalid(f"body: not well-formed XML ({exc})") from None
    fields = parsed.get("xml") if isinstance(parsed, dict) else None
    if not isinstance(fields, dict):
        raise invalid("body: not a WeChat message (no <xml> element)")
    return fields


def _message_fields(xml) -> dict:
    fields = _xml(xml)
    for name in ("ToUserName", "FromUserName", "CreateTime", "MsgType"):
        if not isinstance(fields.get(name), str) or not fields[name]:
            raise invalid(f"body: {name} missing")
    return fields


def _decrypted(cipher, raw: bytes, query: dict, timestamp: str, nonce: str, receiver: str) -> str:
    """The inner XML of an encrypted message, once its msg_signature is checked."""
    outer = _xml(raw)
    if not isinstance(outer.get("Encrypt"), str):
        raise invalid("body: an encrypted message needs <Encrypt>")
    try:
        return cipher.decrypt_message(outer, str(query.get("msg_signature") or ""), timestamp, nonce)
    except InvalidSignatureException:
        raise forged("msg_signature: does not match the channel's Token") from None
    except (InvalidAppIdException, InvalidCorpIdException):
        raise forged(f"the message is encrypted for another {receiver}") from None
    except Exception:  # noqa: BLE001  (bad base64 or padding: not this key's ciphertext)
        raise forged("Encrypt: does not decrypt with the channel's EncodingAESKey") from None


def _inbound(fields: dict) -> Inbound:
    sender, kind = fields["FromUserName"], fields["MsgType"].lower()
    if kind == "event":
        event = str(fields.get("Event") or "").lower()
        # events have no MsgId: the sender and the time name one (as WeChat advises)
        return Inbound(f"{sender}:{fields['CreateTime']}:{event}", sender, f"event:{event}")
    msg_id = fields.get("MsgId")
    if not isinstance(msg_id, str) or not msg_id:
        raise invalid("body: MsgId missing")
    text = fields.get("Content") if kind == "text" else fields.get("Recognition") if kind == "voice" else None
    if isinstance(text, str) and text.strip():
        return Inbound(msg_id, sender, "text", text)
    return Inbound(msg_id, sender, kind)


class _WeChatFamily:
    now_via = "passive"
    later_via = "api"

    def wait_seconds(self, conf: dict) -> float:
        return float(conf["passive_reply_seconds"])

    def ack(self, parsed, conf, message) -> Reply:
        return ACK  # WeChat's "received, no reply in this response"

    def duplicate(self, parsed, conf, earlier) -> Reply:
        return ACK

    def passive(self, parsed: Parsed, conf: dict, message, text: str, status: str) -> Reply | None:
        reply = TextReply(
            source=parsed.context["account"],
            target=message.external_user,
            content=_cdata_safe(text),
            time=int(time.time()),
        ).render()
        cipher = parsed.context.get("cipher")
        if cipher is not None:
            reply = cipher.encrypt_message(reply, parsed.context["nonce"], parsed.context["timestamp"])
        return Reply(reply.encode(), "text/xml")

    def on_other(self, channel, conf: dict, inbound: Inbound) -> tuple[str, str]:
        if inbound.kind in ("event:subscribe", "event:unsubscribe"):
            ChannelUser.update(subscribed=inbound.kind == "event:subscribe").where(
                ChannelUser.channel == channel.id, ChannelUser.external_id == inbound.user
            ).execute()
            if inbound.kind == "event:subscribe":
                return conf.get("welcome_message") or "", REPLIED
            return "", IGNORED
        if inbound.kind.startswith("event:"):
            return "", IGNORED
        return conf.get("unsupported_reply") or "", REPLIED

    def _with_token(self, channel, conf: dict, call) -> dict:
        """call(token) -> the platform's answer; once more with a fresh token if it was refused."""
        answer = call(channel_http.access_token(channel, lambda: self._fetch_token(conf)))
        if answer.get("errcode") in TOKEN_ERRORS:
            answer = call(channel_http.access_token(channel, lambda: self._fetch_token(conf), fresh=True))
        if answer.get("errcode", 0) != 0:
            raise ChannelSendError(
                f"the platform refused the message: {answer.get('errcode')} {answer.get('errmsg', '')}"
            )
        return answer

    def test(self, channel, conf: dict) -> str:
        channel_http.access_token(channel, lambda: self._fetch_token(conf), fresh=True)
        return "the credentials work: an access token was issued"

    @staticmethod
    def _token_from(answer: dict) -> tuple[str, int]:
        token = answer.get("access_token")
        if not isinstance(token, str) or not token:
            raise ChannelSendError(
                f"no access token: {answer.get('errcode')} {answer.get('errmsg', '')}".strip()
            )
        return token, int(answer.get("expires_in") or 7200)


class OfficialAccount(_WeChatFamily):
    type = "wechat_mp"

    def verify_url(self, channel, conf: dict, query: dict) -> Reply:
        timestamp, nonce = str(query.get("timestamp") or ""), str(query.get("nonce") or "")
        check_timestamp(timestamp)
        if not _same(_plain_signature(conf["token"], timestamp, nonce), query.get("signature")):
            raise forged("signature: does not match the channel's Token")
        return Reply(str(query.get("echostr") or "").encode())

    def parse(self, channel, conf: dict, query: dict, headers, raw: bytes) -> Parsed:
        timestamp, nonce = str(query.get("timestamp") or ""), str(query.get("nonce") or "")
        check_timestamp(timestamp)
        context: dict = {"nonce": nonce, "timestamp": timestamp}
        if str(query.get("encrypt_type") or "").lower() == "aes":
            if not conf.get("encoding_aes_key"):
                raise invalid("encrypt_type: aes, but the channel has no encoding_aes_key")
            cipher = WeChatCrypto(conf["token"], conf["encoding_aes_key"], conf["app_id"])
            xml = _decrypted(cipher, raw, query, timestamp, nonce, "AppID")
            context["cipher"] = cipher
        else:
            if conf["message_mode"] == "safe":
                raise forged("the channel is in safe mode: messages must be encrypted (encrypt_type=aes)")
            if not _same(_plain_signature(conf["token"], timestamp, nonce), query.get("signature")):
                raise forged("signature: does not match the channel's Token")
            xml = raw
        fields = _message_fields(xml)
        context["account"] = fields["ToUserName"]
        return Parsed(inbound=_inbound(fields), context=context)

    @staticmethod
    def _fetch_token(conf: dict) -> tuple[str, int]:
        target = channel_http.url(
            conf["api_base_url"],
            "/cgi-bin/token",
            grant_type="client_credential",
            appid=conf["app_id"],
            secret=conf["app_secret"],
        )
        return _WeChatFamily._token_from(channel_http.call("GET", target))

    def send(self, channel, conf: dict, message, text: str) -> None:
        payload = {"touser": message.external_user, "msgtype": "text", "text": {"content": text}}
        self._with_token(
            channel,
            conf,
            lambda token: channel_http.call(
                "POST",
                channel_http.url(conf["api_base_url"], "/cgi-bin/message/custom/send", access_token=token),
                payload,
            ),
        )


class WeComApplication(_WeChatFamily):
    type = "wecom"

    def _cipher(self, conf: dict) -> WeComCrypto:
        return WeComCrypto(conf["token"], conf["encoding_aes_key"], conf["corp_id"])

    def verify_url(self, channel, conf: dict, query: dict) -> Reply:
        timestamp = str(query.get("timestamp") or "")
        check_timestamp(timestamp)
        try:
            echo = self._cipher(conf).check_signature(
                str(query.get("msg_signature") or ""),
                timestamp,
                str(query.get("nonce") or ""),
                str(query.get("echostr") or ""),
            )
        except InvalidSignatureException:
            raise forged("msg_signature: does not match the channel's Token") from None
        except Exception:  # noqa: BLE001  (another corp's, or not ciphertext at all)
            raise forged("echostr: does not decrypt for the channel's CorpID and EncodingAESKey") from None
        return Reply(echo.encode() if isinstance(echo, str) else echo)

    def parse(self, channel, conf: dict, query: dict, headers, raw: bytes) -> Parsed:
        timestamp, nonce = str(query.get("timestamp") or ""), str(query.get("nonce") or "")
        check_timestamp(timestamp)
        cipher = self._cipher(conf)
        fields = _message_fields(_decrypted(cipher, raw, query, timestamp, nonce, "CorpID"))
        context = {"nonce": nonce, "timestamp": timestamp, "cipher": cipher, "account": fields["ToUserName"]}
        return Parsed(inbound=_inbound(fields), context=context)

    @staticmethod
    def _fetch_token(conf: dict) -> tuple[str, int]:
        target = channel_http.url(
            conf["api_base_url"], "/cgi-bin/gettoken", corpid=conf["corp_id"], corpsecret=conf["corp_secret"]
        )
        return _WeChatFamily._token_from(channel_http.call("GET", target))

    def send(self, channel, conf: dict, message, text: str) -> None:
        payload = {
            "touser": message.external_user,
            "msgtype": "text",
            "agentid": conf["agent_id"],
            "text": {"content": text},
        }
        self._with_token(
            channel,
            conf,
            lambda token: channel_http.call(
                "POST",
                channel_http.url(conf["api_base_url"], "/cgi-bin/message/send", access_token=token),
                payload,
            ),
        )


OFFICIAL_ACCOUNT = OfficialAccount()
WECOM = WeComApplication()
