"""Publishing channels through HTTP: binding agents, secrets kept encrypted, and each platform's
callbacks built and signed here as the platform does it (WeChat's SHA-1 signature and AES
safe mode, WeCom's encrypted callbacks, Feishu's encrypted and signed events, the generic
webhook's HMAC), answered in the response or through the platform's API (a local fake of it);
forged, replayed and malformed requests are refused with nothing recorded."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import struct
import time

import pytest
from conftest import assert_error
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from test_chat import new_agent
from test_memory import space_of

from models.channel import Channel, ChannelMessage, ChannelUser
from models.conversation import Conversation, Message
from tests.fake_openai import MODEL_HOST, AppThread

APP_ID = "wx0123456789abcdef"
TOKEN = "channeltoken42"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"  # 43 characters, as WeChat makes them
CORP_ID = "ww0123456789abcdef"


# --- the platforms' algorithms, written from their documentation ---------------------------------


def wx_signature(*parts: str) -> str:
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


def wx_encrypt(plain: str, receiver_id: str, aes_key: str = AES_KEY) -> str:
    """WeChat's message encryption: AES-256-CBC, key = base64(EncodingAESKey + "="), IV = its
    first 16 bytes, plaintext = 16 random bytes + length (4 bytes, big-endian) + message +
    AppID/CorpID, PKCS#7-padded to 32 bytes."""
    key = base64.b64decode(aes_key + "=")
    body = plain.encode()
    text = os.urandom(16) + struct.pack(">I", len(body)) + body + receiver_id.encode()
    pad = 32 - len(text) % 32
    text += bytes([pad]) * pad
    encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return base64.b64encode(encryptor.update(text) + encryptor.finalize()).decode()


def wx_decrypt(encrypted: str, receiver_id: str, aes_key: str = AES_KEY) -> str:
    key = base64.b64decode(aes_key + "=")
    decryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).decryptor()
    text = decryptor.update(base64.b64decode(encrypted)) + decryptor.finalize()
    text = text[: -text[-1]]
    (length,) = struct.unpack(">I", text[16:20])
    assert text[20 + length :].decode() == receiver_id
    return text[20 : 20 + length].decode()


def wx_text(openid: str, text: str, msg_id: str, to: str = "gh_account") -> str:
    return (
        f"<xml><ToUserName><![CDATA[{to}]]></ToUserName><FromUserName><![CDATA[{openid}]]></FromUserName>"
        f"<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
        f"<Content><![CDATA[{text}]]></Content><MsgId>{msg_id}</MsgId></xml>"
    )


def wx_event(openid: str, event: str, to: str = "gh_account") -> str:
    return (
        f"<xml><ToUserName><![CDATA[{to}]]></ToUserName><FromUserName><![CDATA[{openid}]]></FromUserName>"
        f"<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
        f"<Event><![CDATA[{event}]]></Event></xml>"
    )


def xml_field(xml: str, name: str) -> str:
    import xml.etree.ElementTree as ElementTree

    return ElementTree.fromstring(xml).findtext(name) or ""


def lark_encrypt(encrypt_key: str, plain: dict) -> str:
    key = hashlib.sha256(encrypt_key.encode()).digest()
    iv = os.urandom(16)
    padder = padding.PKCS7(128).padder()
    data = padder.update(json.dumps(plain).encode()) + padder.finalize()
    encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    return base64.b64encode(iv + encryptor.update(data) + encryptor.finalize()).decode()


def lark_headers(encrypt_key: str, body: bytes, stamp: int | None = None) -> dict:
    stamp = int(time.time()) if stamp is None else stamp
    nonce = "n" + os.urandom(4).hex()
    signature = hashlib.sha256(f"{stamp}{nonce}{encrypt_key}".encode() + body).hexdigest()
    return {
        "X-Lark-Request-Timestamp": str(stamp),
        "X-Lark-Request-Nonce": nonce,
        "X-Lark-Signature": signature,
        "Content-Type": "application/json",
    }


def lark_message(
    text: str, event_id: str, message_id: str, token: str = "vtoken", open_id="ou_user1"
) -> dict:
    return {
        "schema": "2.0",
        "header": {
            "event_id": event_id,
            "event_type": "im.message.receive_v1",
            "create_time": str(int(time.time() * 1000)),
            "token": token,
            "app_id": "cli_app",
            "tenant_key": "tenant",
        },
        "event": {
            "sender": {"sender_id": {"open_id": open_id, "user_id": "u1"}, "sender_type": "user"},
            "message": {
                "message_id": message_id,
                "chat_id": "oc_chat",
                "chat_type": "p2p",
                "message_type": "text",
                "content": json.dumps({"text": text}),
            },
        },
    }


