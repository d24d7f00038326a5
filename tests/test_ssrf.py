"""Server-side request forgery on every outbound path a user controls, in one walk.

Each path (a plugin's server, a workflow's HTTP node, a knowledge document's URL, a webhook, a
channel's callback) is pointed at four URLs:

- a public service (the control: the path really calls out);
- a private address directly;
- the public service, which redirects three times and then inward;
- a name that resolves to the public address first and to the private one after (DNS rebinding
  between saving a URL and calling it);
- a name that resolves to the public address when the guard asks and to the private one when
  anything else does (rebinding between the guard's check and the connection).

Behind the private address (127.0.0.1) a canary records every request: it must see none. The
"public" service is 127.0.0.3, which the test settings admit as if it were public; the canary
listens on the same port, so only the address differs."""

from __future__ import annotations

import http.server
import json
import socket
import sys
import threading
import time
import types

import pytest
from test_channels import WEBHOOK_SECRET
from test_chat import new_agent
from test_knowledge import make_dataset, wait_done
from test_memory import space_of
from test_plugins import debug, oauth_manifest, register_mcp, register_plugin, tools_of
from test_workflow_calls import one_node, run
from test_workflow_canvas import literal, ref
from test_workflow_engine import node
from test_workflow_runs import published

from tests.fake_openai import MODEL_HOST

INWARD = "127.0.0.1"
REBINDING = "rebind.example"
AFTER_CHECK = "after-check.example"


class Host:
    """An HTTP service on one address that records what reaches it. `/r/<n>/<rest>` redirects
    (307, so a POST stays a POST) to `/r/<n-1>/<rest>`, and `/r/0/<rest>` to the inward address."""

    def __init__(self, address: str, port: int):
        self.address, self.port = address, port
        self.received: list[tuple[str, str]] = []
        host = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def answer(self):
                length = int(self.headers.get("content-length") or 0)
                self.rfile.read(length)
                host.received.append((self.command, self.path))
                parts = self.path.split("/", 3)
                if len(parts) >= 3 and parts[1] == "r" and parts[2].isdigit():
                    hops, rest = int(parts[2]), parts[3] if len(parts) > 3 else ""
                    target = f"/r/{hops - 1}/{rest}" if hops else f"http://{INWARD}:{host.port}/{rest}"
                    self.send_response(307)
                    self.send_header("Location", target)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body = json.dumps({"ok": True, "high": 21.5}).encode()
                # an MCP client waits for a session on a 200 it cannot read: a quick refusal
                self.send_response(404 if self.path.endswith("/mcp") else 200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = do_DELETE = answer

        self.server = http.server.ThreadingHTTPServer((address, port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def hosts():
    """(the public service, the canary), on one port of two addresses."""
    for _ in range(20):
        with socket.socket() as probe:
            probe.bind((MODEL_HOST, 0))
            port = probe.getsockname()[1]
        try:
            public = Host(MODEL_HOST, port)
        except OSError:
            continue
        try:
            canary = Host(INWARD, port)
        except OSError:
            public.close()
            continue
        yield public, canary
        public.close()
        canary.close()
        return
    raise RuntimeError("no port free on both addresses")


@pytest.fixture
def rebinding(monkeypatch, hosts):
    """REBINDING resolves to the public address once, then to the inward one; AFTER_CHECK to the
    public address when the guard asks, else to the inward one."""
    real = socket.getaddrinfo
    answers: list[str] = []

    def resolve(host, port, *args, **kwargs):
        if host not in (REBINDING, AFTER_CHECK):
            return real(host, port, *args, **kwargs)
        if host == REBINDING:
            address = MODEL_HOST if not answers else INWARD
        else:
            asked_by_guard = sys._getframe(1).f_globals.get("__name__") == "services.webfetch"
            address = MODEL_HOST if asked_by_guard else INWARD
        answers.append(address)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, int(port)))]

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    return answers


# Each path: point it at `base` and make it call out; the text of what the user was told.


def through_a_plugin(account, base: str) -> str:
    response = register_plugin(account, base)
    if response.json().get("code") != 0:
        return response.text  # refused when saved
    plugin_id = response.json()["data"]["plugin_id"]
    tool = tools_of(account, plugin_id)["get_forecast"]
    return debug(account, plugin_id, tool["api_id"], {"city": "Oslo"}).text


