"""The time from a WeChat message arriving to its reply, with the offline model: one uvicorn
worker, SQLite, a WeChat Official Account channel on a published agent.

- passive: plain-mode and safe-mode (AES) messages, each answered in the response; measured
  from sending the request to having the reply XML.
- API: `passive_reply_seconds: 0`, so the response is `success` and the answer goes through the
  customer-service API (a local fake of WeChat's); measured from sending the message to the
  fake API receiving the answer.
- baseline, in the same run: the same agent's answer through /v3/chat (stream), from sending
  the request to its last event, and a bare GET /healthz.

    python -m bench.channels [--messages 40] [--rounds 3]

Reports medians over rounds of each round's p50 and p95 (milliseconds)."""

from __future__ import annotations

import argparse
import hashlib
import shutil
import statistics
import tempfile
import threading
import time
from pathlib import Path

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from wechatpy.crypto import WeChatCrypto

from bench.harness import PASSWORD, ROOT, free_port, migrate, server_env, start_uvicorn

TOKEN, APP_ID = "benchtoken1", "wx0123456789abcdef"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"


class FakeWeChat:
    def __init__(self):
        self.arrived: dict[str, float] = {}  # openid -> when its answer came

        async def token(request: Request):
            return JSONResponse({"access_token": "BENCH", "expires_in": 7200})

        async def send(request: Request):
            self.arrived[(await request.json())["touser"]] = time.perf_counter()
            return JSONResponse({"errcode": 0, "errmsg": "ok"})

        app = Starlette(
            routes=[
                Route("/cgi-bin/token", token),
                Route("/cgi-bin/message/custom/send", send, methods=["POST"]),
            ]
        )
        self.port = free_port()
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        )
        threading.Thread(target=self.server.run, daemon=True).start()
        while not self.server.started:
            time.sleep(0.02)


def text_xml(openid: str, msg_id: int) -> str:
    return (
        f"<xml><ToUserName><![CDATA[gh_bench]]></ToUserName><FromUserName><![CDATA[{openid}]]></FromUserName>"
        f"<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
        f"<Content><![CDATA[What time do you open?]]></Content><MsgId>{msg_id}</MsgId></xml>"
    )