def hmac_headers(secret: str, body: bytes, stamp: int | None = None) -> dict:
    stamp = int(time.time()) if stamp is None else stamp
    digest = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    return {"X-Cozeplus-Signature": f"t={stamp},v1={digest}", "Content-Type": "application/json"}


# --- a local fake of the platforms' APIs -------------------------------------------------------


class Platform:
    """WeChat's, WeCom's and Feishu's token and message APIs, and a custom integration's callback."""

    def __init__(self):
        self.sent: list[dict] = []
        self.token_calls = 0
        self.failures = 0
        self.base = ""

        async def wechat_token(request: Request):
            self.token_calls += 1
            if request.query_params.get("secret") != "wechat-app-secret":
                return JSONResponse({"errcode": 40125, "errmsg": "invalid appsecret"})
            return JSONResponse({"access_token": f"WXTOKEN{self.token_calls}", "expires_in": 7200})

        async def wechat_send(request: Request):
            if self.failures > 0:
                self.failures -= 1
                return JSONResponse({"errcode": -1, "errmsg": "system busy"})
            self.sent.append(
                {"api": "wechat", "token": request.query_params["access_token"], **await request.json()}
            )
            return JSONResponse({"errcode": 0, "errmsg": "ok"})

        async def wecom_token(request: Request):
            self.token_calls += 1
            return JSONResponse({"errcode": 0, "access_token": "WWTOKEN", "expires_in": 7200})

        async def wecom_send(request: Request):
            self.sent.append(
                {"api": "wecom", "token": request.query_params["access_token"], **await request.json()}
            )
            return JSONResponse({"errcode": 0, "errmsg": "ok"})

        async def lark_token(request: Request):
            self.token_calls += 1
            body = await request.json()
            if body.get("app_secret") != "lark-app-secret":
                return JSONResponse({"code": 10014, "msg": "app secret invalid"})
            return JSONResponse({"code": 0, "tenant_access_token": "t-lark", "expire": 7200})

        async def lark_reply(request: Request):
            body = await request.json()
            self.sent.append(
                {
                    "api": "feishu",
                    "message_id": request.path_params["message_id"],
                    "auth": request.headers.get("authorization"),
                    **body,
                }
            )
            return JSONResponse({"code": 0, "msg": "success", "data": {}})

        async def callback(request: Request):
            raw = await request.body()
            stamp, _, digest = request.headers["x-cozeplus-signature"].partition(",v1=")
            expected = hmac.new(
                WEBHOOK_SECRET.encode(), stamp.removeprefix("t=").encode() + b"." + raw, hashlib.sha256
            )
            self.sent.append(
                {
                    "api": "callback",
                    "valid": hmac.compare_digest(digest, expected.hexdigest()),
                    **json.loads(raw),
                }
            )
            return JSONResponse({"ok": True})

        self.app = Starlette(
            routes=[
                Route("/cgi-bin/token", wechat_token),
                Route("/cgi-bin/message/custom/send", wechat_send, methods=["POST"]),
                Route("/cgi-bin/gettoken", wecom_token),
                Route("/cgi-bin/message/send", wecom_send, methods=["POST"]),
                Route("/open-apis/auth/v3/tenant_access_token/internal", lark_token, methods=["POST"]),
                Route("/open-apis/im/v1/messages/{message_id}/reply", lark_reply, methods=["POST"]),
                Route("/callback", callback, methods=["POST"]),
            ]
        )

    def wait_sent(self, count: int, timeout: float = 15.0) -> list[dict]:
        deadline = time.monotonic() + timeout
        while len(self.sent) < count:
            assert time.monotonic() < deadline, f"only {len(self.sent)} of {count} sent: {self.sent}"
            time.sleep(0.05)
        return self.sent


WEBHOOK_SECRET = "integration-secret-0123456789"


@pytest.fixture
def platform(app):
    made = Platform()
    with AppThread(made.app) as thread:
        made.base = f"http://{MODEL_HOST}:{thread.port}"
        yield made


def bind(account, bot_id, type_, config, **extra) -> dict:
    response = account.post(
        "/api/channel/create", {"bot_id": bot_id, "type": type_, "config": config, **extra}
    )
    assert response.status_code == 200, response.text
    return response.json()["data"]


def wechat_config(platform, **extra) -> dict:
    return {
        "app_id": APP_ID,
        "app_secret": "wechat-app-secret",
        "token": TOKEN,
        "encoding_aes_key": AES_KEY,
        "api_base_url": platform.base,
        **extra,
    }


def callback_path(channel_id) -> str:
    return f"/api/channel/callback/{channel_id}"


def wx_post(client, channel_id, xml: str, *, stamp=None, nonce="nonce1", token=TOKEN, signature=None):
    stamp = str(int(time.time()) if stamp is None else stamp)
    signature = signature or wx_signature(token, stamp, nonce)
    query = f"?signature={signature}&timestamp={stamp}&nonce={nonce}&openid=ofollower"
    return client.post(
        callback_path(channel_id) + query, content=xml.encode(), headers={"Content-Type": "text/xml"}
    )