def through_an_oauth_token_url(account, base: str) -> str:
    """A tool of a plugin whose client-credentials token comes from `base`: asked first."""
    auth = oauth_manifest(types.SimpleNamespace(url=base + "/api"), "client_credentials")
    response = register_plugin(account, base, ai_plugin=auth)
    if response.json().get("code") != 0:
        return response.text
    plugin_id = response.json()["data"]["plugin_id"]
    tool = tools_of(account, plugin_id)["get_forecast"]
    return debug(account, plugin_id, tool["api_id"], {"city": "Oslo"}).text


def through_an_mcp_server(account, base: str) -> str:
    return register_mcp(account, base + "/mcp").text  # registering lists the server's tools


def through_an_http_node(account, base: str) -> str:
    request = node(
        "2",
        "45",
        {"apiInfo": {"method": "POST", "url": base + "/notes"}, "body": {"bodyType": "EMPTY"}},
        [{"name": "body", "type": "string"}, {"name": "statusCode", "type": "integer"}],
    )
    request["data"]["inputs"]["headers"] = [{"name": "X-Trace", "input": literal("t")}]
    workflow_id = published(account, one_node(request, body=ref("2", "body")), "caller")
    return json.dumps(run(account, workflow_id, q="x"))


def through_a_document_url(account, base: str) -> str:
    dataset_id = make_dataset(account)
    response = account.post(
        "/api/knowledge/document/create",
        {"dataset_id": dataset_id, "document_bases": [{"source_info": {"web_url": base + "/page.html"}}]},
    )
    if response.json().get("code") != 0:
        return response.text
    [document] = response.json()["data"]["document_infos"]
    return json.dumps(wait_done(account, [document["document_id"]]))


def through_a_webhook(account, base: str) -> str:
    response = account.post(
        "/api/webhook/create",
        {"space_id": space_of(account), "url": base + "/hook", "events": ["agent.published"]},
    )
    if response.json().get("code") != 0:
        return response.text
    return account.post("/api/webhook/test", {"id": response.json()["data"]["id"]}).text


def through_a_channel_callback(account, base: str) -> str:
    config = {"secret": WEBHOOK_SECRET, "reply_mode": "callback", "callback_url": base + "/callback"}
    response = account.post(
        "/api/channel/create", {"bot_id": new_agent(account), "type": "webhook", "config": config}
    )
    if response.json().get("code") != 0:
        return response.text
    return account.post("/api/channel/test", {"id": response.json()["data"]["id"]}).text


PATHS = [
    through_a_plugin,
    through_an_oauth_token_url,
    through_an_mcp_server,
    through_an_http_node,
    through_a_document_url,
    through_a_webhook,
    through_a_channel_callback,
]
ATTACKS = ["control", "direct", "redirects", "rebinding", "rebinding after the check"]


@pytest.mark.parametrize("attack", ATTACKS)
@pytest.mark.parametrize("path", PATHS, ids=[p.__name__ for p in PATHS])
def test_no_outbound_path_reaches_inward(alice, hosts, rebinding, path, attack):
    public, canary = hosts
    public.received.clear()
    canary.received.clear()
    base = {
        "control": f"http://{MODEL_HOST}:{public.port}",
        "direct": f"http://{INWARD}:{canary.port}",
        "redirects": f"http://{MODEL_HOST}:{public.port}/r/3",
        "rebinding": f"http://{REBINDING}:{public.port}",
        "rebinding after the check": f"http://{AFTER_CHECK}:{public.port}",
    }[attack]
    told = path(alice, base)
    time.sleep(0.2)  # anything sent late (a retry, a background step) would have arrived
    assert canary.received == [], f"{attack} reached the inward address: {canary.received} ({told[:300]})"
    if attack == "control":
        assert public.received, f"the path made no call: {told[:300]}"
    if attack in ("direct", "redirects"):
        assert INWARD in told, f"the refusal does not say what was refused: {told[:300]}"
    if attack == "redirects":
        hops = [path.split("/")[2] for _, path in public.received]
        assert hops == ["3", "2", "1", "0"], public.received  # followed, then refused at the last
    if attack.startswith("rebinding"):
        assert rebinding, "the name was never resolved"
    if attack == "rebinding after the check":
        assert public.received, f"the checked address was not the one called: {told[:300]}"