def signed_query(safe_body: str | None = None) -> tuple[str, str]:
    stamp, nonce = str(int(time.time())), f"n{time.perf_counter_ns()}"
    signature = hashlib.sha1("".join(sorted([TOKEN, stamp, nonce])).encode()).hexdigest()
    query = f"?signature={signature}&timestamp={stamp}&nonce={nonce}"
    if safe_body is None:
        return query, ""
    outer = WeChatCrypto(TOKEN, AES_KEY, APP_ID).encrypt_message(safe_body, nonce, stamp)
    msg_signature = outer.split("<MsgSignature><![CDATA[")[1].split("]]>")[0]
    return query + f"&encrypt_type=aes&msg_signature={msg_signature}", outer


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered) * 1000, ordered[max(0, int(len(ordered) * 0.95) - 1)] * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    wechat = FakeWeChat()
    data_dir = Path(tempfile.mkdtemp(prefix="cozeplus-bench-channels-"))
    env = server_env(data_dir, COZEPLUS_OUTBOUND_ALLOW=f"127.0.0.1:{wechat.port}")
    migrate(env)
    server, base = start_uvicorn("core.asgi:create", env, cwd=ROOT)
    results: dict[str, list[tuple[float, float]]] = {
        "plain": [],
        "safe": [],
        "api": [],
        "chat": [],
        "healthz": [],
    }
    counter = iter(range(10**9))
    try:
        login = {"email": "admin@example.com", "password": PASSWORD}
        token = httpx.post(base + "/api/passport/web/email/login/", json=login).json()["data"]["token"]
        client = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=60)
        bot_id = client.post("/api/draftbot/create", json={"name": "Front desk"}).json()["data"]["bot_id"]
        client.post("/v1/bot/publish", json={"bot_id": bot_id, "connector_ids": ["1024"]}).raise_for_status()
        config = {"app_id": APP_ID, "app_secret": "s", "token": TOKEN, "encoding_aes_key": AES_KEY}
        config["api_base_url"] = f"http://127.0.0.1:{wechat.port}"
        channels = {}
        for name, extra in (
            ("plain", {}),
            ("safe", {"message_mode": "safe"}),
            ("api", {"passive_reply_seconds": 0}),
        ):
            made = client.post(
                "/api/channel/create",
                json={"bot_id": bot_id, "type": "wechat_mp", "config": {**config, **extra}},
            ).json()
            channels[name] = made["data"]["id"]
        public = httpx.Client(base_url=base, timeout=60)
        xml_headers = {"Content-Type": "text/xml"}
        for _ in range(args.rounds):
            for name in ("plain", "safe"):
                took = []
                for _ in range(args.messages):
                    n = next(counter)
                    xml = text_xml(f"o{n % 50}", n)
                    query, outer = signed_query(xml if name == "safe" else None)
                    began = time.perf_counter()
                    answer = public.post(
                        f"/api/channel/callback/{channels[name]}{query}",
                        content=(outer or xml).encode(),
                        headers=xml_headers,
                    )
                    took.append(time.perf_counter() - began)
                    if answer.status_code != 200 or "<xml>" not in answer.text:
                        raise SystemExit(f"{name}: {answer.status_code} {answer.text[:200]}")
                results[name].append(percentiles(took))
            took = []
            for _ in range(args.messages):
                n = next(counter)
                openid = f"api{n}"
                query, _ = signed_query()
                began = time.perf_counter()
                public.post(
                    f"/api/channel/callback/{channels['api']}{query}",
                    content=text_xml(openid, n).encode(),
                    headers=xml_headers,
                )
                deadline = began + 30
                while openid not in wechat.arrived and time.perf_counter() < deadline:
                    time.sleep(0.0005)
                if openid not in wechat.arrived:
                    raise SystemExit("a customer-service reply did not arrive")
                took.append(wechat.arrived[openid] - began)
            results["api"].append(percentiles(took))
            took, bare = [], []
            body = {
                "bot_id": bot_id,
                "user_id": "bench",
                "stream": True,
                "additional_messages": [
                    {"role": "user", "content": "What time do you open?", "content_type": "text"}
                ],
            }
            for _ in range(args.messages):
                began = time.perf_counter()
                client.post("/v3/chat", json=body).read()
                took.append(time.perf_counter() - began)
                began = time.perf_counter()
                public.get("/healthz")
                bare.append(time.perf_counter() - began)
            results["chat"].append(percentiles(took))
            results["healthz"].append(percentiles(bare))
    finally:
        server.terminate()
        server.wait(timeout=30)
        wechat.server.should_exit = True
        shutil.rmtree(data_dir, ignore_errors=True)
    med = {
        k: (statistics.median(p for p, _ in v), statistics.median(q for _, q in v))
        for k, v in results.items()
    }
    print(f"WeChat message to reply, offline model, 1 worker, sqlite, {args.rounds} rounds x {args.messages}")
    labels = {
        "plain": "passive reply, plain mode",
        "safe": "passive reply, safe mode (AES)",
        "api": "through the customer-service API",
        "chat": "baseline: /v3/chat stream, to its last event",
        "healthz": "baseline: GET /healthz",
    }
    for key, label in labels.items():
        p50, p95 = med[key]
        print(f"  {label}: p50 {p50:.1f} ms, p95 {p95:.1f} ms")
    chat = med["chat"][0]
    print(
        f"  ratio to /v3/chat p50: plain {med['plain'][0] / chat:.2f}, safe {med['safe'][0] / chat:.2f}, "
        f"API {med['api'][0] / chat:.2f}"
    )


if __name__ == "__main__":
    main()