def wx_post_safe(
    client, channel_id, xml: str, *, stamp=None, nonce="nonce2", receiver=APP_ID, msg_signature=None
):
    stamp = str(int(time.time()) if stamp is None else stamp)
    encrypted = wx_encrypt(xml, receiver)
    outer = f"<xml><ToUserName>gh_account</ToUserName><Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>"
    msg_signature = msg_signature or wx_signature(TOKEN, stamp, nonce, encrypted)
    query = (
        f"?signature={wx_signature(TOKEN, stamp, nonce)}&timestamp={stamp}&nonce={nonce}"
        f"&openid=ofollower&encrypt_type=aes&msg_signature={msg_signature}"
    )
    return client.post(
        callback_path(channel_id) + query, content=outer.encode(), headers={"Content-Type": "text/xml"}
    )


def recorded(channel_id) -> int:
    return ChannelMessage.select().where(ChannelMessage.channel == int(channel_id)).count()


# --- the Channel API ---------------------------------------------------------------------------


def test_channel_types_describe_their_configuration(alice):
    types = {t["type"]: t for t in alice.get("/api/channel/types").json()["data"]["types"]}
    assert set(types) == {"wechat_mp", "feishu", "wecom", "webhook"}
    wechat = types["wechat_mp"]
    assert set(wechat["config_schema"]["required"]) == {"app_id", "app_secret", "token"}
    assert set(wechat["secret_fields"]) == {"app_secret", "token", "encoding_aes_key"}
    assert (
        types["feishu"]["config_schema"]["properties"]["api_base_url"]["default"] == "https://open.feishu.cn"
    )


def test_binding_keeps_secrets_encrypted_and_shows_hints(alice, bob, platform):
    bot_id = new_agent(alice)
    made = bind(alice, bot_id, "wechat_mp", wechat_config(platform), name="Service account")
    channel = made["channel"]
    assert channel["callback_url"].endswith(callback_path(made["id"]))
    assert channel["config"]["app_id"] == APP_ID and channel["config"]["app_secret"] != "wechat-app-secret"
    assert set(channel["secret_fields"]) == {"app_secret", "token", "encoding_aes_key"}
    row = Channel.get_by_id(int(made["id"]))
    assert "wechat-app-secret" not in row.secrets_encrypted and TOKEN not in row.secrets_encrypted
    assert "app_secret" not in row.config
    got = alice.post("/api/channel/get", {"id": made["id"]}).json()["data"]
    assert TOKEN not in json.dumps(got) and "wechat-app-secret" not in json.dumps(got)
    # what get shows can be sent back as it is: the hints leave the secrets alone
    changed = alice.post(
        "/api/channel/update", {"id": made["id"], "config": {**got["config"], "welcome_message": "Hi!"}}
    )
    assert changed.status_code == 200, changed.text
    from services import channels

    assert channels.settings_of(Channel.get_by_id(row.id))["token"] == TOKEN
    assert channels.settings_of(Channel.get_by_id(row.id))["welcome_message"] == "Hi!"
    listed = alice.post("/api/channel/list", {"space_id": space_of(alice)}).json()["data"]
    assert [c["id"] for c in listed["channels"]] == [made["id"]] and listed["total"] == 1
    assert_error(bob.post("/api/channel/get", {"id": made["id"]}), 404, 107000001)
    assert_error(bob.post("/api/channel/update", {"id": made["id"], "enabled": False}), 404, 107000001)
    assert Channel.get_by_id(row.id).enabled is True
    disabled = alice.post("/api/channel/update", {"id": made["id"], "enabled": False}).json()["data"]
    assert (disabled["enabled"], disabled["state"]) == (False, "disabled")
    assert alice.post("/api/channel/delete", {"id": made["id"]}).json()["code"] == 0
    assert Channel.get_or_none(Channel.id == row.id) is None


