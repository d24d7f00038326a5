"""kill -9 a real server while it ingests a document and streams a chat; after the restart the
document is processed again to the end and the chat is failed with a reason, both at once."""

from __future__ import annotations

import http.server
import json
import os
import signal
import threading
import time

import httpx
from conftest import ADMIN_EMAIL, ADMIN_PASSWORD, run_cli, start_server
from test_chat import chat_body

PAGE = b"<html><body><h1>Shipping</h1><p>Parcels leave the Lyon depot every morning at six.</p></body></html>"


class SlowPage(http.server.BaseHTTPRequestHandler):
    """Holds the first request until released: the server is killed while it waits."""

    requested = threading.Event()
    release = threading.Event()

    def do_GET(self):
        SlowPage.requested.set()
        SlowPage.release.wait(30)
        try:
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(PAGE)))
            self.end_headers()
            self.wfile.write(PAGE)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server that asked was killed

    def log_message(self, *args):
        pass


def test_kill_9_mid_ingestion_and_mid_stream(tmp_path):
    page_server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), SlowPage)
    threading.Thread(target=page_server.serve_forever, daemon=True).start()
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}  # its own SQLite database
    env.update(
        COZEPLUS_DATA_DIR=str(tmp_path / "data"),
        COZEPLUS_ADMIN_PASSWORD=ADMIN_PASSWORD,
        COZEPLUS_LOG_LEVEL="WARNING",
        COZEPLUS_KNOWLEDGE_ALLOW_PRIVATE_URLS="1",
        COZEPLUS_OFFLINE_MODEL_DELAY_MS="0",
    )
    run_cli(env, "migrate", check=True)
    server, base = start_server(env)
    try:
        token = httpx.post(
            f"{base}/api/passport/web/email/login/", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
        ).json()["data"]["token"]
        http_client = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30)
        space = http_client.post("/api/playground_api/space/list", json={}).json()["data"]["bot_space_list"][
            0
        ]["id"]
        dataset = http_client.post("/api/knowledge/create", json={"name": "Pages", "space_id": space}).json()[
            "data"
        ]["dataset_id"]
        url = f"http://127.0.0.1:{page_server.server_port}/shipping"
        document = http_client.post(
            "/api/knowledge/document/create",
            json={
                "dataset_id": dataset,
                "document_bases": [{"name": "shipping", "source_info": {"web_url": url}}],
            },
        ).json()["data"]["document_infos"][0]["document_id"]
        assert SlowPage.requested.wait(20), "the document's processing never fetched the page"

        bot = http_client.post("/api/draftbot/create", json={"name": "Crash agent"}).json()["data"]["bot_id"]
        http_client.post("/v1/bot/publish", json={"bot_id": bot, "connector_ids": ["1024"]})
        chat_ids: dict = {}
        story = chat_body(bot, "/slow 1000\nTell me a long story")
        with http_client.stream("POST", "/v3/chat", json=story) as stream:
            for line in stream.iter_lines():
                if line.startswith("data:") and "conversation_id" in line:
                    data = json.loads(line[5:])
                    chat_ids.setdefault("chat", data.get("chat_id") or data.get("id"))
                    chat_ids.setdefault("conversation", data["conversation_id"])
                if line.startswith("event:") and "message.delta" in line:
                    server.send_signal(signal.SIGKILL)  # mid-ingestion and mid-stream
                    server.wait(10)
                    break
        assert server.returncode == -signal.SIGKILL
    finally:
        if server.poll() is None:
            server.kill()
    SlowPage.release.set()

    restarted, base = start_server(env)
    try:
        started = time.monotonic()
        http_client = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30)
        chat = http_client.get(
            f"/v3/chat/retrieve?conversation_id={chat_ids['conversation']}&chat_id={chat_ids['chat']}"
        ).json()["data"]
        assert chat["status"] == "failed" and "server stopped" in chat["last_error"]["msg"], chat
        while True:
            states = http_client.post(
                "/api/knowledge/document/progress/get", json={"document_ids": [document]}
            ).json()["data"]["data"]
            if states[0]["status"] not in (0, 4):
                break
            assert time.monotonic() - started < 20, states
            time.sleep(0.1)
        assert states[0]["status"] == 1, states  # processed again, to the end
        hits = http_client.post(
            "/api/knowledge/retrieve", json={"dataset_ids": [dataset], "query": "Lyon depot"}
        ).json()["data"]
        assert any("six" in hit["content"] for hit in hits["slices"]), hits
        print(f"\nrecovered {time.monotonic() - started:.2f} s after the restart answered")
    finally:
        restarted.terminate()
        restarted.wait(10)
        page_server.shutdown()