def test_bad_configuration_is_refused_and_changes_nothing(alice, bob, platform):
    bot_id = new_agent(alice)
    draft_only = new_agent(alice, publish=False)
    count = Channel.select().count()
    cases = [
        (
            {"bot_id": bot_id, "type": "wechat_mp", "config": {"app_id": APP_ID, "token": TOKEN}},
            400,
            107000000,
            "config.app_secret",
        ),
        (
            {"bot_id": bot_id, "type": "wechat_mp", "config": {**wechat_config(platform), "token": "x"}},
            400,
            107000000,
            "config.token",
        ),
        (
            {"bot_id": bot_id, "type": "wechat_mp", "config": {**wechat_config(platform), "extra": 1}},
            400,
            107000000,
            "extra",
        ),
        (
            {
                "bot_id": bot_id,
                "type": "wechat_mp",
                "config": {**wechat_config(platform, message_mode="safe"), "encoding_aes_key": None},
            },
            400,
            107000000,
            "config.encoding_aes_key",
        ),
        ({"bot_id": bot_id, "type": "telegram", "config": {}}, 400, 107000000, "type"),
        (
            {"bot_id": bot_id, "type": "webhook", "config": {"reply_mode": "callback"}},
            400,
            107000000,
            "config.callback_url",
        ),
        (
            {"bot_id": bot_id, "type": "webhook", "config": {"callback_url": "http://10.0.0.1/x"}},
            400,
            107000000,
            "config.callback_url",
        ),
        ({"bot_id": draft_only, "type": "webhook", "config": {}}, 404, 100000006, "bot_id"),
    ]
    for body, status, code, said in cases:
        assert_error(alice.post("/api/channel/create", body), status, code, said)
    assert_error(
        bob.post("/api/channel/create", {"bot_id": bot_id, "type": "webhook", "config": {}}), 404, 100000002
    )
    assert Channel.select().count() == count
    made = bind(alice, bot_id, "wechat_mp", wechat_config(platform))
    assert_error(
        alice.post("/api/channel/update", {"id": made["id"], "config": {"token": "!"}}),
        400,
        107000000,
        "config.token",
    )
    from services import channels

    assert channels.settings_of(Channel.get_by_id(int(made["id"])))["token"] == TOKEN


def test_connection_test_checks_the_credentials(alice, platform):
    bot_id = new_agent(alice)
    good = bind(alice, bot_id, "wechat_mp", wechat_config(platform))
    result = alice.post("/api/channel/test", {"id": good["id"]}).json()["data"]
    assert result["ok"] is True and platform.token_calls == 1
    bad = bind(alice, bot_id, "wechat_mp", wechat_config(platform, app_secret="wrong-secret"))
    result = alice.post("/api/channel/test", {"id": bad["id"]}).json()["data"]
    assert result["ok"] is False and "40125" in result["detail"]
    status = alice.post("/api/channel/status", {"id": bad["id"]}).json()["data"]
    assert status["state"] == "failing" and "40125" in status["last_error"]
    lark = bind(
        alice,
        bot_id,
        "feishu",
        {
            "app_id": "cli_app",
            "app_secret": "lark-app-secret",
            "verification_token": "vtoken",
            "api_base_url": platform.base,
        },
    )
    assert alice.post("/api/channel/test", {"id": lark["id"]}).json()["data"]["ok"] is True


# --- WeChat Official Account -------------------------------------------------------------------


def test_wechat_url_check(client, alice, platform):
    made = bind(alice, new_agent(alice), "wechat_mp", wechat_config(platform))
    stamp, nonce = str(int(time.time())), "abc"
    good = f"?signature={wx_signature(TOKEN, stamp, nonce)}&timestamp={stamp}&nonce={nonce}&echostr=echo123"
    response = client.get(callback_path(made["id"]) + good)
    assert response.status_code == 200 and response.text == "echo123"
    forged = (
        f"?signature={wx_signature('other', stamp, nonce)}&timestamp={stamp}&nonce={nonce}&echostr=echo123"
    )
    assert_error(client.get(callback_path(made["id"]) + forged), 403, 107000002, "signature")
    old = str(int(time.time()) - 3600)
    replayed = f"?signature={wx_signature(TOKEN, old, nonce)}&timestamp={old}&nonce={nonce}&echostr=e"
    assert_error(client.get(callback_path(made["id"]) + replayed), 403, 107000002, "timestamp")


def test_wechat_text_gets_a_passive_reply_in_a_conversation_per_openid(client, alice, platform):
    made = bind(alice, new_agent(alice), "wechat_mp", wechat_config(platform))
    response = wx_post(client, made["id"], wx_text("openid-A", "hello there", "10001"))
    assert response.status_code == 200, response.text
    assert xml_field(response.text, "MsgType") == "text"
    assert xml_field(response.text, "ToUserName") == "openid-A"
    assert xml_field(response.text, "FromUserName") == "gh_account"
    answer = xml_field(response.text, "Content")
    assert answer
    [message] = ChannelMessage.select().where(ChannelMessage.channel == int(made["id"]))
    assert (message.status, message.reply_via, message.reply, message.external_id) == (
        "replied",
        "passive",
        answer,
        "10001",
    )
    conversation = Conversation.get_by_id(message.conversation_id)
    assert conversation.meta_data["channel_user"] == "openid-A"
    said = [
        m.content
        for m in Message.select().where(Message.conversation == conversation.id).order_by(Message.id)
    ]
    assert said[0] == "hello there" and answer in said
    # the same follower again: the same conversation; another follower: their own
    wx_post(client, made["id"], wx_text("openid-A", "and again", "10002"))
    wx_post(client, made["id"], wx_text("openid-B", "hi", "10003"))
    links = {
        u.external_id: u.conversation_id
        for u in ChannelUser.select().where(ChannelUser.channel == int(made["id"]))
    }
    assert links["openid-A"] == conversation.id and links["openid-B"] != conversation.id
    turns = Message.select().where(
        Message.conversation == conversation.id, Message.type.in_(["question", "answer"])
    )
    assert turns.count() == 4


def test_wechat_retried_msgid_is_answered_once(client, alice, platform):
    made = bind(alice, new_agent(alice), "wechat_mp", wechat_config(platform))
    xml = wx_text("openid-R", "once only", "20001")
    first = wx_post(client, made["id"], xml)
    assert xml_field(first.text, "Content")
    again = wx_post(client, made["id"], xml, nonce="retry")
    assert again.status_code == 200 and again.text == "success"
    assert recorded(made["id"]) == 1
    conversation_id = ChannelMessage.get(ChannelMessage.channel == int(made["id"])).conversation_id
    assert (
        Message.select().where(Message.conversation == conversation_id, Message.type == "question").count()
        == 1
    )


def test_wechat_late_answers_go_through_the_customer_service_api(client, alice, platform):
    made = bind(alice, new_agent(alice), "wechat_mp", wechat_config(platform, passive_reply_seconds=0))
    response = wx_post(client, made["id"], wx_text("openid-L", "take your time", "30001"))
    assert response.text == "success"
    [sent] = platform.wait_sent(1)
    assert sent["touser"] == "openid-L" and sent["msgtype"] == "text" and sent["token"] == "WXTOKEN1"
    deadline = time.monotonic() + 10
    while ChannelMessage.get(ChannelMessage.external_id == "30001").status != "replied":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    message = ChannelMessage.get(ChannelMessage.external_id == "30001")
    assert message.reply_via == "api" and message.reply == sent["text"]["content"]
    # the token is kept for the next message
    wx_post(client, made["id"], wx_text("openid-L", "more", "30002"))
    platform.wait_sent(2)
    assert platform.token_calls == 1


def test_wechat_failed_sends_are_retried(client, alice, platform, settings_override):
    made = bind(alice, new_agent(alice), "wechat_mp", wechat_config(platform, passive_reply_seconds=0))
    platform.failures = 1
    wx_post(client, made["id"], wx_text("openid-F", "hello", "31001"))
    [sent] = platform.wait_sent(1, timeout=20)
    assert sent["touser"] == "openid-F"
    deadline = time.monotonic() + 10
    while (message := ChannelMessage.get(ChannelMessage.external_id == "31001")).status != "replied":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert message.attempts == 2


def test_wechat_safe_mode(client, alice, platform):
    made = bind(alice, new_agent(alice), "wechat_mp", wechat_config(platform, message_mode="safe"))
    stamp = str(int(time.time()))
    response = wx_post_safe(
        client, made["id"], wx_text("openid-S", "secret hello", "40001"), stamp=stamp, nonce="n9"
    )
    assert response.status_code == 200, response.text
    encrypted = xml_field(response.text, "Encrypt")
    assert xml_field(response.text, "MsgSignature") == wx_signature(
        TOKEN, xml_field(response.text, "TimeStamp"), xml_field(response.text, "Nonce"), encrypted
    )
    reply = wx_decrypt(encrypted, APP_ID)
    assert xml_field(reply, "ToUserName") == "openid-S" and xml_field(reply, "Content")
    # a plain message is refused in safe mode, and so are forged and foreign ciphertexts
    assert_error(
        wx_post(client, made["id"], wx_text("openid-S", "plain", "40002")), 403, 107000002, "safe mode"
    )
    assert_error(
        wx_post_safe(client, made["id"], wx_text("openid-S", "x", "40003"), msg_signature="0" * 40),
        403,
        107000002,
        "msg_signature",
    )
    assert_error(
        wx_post_safe(client, made["id"], wx_text("openid-S", "x", "40004"), receiver="wxotherapp000000"),
        403,
        107000002,
        "AppID",
    )
    assert recorded(made["id"]) == 1


def test_wechat_forged_replayed_and_malformed_are_refused_with_nothing_recorded(client, alice, platform):
    made = bind(alice, new_agent(alice), "wechat_mp", wechat_config(platform))
    conversations_before = Conversation.select().count()
    assert_error(
        wx_post(client, made["id"], wx_text("o", "x", "1"), token="notthetoken"), 403, 107000002, "signature"
    )
    assert_error(
        wx_post(client, made["id"], wx_text("o", "x", "2"), stamp=int(time.time()) - 900),
        403,
        107000002,
        "timestamp",
    )
    assert_error(wx_post(client, made["id"], "<xml><ToUserName>broken"), 400, 107000000, "XML")
    assert_error(
        wx_post(client, made["id"], "<xml><MsgType>text</MsgType></xml>"), 400, 107000000, "ToUserName"
    )
    bomb = '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><xml><ToUserName>&a;</ToUserName></xml>'
    assert wx_post(client, made["id"], bomb).status_code == 400
    assert_error(
        client.post(
            callback_path("12345") + "?timestamp=1", content=b"<xml/>", headers={"Content-Type": "text/xml"}
        ),
        404,
        107000001,
    )
    assert recorded(made["id"]) == 0 and Conversation.select().count() == conversations_before


def test_wechat_follow_gets_the_welcome_and_unfollow_is_recorded(client, alice, platform):
    made = bind(
        alice, new_agent(alice), "wechat_mp", wechat_config(platform, welcome_message="Welcome aboard!")
    )
    wx_post(client, made["id"], wx_text("openid-W", "hi", "50001"))
    response = wx_post(client, made["id"], wx_event("openid-W", "subscribe"))
    assert xml_field(response.text, "Content") == "Welcome aboard!"
    response = wx_post(client, made["id"], wx_event("openid-W", "unsubscribe"))
    assert response.text == "success"
    assert ChannelUser.get(ChannelUser.external_id == "openid-W").subscribed is False
    kinds = {
        m.kind: m.status for m in ChannelMessage.select().where(ChannelMessage.channel == int(made["id"]))
    }
    assert kinds == {"text": "replied", "event:subscribe": "replied", "event:unsubscribe": "ignored"}


def test_disabled_channel_refuses_messages_but_answers_the_url_check(client, alice, platform):
    made = bind(alice, new_agent(alice), "wechat_mp", wechat_config(platform), enabled=False)
    assert_error(wx_post(client, made["id"], wx_text("o", "x", "60001")), 409, 107000003)
    stamp = str(int(time.time()))
    query = f"?signature={wx_signature(TOKEN, stamp, 'n')}&timestamp={stamp}&nonce=n&echostr=ok"
    assert client.get(callback_path(made["id"]) + query).text == "ok"
    assert recorded(made["id"]) == 0


# --- WeCom ---------------------------------------------------------------------------------------


def wecom_config(platform, **extra) -> dict:
    return {
        "corp_id": CORP_ID,
        "agent_id": 1000002,
        "corp_secret": "wecom-secret",
        "token": TOKEN,
        "encoding_aes_key": AES_KEY,
        "api_base_url": platform.base,
        **extra,
    }


def wecom_post(client, channel_id, xml: str, *, receiver=CORP_ID, stamp=None, nonce="wn"):
    stamp = str(int(time.time()) if stamp is None else stamp)
    encrypted = wx_encrypt(xml, receiver)
    outer = (
        f"<xml><ToUserName>{CORP_ID}</ToUserName><AgentID>1000002</AgentID>"
        f"<Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>"
    )
    query = f"?msg_signature={wx_signature(TOKEN, stamp, nonce, encrypted)}&timestamp={stamp}&nonce={nonce}"
    return client.post(
        callback_path(channel_id) + query, content=outer.encode(), headers={"Content-Type": "text/xml"}
    )


def test_wecom_url_check_and_encrypted_messages(client, alice, platform):
    made = bind(alice, new_agent(alice), "wecom", wecom_config(platform))
    stamp, nonce = str(int(time.time())), "vn"
    echo = wx_encrypt("plain-echo-42", CORP_ID)
    from urllib.parse import quote

    signature = wx_signature(TOKEN, stamp, nonce, echo)
    query = f"?msg_signature={signature}&timestamp={stamp}&nonce={nonce}&echostr={quote(echo)}"
    response = client.get(callback_path(made["id"]) + query)
    assert response.status_code == 200 and response.text == "plain-echo-42"
    forged_query = f"?msg_signature={'1' * 40}&timestamp={stamp}&nonce={nonce}&echostr={quote(echo)}"
    assert_error(client.get(callback_path(made["id"]) + forged_query), 403, 107000002)

    xml = wx_text("zhangsan", "hello wecom", "70001", to=CORP_ID).replace(
        "</xml>", "<AgentID>1000002</AgentID></xml>"
    )
    response = wecom_post(client, made["id"], xml)
    assert response.status_code == 200, response.text
    reply = wx_decrypt(xml_field(response.text, "Encrypt"), CORP_ID)
    assert xml_field(reply, "ToUserName") == "zhangsan" and xml_field(reply, "Content")
    stale = wecom_post(client, made["id"], xml.replace("70001", "70005"), stamp=int(time.time()) - 600)
    assert_error(stale, 403, 107000002, "timestamp")
    broken = client.post(
        callback_path(made["id"]) + f"?msg_signature=x&timestamp={int(time.time())}&nonce=n",
        content=b"<xml><Encrypt>",
        headers={"Content-Type": "text/xml"},
    )
    assert_error(broken, 400, 107000000, "XML")
    assert_error(
        wecom_post(client, made["id"], xml.replace("70001", "70002"), receiver="wwothercorp"),
        403,
        107000002,
        "CorpID",
    )
    assert recorded(made["id"]) == 1


def test_wecom_late_answer_goes_through_the_message_api(client, alice, platform):
    made = bind(alice, new_agent(alice), "wecom", wecom_config(platform, passive_reply_seconds=0))
    xml = wx_text("lisi", "later please", "71001", to=CORP_ID)
    assert wecom_post(client, made["id"], xml).text == "success"
    [sent] = platform.wait_sent(1)
    assert (sent["api"], sent["touser"], sent["agentid"], sent["token"]) == (
        "wecom",
        "lisi",
        1000002,
        "WWTOKEN",
    )


# --- Feishu / Lark ------------------------------------------------------------------------------


def lark_config(platform, **extra) -> dict:
    return {
        "app_id": "cli_app",
        "app_secret": "lark-app-secret",
        "verification_token": "vtoken",
        "api_base_url": platform.base,
        **extra,
    }


def test_feishu_challenge_and_plain_messages(client, alice, platform):
    made = bind(alice, new_agent(alice), "feishu", lark_config(platform))
    path = callback_path(made["id"])
    challenge = {"challenge": "ch-123", "token": "vtoken", "type": "url_verification"}
    response = client.post(path, json=challenge)
    assert response.status_code == 200 and response.json() == {"challenge": "ch-123"}
    assert_error(
        client.post(path, json={**challenge, "token": "wrong"}), 403, 107000002, "Verification Token"
    )
    event = lark_message("@_user_1 hello lark", "ev-1", "om_msg1")
    response = client.post(path, json=event)
    assert response.status_code == 200 and response.json()["code"] == 0
    [sent] = platform.wait_sent(1)
    assert sent["message_id"] == "om_msg1" and sent["auth"] == "Bearer t-lark" and sent["msg_type"] == "text"
    assert json.loads(sent["content"])["text"]
    message = ChannelMessage.get(ChannelMessage.external_id == "ev-1")
    assert message.content == "hello lark"
    # Feishu redelivers an event it thinks was lost: the same event_id is ignored
    assert client.post(path, json=event).status_code == 200
    time.sleep(0.3)
    assert len(platform.sent) == 1 and recorded(made["id"]) == 1
    assert_error(client.post(path, json=lark_message("x", "ev-2", "om_2", token="forged")), 403, 107000002)
    assert_error(
        client.post(path, content=b"{not json", headers={"Content-Type": "application/json"}),
        400,
        107000000,
        "JSON",
    )
    assert recorded(made["id"]) == 1


def test_feishu_encrypted_and_signed_events(client, alice, platform):
    key = "lark-encrypt-key-1"
    made = bind(alice, new_agent(alice), "feishu", lark_config(platform, encrypt_key=key))
    path = callback_path(made["id"])
    challenge = json.dumps(
        {"encrypt": lark_encrypt(key, {"challenge": "c2", "token": "vtoken", "type": "url_verification"})}
    ).encode()
    assert client.post(path, content=challenge, headers={"Content-Type": "application/json"}).json() == {
        "challenge": "c2"
    }
    body = json.dumps({"encrypt": lark_encrypt(key, lark_message("encrypted hi", "ev-e1", "om_e1"))}).encode()
    response = client.post(path, content=body, headers=lark_headers(key, body))
    assert response.status_code == 200, response.text
    [sent] = platform.wait_sent(1)
    assert sent["message_id"] == "om_e1"
    other = json.dumps({"encrypt": lark_encrypt(key, lark_message("x", "ev-e2", "om_e2"))}).encode()
    assert_error(
        client.post(path, content=other, headers=lark_headers("wrong-key", other)),
        403,
        107000002,
        "X-Lark-Signature",
    )
    stale = lark_headers(key, other, stamp=int(time.time()) - 3600)
    assert_error(client.post(path, content=other, headers=stale), 403, 107000002, "Timestamp")
    unsigned = {"Content-Type": "application/json"}
    assert_error(client.post(path, content=other, headers=unsigned), 403, 107000002, "missing")
    plain = json.dumps(lark_message("x", "ev-e3", "om_e3")).encode()
    assert_error(
        client.post(path, content=plain, headers=lark_headers(key, plain)), 403, 107000002, "encrypt"
    )
    assert recorded(made["id"]) == 1


# --- the generic webhook ------------------------------------------------------------------------


def test_generic_webhook_answers_in_the_response(client, alice):
    made = bind(alice, new_agent(alice), "webhook", {})
    secret = made["secrets"]["secret"]
    assert len(secret) >= 32 and secret not in json.dumps(made["channel"])
    body = json.dumps({"user_id": "crm-42", "text": "what's up", "message_id": "m-1"}).encode()
    response = client.post(callback_path(made["id"]), content=body, headers=hmac_headers(secret, body))
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert data["status"] == "replied" and data["answer"] and data["message_id"] == "m-1"
    assert Conversation.get_by_id(int(data["conversation_id"])).meta_data["channel_user"] == "crm-42"
    again = client.post(callback_path(made["id"]), content=body, headers=hmac_headers(secret, body)).json()[
        "data"
    ]
    assert again == data and recorded(made["id"]) == 1
    for headers, said in [
        (hmac_headers("not-the-secret-0000000", body), "secret"),
        (hmac_headers(secret, body, stamp=int(time.time()) - 1000), "t:"),
        ({"Content-Type": "application/json"}, "missing"),
    ]:
        assert_error(
            client.post(callback_path(made["id"]), content=body, headers=headers), 403, 107000002, said
        )
    for bad, said in [(b"[1,2]", "object"), (b'{"user_id": "u"}', "text"), (b'{"text": "t"', "JSON")]:
        assert_error(
            client.post(callback_path(made["id"]), content=bad, headers=hmac_headers(secret, bad)),
            400,
            107000000,
            said,
        )
    assert recorded(made["id"]) == 1


def test_generic_webhook_posts_answers_to_its_callback(client, alice, platform):
    config = {"secret": WEBHOOK_SECRET, "reply_mode": "callback", "callback_url": platform.base + "/callback"}
    made = bind(alice, new_agent(alice), "webhook", config)
    assert made["secrets"] == {}
    assert alice.post("/api/channel/test", {"id": made["id"]}).json()["data"]["ok"] is True
    body = json.dumps({"user_id": "crm-7", "text": "call me back"}).encode()
    response = client.post(
        callback_path(made["id"]), content=body, headers=hmac_headers(WEBHOOK_SECRET, body)
    )
    assert response.json()["data"]["status"] == "answering"
    sent = platform.wait_sent(2)
    ping, reply = sent
    assert ping["event"] == "channel.ping" and ping["valid"]
    assert reply["event"] == "channel.reply" and reply["valid"] and reply["data"]["user_id"] == "crm-7"
    assert reply["data"]["answer"]
    messages = alice.post("/api/channel/messages", {"id": made["id"]}).json()["data"]
    assert messages["total"] == 1 and messages["messages"][0]["reply_via"] == "callback"


def test_a_reply_lost_with_its_process_is_sent_after_recovery(client, alice, platform):
    from test_recovery import a_finished_pid, dead_instance

    from models.conversation import ChatRun
    from services import recovery

    made = bind(alice, new_agent(alice), "wechat_mp", wechat_config(platform, passive_reply_seconds=0))
    wx_post(client, made["id"], wx_text("openid-X", "hello", "80001"))
    platform.wait_sent(1)
    message = ChannelMessage.get(ChannelMessage.external_id == "80001")
    # as if the process died mid-answer: the chat still running, the reply not yet sent
    worker = dead_instance(host=recovery._HOST, pid=a_finished_pid(), heartbeat_at=int(time.time()))
    ChatRun.update(status="in_progress", worker_id=worker.id).where(ChatRun.id == message.chat_id).execute()
    ChannelMessage.update(status="answering", reply="", attempts=0).where(
        ChannelMessage.id == message.id
    ).execute()
    done = recovery.reap()
    assert message.id in done["channel_replies"] or ChannelMessage.get_by_id(message.id).status != "answering"
    sent = platform.wait_sent(2)
    assert sent[1]["touser"] == "openid-X" and sent[1]["text"]["content"] == wechat_config(platform).get(
        "error_reply", "Sorry, I could not answer that just now. Please try again."
    )
    deadline = time.monotonic() + 10
    while (row := ChannelMessage.get_by_id(message.id)).status == "answering":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert row.status == "failed" and "server stopped" in row.last_error


def test_secrets_that_cannot_be_read_are_a_clear_refusal(client, alice, platform):
    made = bind(alice, new_agent(alice), "wechat_mp", wechat_config(platform))
    Channel.update(secrets_encrypted="not-a-fernet-token").where(Channel.id == int(made["id"])).execute()
    assert_error(wx_post(client, made["id"], wx_text("o", "x", "90001")), 409, 107000003, "set them again")
    result = alice.post("/api/channel/test", {"id": made["id"]}).json()["data"]
    assert result["ok"] is False and "secret key changed" in result["detail"]
    assert recorded(made["id"]) == 0
    # entering them again mends it
    changed = alice.post("/api/channel/update", {"id": made["id"], "config": wechat_config(platform)})
    assert changed.status_code == 200, changed.text
    assert xml_field(wx_post(client, made["id"], wx_text("o", "x", "90002")).text, "Content")
