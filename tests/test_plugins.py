"""Plugins through HTTP, against a local service described by an OpenAPI document: registering
(and what a bad document or manifest gets), the tools as the console reads them, debugging a
call (auth, parameters by location, the outbound guard, timeouts, size limits), and agents
calling the tools in chat, with the offline model and with an OpenAI-compatible test model."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.parse

import pytest
from conftest import assert_error, register
from fake_mcp import MCP_KEY, McpService, mcp_manifest
from fake_openai import MODEL_HOST, AppThread, free_port
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, StreamingResponse
from starlette.routing import Route
from test_chat import (  # noqa: F401
    fake_model_id,
    fake_server,
    final_chat,
    messages_of,
    new_agent,
    open_chat,
    wait_for,
)
from test_memory import space_of

from core import crypto
from models.agent import Bot
from models.plugin import DEBUG_PASSED, Plugin, PluginTool

TOKEN = "svc-token-0123456789"


class Service:
    """The local service the plugin describes; it records what it was sent."""

    def __init__(self):
        self.received: list[dict] = []
        self.token_requests: list[dict] = []
        self.url = ""

        async def record(request: Request) -> dict:
            entry = {
                "method": request.method,
                "path": request.url.path,
                "query": list(request.query_params.multi_items()),
                "headers": {k.lower(): v for k, v in request.headers.items()},
                "body": (await request.body()).decode(),
            }
            self.received.append(entry)
            return entry

        async def forecast(request: Request):
            entry = await record(request)
            if entry["headers"].get("x-api-key") != TOKEN:
                return JSONResponse({"error": "no key"}, status_code=401)
            city = request.path_params["city"]
            days = int(request.query_params.get("days", "0"))
            units = entry["headers"].get("x-units", "")
            return JSONResponse({"city": city, "days": days, "units": units, "high": 21.5})

        async def notes(request: Request):
            entry = await record(request)
            return JSONResponse({"saved": json.loads(entry["body"] or "{}")})

        async def slow(request: Request):
            await record(request)
            await asyncio.sleep(3)
            return PlainTextResponse("late")

        async def huge(request: Request):
            await record(request)
            return PlainTextResponse("x" * 3_000_000)

        async def drip(request: Request):
            await record(request)

            async def slowly():
                for _ in range(20):
                    yield b"."
                    await asyncio.sleep(0.1)

            return StreamingResponse(slowly(), media_type="text/plain")

        async def me(request: Request):
            entry = await record(request)
            return JSONResponse({"authorization": entry["headers"].get("authorization", "")})

        async def token(request: Request):
            entry = await record(request)
            form = dict(urllib.parse.parse_qsl(entry["body"]))
            self.token_requests.append(form)
            if form.get("client_secret") != "client-secret-1":
                return JSONResponse({"error": "invalid_client"}, status_code=401)
            grant = form.get("grant_type")
            if grant == "authorization_code" and form.get("code") == "good-code":
                return JSONResponse({"access_token": "at-1", "refresh_token": "rt-1", "expires_in": 3600})
            if grant == "refresh_token" and form.get("refresh_token") == "rt-1":
                return JSONResponse({"access_token": "at-2", "expires_in": 3600})
            if grant == "client_credentials":
                return JSONResponse({"access_token": "cc-1", "expires_in": 3600})
            return JSONResponse({"error": "invalid_grant", "error_description": "bad code"}, status_code=400)

        async def inward(request: Request):
            await record(request)
            return RedirectResponse("http://127.0.0.1:9/secret", status_code=302)

        async def echo(request: Request):
            entry = await record(request)
            return PlainTextResponse(entry["body"])

        async def broken(request: Request):
            await record(request)
            return JSONResponse({"error": "down"}, status_code=503)

        self.app = Starlette(
            routes=[
                Route("/api/forecast/{city}", forecast),
                Route("/api/notes", notes, methods=["POST"]),
                Route("/api/slow", slow),
                Route("/api/huge", huge),
                Route("/api/inward", inward),
                Route("/api/drip", drip),
                Route("/api/me", me),
                Route("/oauth/token", token, methods=["POST"]),
                Route("/api/broken", broken),
                Route("/api/echo", echo, methods=["POST"]),
            ]
        )


@pytest.fixture(scope="module")
def service(app):
    recorder = Service()
    with AppThread(recorder.app) as thread:
        recorder.url = f"http://{MODEL_HOST}:{thread.port}/api"
        yield recorder


def document(url: str, extra_paths: str = "") -> str:
    return f"""
openapi: 3.0.1
info: {{title: Weather, version: v1}}
servers: [{{url: "{url}"}}]
paths:
  /forecast/{{city}}:
    get:
      operationId: get_forecast
      summary: The forecast for a city
      parameters:
        - {{name: city, in: path, required: true, schema: {{type: string}}, description: City name}}
        - {{name: days, in: query, schema: {{type: integer, default: 3}}}}
        - {{name: X-Units, in: header, schema: {{type: string, enum: [metric, imperial]}}}}
      responses:
        "200":
          description: ok
          content:
            application/json:
              schema: {{$ref: "#/components/schemas/Forecast"}}
  /notes:
    post:
      operationId: add_note
      summary: Save a note
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              required: [text]
              properties:
                text: {{type: string}}
                tags: {{type: array, items: {{type: string}}}}
      responses:
        "200": {{description: ok}}
  /slow: {{get: {{operationId: slow, responses: {{"200": {{description: ok}}}}}}}}
  /huge: {{get: {{operationId: huge, responses: {{"200": {{description: ok}}}}}}}}
  /inward: {{get: {{operationId: inward, responses: {{"200": {{description: ok}}}}}}}}
  /broken: {{get: {{operationId: broken, responses: {{"200": {{description: ok}}}}}}}}
  /drip: {{get: {{operationId: drip, responses: {{"200": {{description: ok}}}}}}}}
  /me: {{get: {{operationId: whoami, responses: {{"200": {{description: ok}}}}}}}}
{extra_paths}
components:
  schemas:
    Forecast:
      type: object
      properties:
        city: {{type: string}}
        high: {{type: number}}
"""


def manifest(**changes) -> str:
    body = {
        "schema_version": "v1",
        "name_for_human": "Weather",
        "name_for_model": "weather",
        "description_for_human": "Forecasts",
        "description_for_model": "Weather forecasts by city",
        "auth": {
            "type": "service_http",
            "sub_type": "token/api_key",
            "payload": json.dumps({"location": "header", "key": "X-Api-Key", "service_token": TOKEN}),
        },
        **changes,
    }
    return json.dumps(body)


def register_plugin(account, url: str, **body) -> dict:
    payload = {"space_id": space_of(account), "ai_plugin": manifest(), "openapi": document(url), **body}
    return account.post("/api/plugin_api/register", payload)


def made(account, url: str) -> str:
    response = register_plugin(account, url)
    assert response.status_code == 200, response.text
    return response.json()["data"]["plugin_id"]


def tools_of(account, plugin_id) -> dict:
    response = account.post("/api/plugin_api/get_plugin_apis", {"plugin_id": plugin_id})
    assert response.status_code == 200, response.text
    return {t["name"]: t for t in response.json()["api_info"]}


def debug(account, plugin_id, api_id, arguments):
    body = {"plugin_id": plugin_id, "api_id": api_id, "parameters": json.dumps(arguments), "operation": 1}
    return account.post("/api/plugin_api/debug_api", body)


class TestRegistering:
    def test_register_keeps_the_tools_and_the_secret_encrypted(self, alice, service):
        plugin_id = made(alice, service.url)
        stored = Plugin.get_by_id(int(plugin_id))
        assert stored.server_url == service.url and stored.auth_key == "X-Api-Key"
        assert TOKEN not in stored.auth_secret and crypto.decrypt(stored.auth_secret) == TOKEN
        assert TOKEN not in json.dumps(stored.manifest)
        names = [
            t.name for t in PluginTool.select().where(PluginTool.plugin == stored.id).order_by(PluginTool.id)
        ]
        assert names == ["get_forecast", "add_note", "slow", "huge", "inward", "broken", "drip", "whoami"]
        tools = tools_of(alice, plugin_id)
        forecast = tools["get_forecast"]
        assert (forecast["method"], forecast["path"], forecast["desc"]) == (
            1,
            "/forecast/{city}",
            "The forecast for a city",
        )
        params = {p["name"]: (p["location"], p["type"], p["is_required"]) for p in forecast["request_params"]}
        assert params == {"city": (1, 1, True), "days": (2, 2, False), "X-Units": (4, 1, False)}
        assert [p["name"] for p in forecast["response_params"]] == ["city", "high"]
        assert {p["name"]: p["location"] for p in tools["add_note"]["request_params"]} == {
            "text": 3,
            "tags": 3,
        }

    def test_info_masks_the_secret(self, alice, service):
        plugin_id = made(alice, service.url)
        response = alice.post("/api/plugin_api/get_plugin_info", {"plugin_id": plugin_id})
        assert response.status_code == 200, response.text
        info = response.json()
        assert TOKEN not in response.text
        assert info["meta_info"]["auth_type"] == [1] and info["meta_info"]["key"] == "X-Api-Key"
        assert info["meta_info"]["service_token"] == "******"
        assert "get_forecast" in info["code_info"]["openapi_desc"]
        assert json.loads(info["code_info"]["plugin_desc"])["name_for_model"] == "weather"

    @pytest.mark.parametrize(
        "change, code, fragment",
        [
            ({"openapi": "openapi: 3.0.1\ninfo: {title: x}\npaths: {}"}, 109000003, "at info"),
            (
                {"openapi": "swagger: '2.0'\ninfo: {title: x, version: '1'}\npaths: {}"},
                109000003,
                "convert_to_openapi",
            ),
            ({"openapi": "a: &x [1]\nb: *x"}, 109000003, "aliases"),
            ({"openapi": "[1, 2"}, 109000003, "not valid JSON or YAML"),
            ({"openapi": "x" * 600_000}, 400, "openapi"),
            ({"ai_plugin": "{}"}, 109000004, "name_for_human"),
            ({"ai_plugin": manifest(name_for_model="has space")}, 109000004, "name_for_model"),
            (
                {"ai_plugin": manifest(auth={"type": "service_http", "payload": "{}"})},
                109000004,
                "payload.key",
            ),
        ],
    )
    def test_bad_documents_and_manifests_change_nothing(self, alice, service, change, code, fragment):
        before = Plugin.select().count()
        response = register_plugin(alice, service.url, **change)
        if code == 400:
            assert response.status_code == 400 and fragment in response.text
        else:
            assert_error(response, 400, code, fragment)
        assert Plugin.select().count() == before

    @pytest.mark.parametrize(
        "paths, fragment",
        [
            (
                "  /c:\n    get:\n      operationId: c\n"
                "      parameters: [{name: s, in: cookie, schema: {type: string}}]\n"
                "      responses: {'200': {description: ok}}\n",
                "parameters[0].in",
            ),
            (
                "  /d:\n    get:\n      operationId: d\n"
                "      parameters: [{name: q, in: query, style: deepObject, schema: {type: object}}]\n"
                "      responses: {'200': {description: ok}}\n",
                "parameters[0].style",
            ),
            (
                "  /e:\n    post:\n      operationId: e\n"
                "      requestBody: {content: {multipart/form-data: {schema: {type: object}}}}\n"
                "      responses: {'200': {description: ok}}\n",
                "requestBody.content",
            ),
        ],
    )
    def test_unsupported_parameter_styles_are_named(self, alice, service, paths, fragment):
        response = register_plugin(alice, service.url, openapi=document(service.url, paths))
        assert_error(response, 400, 109000007, fragment)

    def test_other_peoples_plugins_are_not_found(self, alice, client, service):
        plugin_id = made(alice, service.url)
        bob = register(client)
        for path, body in [
            ("/api/plugin_api/get_plugin_info", {"plugin_id": plugin_id}),
            ("/api/plugin_api/get_plugin_apis", {"plugin_id": plugin_id}),
            ("/api/plugin_api/del_plugin", {"plugin_id": plugin_id}),
            ("/api/plugin_api/debug_api", {"plugin_id": plugin_id, "api_id": "1", "parameters": "{}"}),
        ]:
            assert_error(bob.post(path, body), 404, 109000005, plugin_id)
        assert Plugin.get_or_none(Plugin.id == int(plugin_id)) is not None
        listed = bob.post("/api/plugin_api/get_dev_plugin_list", {"space_id": space_of(bob)}).json()
        assert listed["plugin_list"] == [] and listed["total"] == "0"

    def test_list_search_and_delete(self, alice, service):
        plugin_id = made(alice, service.url)
        listed = alice.post(
            "/api/plugin_api/get_dev_plugin_list", {"space_id": space_of(alice), "name": "add_no"}
        ).json()
        assert [p["id"] for p in listed["plugin_list"]] == [plugin_id]
        assert [a["name"] for a in listed["plugin_list"][0]["plugin_apis"]][:2] == [
            "get_forecast",
            "add_note",
        ]
        none = alice.post(
            "/api/plugin_api/get_dev_plugin_list", {"space_id": space_of(alice), "name": "zzz"}
        ).json()
        assert none["plugin_list"] == []
        assert alice.post("/api/plugin_api/del_plugin", {"plugin_id": plugin_id}).status_code == 200
        assert Plugin.get_or_none(Plugin.id == int(plugin_id)) is None
        assert PluginTool.select().where(PluginTool.plugin == int(plugin_id)).count() == 0


class TestDebugging:
    def test_a_call_shows_the_request_and_marks_the_tool(self, alice, service):
        plugin_id = made(alice, service.url)
        tool = tools_of(alice, plugin_id)["get_forecast"]
        response = debug(alice, plugin_id, tool["api_id"], {"city": "Paris Nord", "X-Units": "metric"})
        assert response.status_code == 200, response.text
        result = response.json()
        assert result["success"] is True and result["reason"] == ""
        assert json.loads(result["raw_resp"]) == {
            "city": "Paris Nord",
            "days": 3,
            "units": "metric",
            "high": 21.5,
        }
        sent = json.loads(result["raw_req"])
        assert sent["method"] == "GET" and sent["url"] == f"{service.url}/forecast/Paris%20Nord?days=3"
        assert sent["headers"]["X-Api-Key"] == "******" and TOKEN not in response.text
        received = service.received[-1]
        assert received["path"] == "/api/forecast/Paris Nord" and received["query"] == [("days", "3")]
        assert received["headers"]["x-api-key"] == TOKEN and received["headers"]["x-units"] == "metric"
        assert PluginTool.get_by_id(int(tool["api_id"])).debug_status == DEBUG_PASSED

    def test_a_json_body(self, alice, service):
        plugin_id = made(alice, service.url)
        tool = tools_of(alice, plugin_id)["add_note"]
        result = debug(alice, plugin_id, tool["api_id"], {"text": "buy milk", "tags": ["home"]}).json()
        assert result["success"] is True
        assert json.loads(service.received[-1]["body"]) == {"text": "buy milk", "tags": ["home"]}
        assert service.received[-1]["headers"]["content-type"] == "application/json"

    def test_a_token_in_the_query(self, alice, service):
        auth = {
            "type": "service_http",
            "payload": json.dumps({"location": "query", "key": "key", "service_token": TOKEN}),
        }
        plugin_id = register_plugin(alice, service.url, ai_plugin=manifest(auth=auth)).json()["data"][
            "plugin_id"
        ]
        tool = tools_of(alice, plugin_id)["add_note"]
        result = debug(alice, plugin_id, tool["api_id"], {"text": "x"}).json()
        assert ("key", TOKEN) in service.received[-1]["query"]
        assert (
            TOKEN not in result["raw_req"]
            and "key=%2A%2A%2A%2A%2A%2A" in json.loads(result["raw_req"])["url"]
        )

    def test_failures_are_reported_not_raised(self, alice, service, settings_override):
        settings_override(plugin_timeout_seconds=0.5, plugin_max_response_bytes=1_000_000)
        plugin_id = made(alice, service.url)
        tools = tools_of(alice, plugin_id)
        cases = [
            ("get_forecast", {}, "city"),  # a required argument missing: nothing is sent
            ("get_forecast", {"city": "x", "days": "three"}, "days"),
            ("slow", {}, "no answer within 0.5 s"),
            ("huge", {}, "over the limit of 1000000 bytes"),
            ("broken", {}, "HTTP 503"),
            ("drip", {}, "no answer within 0.5 s"),  # each piece in time, the whole not
        ]
        for name, arguments, fragment in cases:
            count = len(service.received)
            result = debug(alice, plugin_id, tools[name]["api_id"], arguments).json()
            assert result["success"] is False and fragment in result["reason"], (name, result)
            if name == "get_forecast":
                assert len(service.received) == count
        assert PluginTool.get_by_id(int(tools["broken"]["api_id"])).debug_status != DEBUG_PASSED

    @pytest.mark.parametrize("host", ["127.0.0.1", "10.0.0.1", "169.254.169.254", "localhost"])
    def test_inward_addresses_are_refused(self, alice, host):
        plugin_id = made(alice, f"http://{host}:8080/api")
        tool = tools_of(alice, plugin_id)["add_note"]
        assert_error(
            debug(alice, plugin_id, tool["api_id"], {"text": "x"}), 403, 109000010, "private or reserved"
        )

    def test_a_redirect_inward_is_refused(self, alice, service):
        plugin_id = made(alice, service.url)
        tool = tools_of(alice, plugin_id)["inward"]
        assert_error(debug(alice, plugin_id, tool["api_id"], {}), 403, 109000010, "127.0.0.1")

    def test_a_tool_of_another_plugin_is_not_found(self, alice, service):
        first, second = made(alice, service.url), made(alice, service.url)
        theirs = tools_of(alice, second)["add_note"]["api_id"]
        assert_error(debug(alice, first, theirs, {"text": "x"}), 404, 109000006, "api_id")


class TestAgentsUsePlugins:
    def _agent(self, account, plugin_id, names, **settings) -> str:
        tools = tools_of(account, plugin_id)
        bound = [{"plugin_id": plugin_id, "api_id": tools[n]["api_id"], "api_name": n} for n in names]
        return new_agent(account, plugin_info_list=bound, **settings)

    def test_the_offline_model_calls_a_bound_tool(self, alice, service):
        plugin_id = made(alice, service.url)
        bot_id = self._agent(alice, plugin_id, ["get_forecast"])
        events = open_chat(alice, bot_id, '/call get_forecast {"city": "Oslo", "days": 2}')
        completed = messages_of(events, "conversation.message.completed")
        assert [m["type"] for m in completed[:3]] == ["function_call", "tool_response", "answer"]
        assert json.loads(completed[0]["content"])["function"]["name"] == "get_forecast"
        assert json.loads(completed[1]["content"]) == {"city": "Oslo", "days": 2, "units": "", "high": 21.5}
        assert "Oslo" in completed[2]["content"]
        assert service.received[-1]["path"] == "/api/forecast/Oslo"

    def test_a_published_agent_calls_the_plugin_version_it_was_published_with(self, alice, service):
        plugin_id = made(alice, service.url)
        response = alice.post(
            "/api/plugin_api/publish_plugin", {"plugin_id": plugin_id, "version_name": "v1.0.0"}
        )
        assert response.json()["code"] == 0, response.text
        bot_id = self._agent(alice, plugin_id, ["get_forecast"])  # published with v1.0.0
        # the plugin's draft moves to another path; the published agent keeps the version's
        moved = (
            document(service.url)
            .replace("/forecast/{{city}}", "/moved/{{city}}")
            .replace("/forecast/{city}", "/moved/{city}")
        )
        body = {"plugin_id": plugin_id, "ai_plugin": manifest(), "openapi": moved}
        assert alice.post("/api/plugin_api/update", body).json()["code"] == 0
        assert tools_of(alice, plugin_id)["get_forecast"]["path"] == "/moved/{city}"
        events = open_chat(alice, bot_id, '/call get_forecast {"city": "Oslo"}')
        completed = messages_of(events, "conversation.message.completed")
        assert json.loads(completed[1]["content"])["city"] == "Oslo"
        assert service.received[-1]["path"] == "/api/forecast/Oslo"
        # both published again: the agent calls v1.0.1, whose path the service does not have
        alice.post("/api/plugin_api/publish_plugin", {"plugin_id": plugin_id, "version_name": "v1.0.1"})
        alice.post("/v1/bot/publish", json={"bot_id": bot_id, "connector_ids": ["1024"]})
        events = open_chat(alice, bot_id, '/call get_forecast {"city": "Rome"}')
        completed = messages_of(events, "conversation.message.completed")
        assert json.loads(completed[1]["content"])["status"] == 404

    def test_an_openai_compatible_model_calls_it(self, alice, service, fake_server, fake_model_id):  # noqa: F811
        plugin_id = made(alice, service.url)
        bot_id = self._agent(alice, plugin_id, ["add_note"], model_info={"model_id": fake_model_id})
        chat = final_chat(open_chat(alice, bot_id, 'tool:add_note:{"text": "call mum"}'))
        assert chat["status"] == "completed", chat
        answering = [r for r in fake_server.model.requests if r["messages"][-1]["role"] == "tool"][-1]
        offered = answering["tools"]
        assert [t["function"]["name"] for t in offered] == ["add_note"]
        assert offered[0]["function"]["parameters"]["required"] == ["text"]
        assert json.loads(service.received[-1]["body"]) == {"text": "call mum"}
        assert json.loads(answering["messages"][-1]["content"]) == {"saved": {"text": "call mum"}}

    def test_an_agents_own_parameter_defaults(self, alice, client, service, fake_server, fake_model_id):  # noqa: F811
        plugin_id = made(alice, service.url)
        bot_id = self._agent(alice, plugin_id, ["get_forecast"], model_info={"model_id": fake_model_id})
        which = {"bot_id": bot_id, "plugin_id": plugin_id, "api_name": "get_forecast"}
        shown = alice.post("/api/plugin_api/get_bot_default_params", which).json()
        assert [(p["name"], p["local_default"], p["local_disable"]) for p in shown["request_params"]] == [
            ("city", "", False),
            ("days", "", False),
            ("X-Units", "", False),
        ]
        assert [p["name"] for p in shown["response_params"]] == ["city", "high"]
        settings = {
            **which,
            "request_params": [
                {"name": "days", "type": 2, "location": 2, "local_default": "5", "local_disable": True},
                {"name": "X-Units", "type": 1, "location": 4, "local_default": "imperial"},
            ],
            "response_params": [{"name": "high", "local_disable": True}],
        }
        before = Bot.get_by_id(int(bot_id)).draft_version
        response = alice.post("/api/plugin_api/update_bot_default_params", settings)
        assert response.json()["code"] == 0, response.text
        assert Bot.get_by_id(int(bot_id)).draft_version == before + 1
        shown = alice.post("/api/plugin_api/get_bot_default_params", which).json()
        assert {p["name"]: (p["local_default"], p["local_disable"]) for p in shown["request_params"]} == {
            "city": ("", False),
            "days": ("5", True),
            "X-Units": ("imperial", False),
        }
        assert [p["local_disable"] for p in shown["response_params"]] == [False, True]
        # published with the agent: the model does not see days, the defaults are sent, high is hidden
        alice.post("/v1/bot/publish", json={"bot_id": bot_id, "connector_ids": ["1024"]})
        chat = final_chat(open_chat(alice, bot_id, 'tool:get_forecast:{"city": "Oslo", "days": 9}'))
        assert chat["status"] == "completed", chat
        offered = [r for r in fake_server.model.requests if r.get("tools")][-1]["tools"][0]["function"]
        assert "days" not in offered["parameters"]["properties"]
        assert offered["parameters"]["properties"]["X-Units"]["default"] == "imperial"
        sent = service.received[-1]
        assert sent["query"] == [("days", "5")] and sent["headers"]["x-units"] == "imperial"
        answering = [r for r in fake_server.model.requests if r["messages"][-1]["role"] == "tool"][-1]
        assert json.loads(answering["messages"][-1]["content"]) == {
            "city": "Oslo",
            "days": 5,
            "units": "imperial",
        }
        # bad settings change nothing
        version = Bot.get_by_id(int(bot_id)).draft_version
        for params, field in (
            ([{"name": "nope"}], "request_params[0].name"),
            ([{"name": "days", "local_default": "many"}], "request_params[0].local_default"),
            ([{"name": "city", "local_disable": True}], "request_params[0].local_disable"),
        ):
            bad = {**which, "request_params": params}
            assert_error(alice.post("/api/plugin_api/update_bot_default_params", bad), 400, 109000000, field)
        bad = {**which, "response_params": [{"name": "low", "local_disable": True}]}
        assert_error(
            alice.post("/api/plugin_api/update_bot_default_params", bad), 400, 109000000, "response_params[0]"
        )
        missing = {**which, "api_name": "no_such_tool"}
        assert_error(
            alice.post("/api/plugin_api/get_bot_default_params", missing), 404, 109000006, "api_name"
        )
        bob = register(client)
        assert_error(bob.post("/api/plugin_api/update_bot_default_params", settings), 404, 100000002)
        assert Bot.get_by_id(int(bot_id)).draft_version == version
        assert_error(
            alice.post("/api/plugin_api/delete_bot_default_params", {"bot_id": bot_id}),
            400,
            109000000,
            "api_name",
        )
        # the tool named by its id reads the same settings
        by_id = {**which, "api_id": tools_of(alice, plugin_id)["get_forecast"]["api_id"], "api_name": "label"}
        named = alice.post("/api/plugin_api/get_bot_default_params", by_id).json()
        assert {p["name"]: p["local_default"] for p in named["request_params"]}["days"] == "5"
        # dropped: back to the plugin's own defaults
        assert alice.post("/api/plugin_api/delete_bot_default_params", which).json()["code"] == 0
        shown = alice.post("/api/plugin_api/get_bot_default_params", which).json()
        assert all(not p["local_disable"] and p["local_default"] == "" for p in shown["request_params"])
        # delete_bot drops every tool's settings of the agent
        alice.post("/api/plugin_api/update_bot_default_params", settings)
        dropped = {"bot_id": bot_id, "delete_bot": True}
        assert alice.post("/api/plugin_api/delete_bot_default_params", dropped).json()["code"] == 0
        assert Bot.get_by_id(int(bot_id)).config["plugin_param_defaults"] == {}

    def test_binding_another_users_plugin_or_a_foreign_tool_is_refused(self, alice, client, service):
        bob = register(client)
        theirs = made(bob, service.url)
        bot_id = new_agent(alice, publish=False)
        update = {"bot_info": {"bot_id": bot_id, "plugin_info_list": [{"plugin_id": theirs, "api_id": "1"}]}}
        response = alice.post("/api/playground_api/draftbot/update_draft_bot_info", update)
        assert_error(response, 404, 109000005, "plugin_info_list[0].plugin_id")
        mine = made(alice, service.url)
        their_tool = tools_of(bob, theirs)["add_note"]["api_id"]
        update["bot_info"]["plugin_info_list"] = [{"plugin_id": mine, "api_id": their_tool}]
        response = alice.post("/api/playground_api/draftbot/update_draft_bot_info", update)
        assert_error(response, 404, 109000006, "plugin_info_list[0].api_id")


class TestEditing:
    def test_update_keeps_tool_ids_by_operation_id(self, alice, service):
        plugin_id = made(alice, service.url)
        before = tools_of(alice, plugin_id)
        smaller = (
            document(service.url)
            .replace('  /slow: {get: {operationId: slow, responses: {"200": {description: ok}}}}\n', "")
            .replace("summary: Save a note", "summary: Keep a note")
        )
        body = {"plugin_id": plugin_id, "ai_plugin": manifest(), "openapi": smaller}
        response = alice.post("/api/plugin_api/update", body)
        assert response.status_code == 200, response.text
        after = tools_of(alice, plugin_id)
        assert "slow" not in after and after["add_note"]["api_id"] == before["add_note"]["api_id"]
        assert after["add_note"]["desc"] == "Keep a note"
        stored = Plugin.get_by_id(int(plugin_id))
        assert stored.edit_version == 2 and crypto.decrypt(stored.auth_secret) == TOKEN

    def test_a_masked_token_keeps_the_stored_one(self, alice, service):
        plugin_id = made(alice, service.url)
        body = {"plugin_id": plugin_id, "service_token": "******", "desc": "Forecasts, updated"}
        assert alice.post("/api/plugin_api/update_plugin_meta", body).status_code == 200
        stored = Plugin.get_by_id(int(plugin_id))
        assert crypto.decrypt(stored.auth_secret) == TOKEN and stored.description == "Forecasts, updated"
        body = {"plugin_id": plugin_id, "service_token": "new-token-1"}
        assert alice.post("/api/plugin_api/update_plugin_meta", body).status_code == 200
        assert crypto.decrypt(Plugin.get_by_id(int(plugin_id)).auth_secret) == "new-token-1"

    def test_a_plugin_made_in_the_form_and_its_tools_one_by_one(self, alice, service):
        body = {
            "space_id": space_of(alice),
            "name": "Weather form",
            "desc": "Made in the form",
            "url": service.url,
            "icon": {"uri": ""},
            "auth_type": 1,
            "location": 1,
            "key": "X-Api-Key",
            "service_token": TOKEN,
        }
        response = alice.post("/api/plugin_api/register_plugin_meta", body)
        assert response.status_code == 200, response.text
        plugin_id = response.json()["plugin_id"]
        params = [
            {"name": "city", "type": 1, "location": 1, "is_required": True},
            {"name": "days", "type": 2, "location": 2, "global_default": "5"},
        ]
        create = {
            "plugin_id": plugin_id,
            "name": "forecast",
            "desc": "A forecast",
            "path": "/forecast/{city}",
            "method": 1,
            "request_params": params,
        }
        created = alice.post("/api/plugin_api/create_api", create)
        assert created.status_code == 200, created.text
        api_id = created.json()["api_id"]
        result = debug(alice, plugin_id, api_id, {"city": "Rome"}).json()
        assert result["success"] is True and json.loads(result["raw_resp"])["days"] == 5
        assert_error(
            alice.post("/api/plugin_api/create_api", create), 400, 109000000, "already has a tool named"
        )
        bad = {**create, "name": "other", "path": "/forecast/{town}"}
        assert_error(alice.post("/api/plugin_api/create_api", bad), 400, 109000000, "town")
        update = {"plugin_id": plugin_id, "api_id": api_id, "desc": "The forecast", "disabled": True}
        assert alice.post("/api/plugin_api/update_api", update).status_code == 200
        tool = PluginTool.get_by_id(int(api_id))
        assert tool.description == "The forecast" and tool.disabled is True
        response = alice.post("/api/plugin_api/delete_api", {"plugin_id": plugin_id, "api_id": api_id})
        assert response.status_code == 200 and PluginTool.get_or_none(PluginTool.id == int(api_id)) is None

    def test_batch_create_reports_duplicates_unless_replacing(self, alice, service):
        plugin_id = made(alice, service.url)
        extra = document(service.url).replace("operationId: add_note", "operationId: add_note_v2")
        body = {"plugin_id": plugin_id, "openapi": extra}
        first = alice.post("/api/plugin_api/batch_create_api", body).json()
        assert first["paths_created"] == [] and len(first["paths_duplicated"]) == 8
        assert "add_note_v2" not in tools_of(alice, plugin_id)
        replaced = alice.post("/api/plugin_api/batch_create_api", {**body, "replace_same_paths": True}).json()
        assert len(replaced["paths_created"]) == 8
        assert "add_note_v2" in tools_of(alice, plugin_id) and "add_note" not in tools_of(alice, plugin_id)

    def test_the_edit_lock(self, alice, client, service):
        plugin_id = made(alice, service.url)
        # a teammate in alice's space
        bob = register(client)
        from models.identity import ROLE_MEMBER, SpaceMember

        SpaceMember.create(space=int(space_of(alice)), user=int(bob.user_id), role=ROLE_MEMBER)
        taken = alice.post("/api/plugin_api/check_and_lock_plugin_edit", {"plugin_id": plugin_id}).json()[
            "data"
        ]
        assert taken["Seized"] is True and taken["Occupied"] is False
        theirs = bob.post("/api/plugin_api/check_and_lock_plugin_edit", {"plugin_id": plugin_id}).json()[
            "data"
        ]
        assert (
            theirs["Occupied"] is True and theirs["Seized"] is False and theirs["user"]["id"] == alice.user_id
        )
        change = {"plugin_id": plugin_id, "desc": "bob was here"}
        assert_error(bob.post("/api/plugin_api/update_plugin_meta", change), 409, 109000008, "is editing")
        assert Plugin.get_by_id(int(plugin_id)).description == "Forecasts"
        assert (
            bob.post("/api/plugin_api/unlock_plugin_edit", {"plugin_id": plugin_id}).json()["released"]
            is False
        )
        assert (
            alice.post("/api/plugin_api/unlock_plugin_edit", {"plugin_id": plugin_id}).json()["released"]
            is True
        )
        assert bob.post("/api/plugin_api/update_plugin_meta", change).status_code == 200

    def test_publish_versions_and_the_playground_list(self, alice, service):
        plugin_id = made(alice, service.url)
        listed = alice.post(
            "/api/plugin_api/get_playground_plugin_list", {"space_id": space_of(alice)}
        ).json()
        assert listed["data"]["plugin_list"] == []
        next_name = alice.post("/api/plugin_api/get_plugin_next_version", {"plugin_id": plugin_id}).json()
        assert next_name["next_version_name"] == "v1.0.0"
        response = alice.post(
            "/api/plugin_api/publish_plugin", {"plugin_id": plugin_id, "version_desc": "first"}
        )
        assert response.status_code == 200, response.text
        assert_error(
            alice.post("/api/plugin_api/publish_plugin", {"plugin_id": plugin_id, "version_name": "v1.0.0"}),
            400,
            109000000,
            "already has a version v1.0.0",
        )
        listed = alice.post(
            "/api/plugin_api/get_playground_plugin_list", {"space_id": space_of(alice)}
        ).json()
        [entry] = listed["data"]["plugin_list"]
        assert entry["id"] == plugin_id and entry["version_name"] == "v1.0.0"
        assert [a["name"] for a in entry["plugin_apis"]][:2] == ["get_forecast", "add_note"]
        info = alice.post("/api/plugin_api/get_plugin_info", {"plugin_id": plugin_id}).json()
        assert info["published"] is True
        assert (
            alice.post("/api/plugin_api/get_plugin_next_version", {"plugin_id": plugin_id}).json()[
                "next_version_name"
            ]
            == "v1.0.1"
        )


def oauth_manifest(service, sub_type="authorization_code") -> str:
    root = service.url.removesuffix("/api")
    payloads = {
        "authorization_code": {
            "client_id": "client-1",
            "client_secret": "client-secret-1",
            "client_url": f"{root}/oauth/authorize",
            "scope": "read write",
            "authorization_url": f"{root}/oauth/token",
            "authorization_content_type": "application/x-www-form-urlencoded",
        },
        "client_credentials": {
            "client_id": "client-1",
            "client_secret": "client-secret-1",
            "token_url": f"{root}/oauth/token",
        },
    }
    return manifest(auth={"type": "oauth", "sub_type": sub_type, "payload": json.dumps(payloads[sub_type])})


class TestOAuth:
    def _plugin(self, account, service, sub_type="authorization_code") -> tuple[str, str]:
        response = register_plugin(account, service.url, ai_plugin=oauth_manifest(service, sub_type))
        assert response.status_code == 200, response.text
        plugin_id = response.json()["data"]["plugin_id"]
        return plugin_id, tools_of(account, plugin_id)["whoami"]["api_id"]

    def _status(self, account, plugin_id) -> dict:
        response = account.post("/api/plugin_api/get_oauth_status", {"plugin_id": plugin_id})
        assert response.status_code == 200, response.text
        return response.json()

    def _authorize(self, account, plugin_id, code="good-code"):
        url = self._status(account, plugin_id)["content"]
        query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))
        return query, account.client.get(
            f"/api/oauth/authorization_code?code={code}&state={query['state']}", follow_redirects=False
        )

    def test_the_authorization_code_flow_end_to_end(self, alice, service):
        from models.plugin import PluginOAuthToken

        plugin_id, api_id = self._plugin(alice, service)
        info = alice.post("/api/plugin_api/get_plugin_info", {"plugin_id": plugin_id})
        assert "client-secret-1" not in info.text and info.json()["meta_info"]["auth_type"] == [3]
        status = self._status(alice, plugin_id)
        assert status["is_oauth"] is True and status["status"] == 2
        before = debug(alice, plugin_id, api_id, {}).json()
        assert before["success"] is False and "needs authorization" in before["reason"]
        query, response = self._authorize(alice, plugin_id)
        assert query["client_id"] == "client-1" and query["scope"] == "read write"
        assert query["redirect_uri"] == "http://127.0.0.1:8888/api/oauth/authorization_code"
        assert response.status_code == 302, response.text
        assert response.headers["location"] == "http://127.0.0.1:8888/information/auth/success"
        exchange = service.token_requests[-1]
        assert (
            exchange["grant_type"] == "authorization_code"
            and exchange["redirect_uri"] == query["redirect_uri"]
        )
        stored = PluginOAuthToken.get(plugin=int(plugin_id))
        assert stored.holder == f"user:{alice.user_id}" and "at-1" not in stored.access_token
        assert crypto.decrypt(stored.access_token) == "at-1"
        # the state is used once
        again = alice.client.get(f"/api/oauth/authorization_code?code=good-code&state={query['state']}")
        assert_error(again, 400, 109000013, "state")
        assert self._status(alice, plugin_id)["status"] == 1
        result = debug(alice, plugin_id, api_id, {}).json()
        assert result["success"] is True and json.loads(result["raw_resp"]) == {
            "authorization": "Bearer at-1"
        }
        assert "at-1" not in result["raw_req"]
        # near expiry: refreshed before use
        PluginOAuthToken.update(expires_at=int(time.time()) + 5).where(
            PluginOAuthToken.id == stored.id
        ).execute()
        result = debug(alice, plugin_id, api_id, {}).json()
        assert json.loads(result["raw_resp"]) == {"authorization": "Bearer at-2"}
        assert service.token_requests[-1] == {
            "grant_type": "refresh_token",
            "refresh_token": "rt-1",
            "client_id": "client-1",
            "client_secret": "client-secret-1",
        }
        # revoked: authorize again
        assert alice.post("/api/plugin_api/revoke_auth_token", {"plugin_id": plugin_id}).status_code == 200
        assert PluginOAuthToken.select().where(PluginOAuthToken.plugin == int(plugin_id)).count() == 0
        assert self._status(alice, plugin_id)["status"] == 2

    def test_a_refused_exchange_stores_nothing(self, alice, service):
        from models.plugin import PluginOAuthToken

        plugin_id, _ = self._plugin(alice, service)
        _, response = self._authorize(alice, plugin_id, code="bad-code")
        assert_error(response, 400, 109000013, "HTTP 400", "bad code")
        assert PluginOAuthToken.select().where(PluginOAuthToken.plugin == int(plugin_id)).count() == 0
        assert_error(
            alice.client.get("/api/oauth/authorization_code?code=x&state=made-up"), 400, 109000013, "state"
        )

    def test_client_credentials(self, alice, service):
        plugin_id, api_id = self._plugin(alice, service, "client_credentials")
        assert self._status(alice, plugin_id)["status"] == 1
        result = debug(alice, plugin_id, api_id, {}).json()
        assert json.loads(result["raw_resp"]) == {"authorization": "Bearer cc-1"}
        assert service.token_requests[-1]["grant_type"] == "client_credentials"
        count = len(service.token_requests)
        debug(alice, plugin_id, api_id, {})
        assert len(service.token_requests) == count  # the token is kept until it nears expiry

    def test_an_agents_oauth_plugins_and_other_users(self, alice, client, service):
        plugin_id, api_id = self._plugin(alice, service)
        bot_id = new_agent(alice, plugin_info_list=[{"plugin_id": plugin_id, "api_id": api_id}])
        listed = alice.post("/api/plugin_api/get_queried_oauth_plugins", {"bot_id": bot_id}).json()
        assert [(p["plugin_id"], p["status"]) for p in listed["oauth_plugin_list"]] == [(plugin_id, 2)]
        self._authorize(alice, plugin_id)
        listed = alice.post("/api/plugin_api/get_queried_oauth_plugins", {"bot_id": bot_id}).json()
        assert [p["status"] for p in listed["oauth_plugin_list"]] == [1]
        bob = register(client)
        assert_error(bob.post("/api/plugin_api/get_oauth_status", {"plugin_id": plugin_id}), 404, 109000005)
        assert_error(bob.post("/api/plugin_api/revoke_auth_token", {"plugin_id": plugin_id}), 404, 109000005)

    def _waiting_chat(self, account, service) -> tuple[str, dict]:
        plugin_id, api_id = self._plugin(account, service)
        bot_id = new_agent(account, plugin_info_list=[{"plugin_id": plugin_id, "api_id": api_id}])
        chat = final_chat(open_chat(account, bot_id, "/call whoami {}"))
        assert chat["status"] == "requires_action", chat
        return plugin_id, chat

    def test_a_chat_waits_for_the_end_users_authorization_then_resumes(self, alice, service):
        from models.conversation import ChatRunWait, Message

        plugin_id, chat = self._waiting_chat(alice, service)
        action = chat["required_action"]
        call = action["submit_tool_outputs"]["tool_calls"][0]
        (wanted,) = action["authorizations"]
        assert wanted["tool_call_id"] == call["id"] and call["function"]["name"] == "whoami"
        assert wanted["plugin_id"] == plugin_id and wanted["plugin_name"] == "Weather"
        query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(wanted["authorization_url"]).query))
        assert query["client_id"] == "client-1"
        run_id = int(chat["id"])
        assert [(w.plugin_id, w.holder) for w in ChatRunWait.select().where(ChatRunWait.run == run_id)] == [
            (int(plugin_id), "end:1024:end-user-1")
        ]
        types = [m.type for m in Message.select().where(Message.run == run_id).order_by(Message.id)]
        assert "tool_response" not in types and "function_call" in types
        # the end user authorizes: the chat goes on by itself with their token
        callback = f"/api/oauth/authorization_code?code=good-code&state={query['state']}"
        assert alice.client.get(callback, follow_redirects=False).status_code == 302
        done = wait_for(alice, chat["conversation_id"], chat["id"])
        assert done["status"] == "completed", done
        response = Message.get((Message.run == run_id) & (Message.type == "tool_response"))
        assert json.loads(response.content) == {"authorization": "Bearer at-1"}
        answer = Message.get((Message.run == run_id) & (Message.type == "answer"))
        assert "Bearer at-1" in answer.content
        assert ChatRunWait.select().where(ChatRunWait.run == run_id).count() == 0
        # the token is the end user's: the console's own debugging still needs its authorization
        api_id = tools_of(alice, plugin_id)["whoami"]["api_id"]
        assert "needs authorization" in debug(alice, plugin_id, api_id, {}).json()["reason"]

    def test_a_waiting_chat_can_be_answered_instead(self, alice, service):
        from models.conversation import ChatRunWait

        _, chat = self._waiting_chat(alice, service)
        call = chat["required_action"]["submit_tool_outputs"]["tool_calls"][0]
        path = f"/v3/chat/submit_tool_outputs?conversation_id={chat['conversation_id']}&chat_id={chat['id']}"
        outputs = {"tool_outputs": [{"tool_call_id": call["id"], "output": "the user declined"}]}
        assert alice.post(path, json=outputs).json()["code"] == 0
        resumed = wait_for(alice, chat["conversation_id"], chat["id"])
        assert resumed["status"] == "completed", resumed
        assert ChatRunWait.select().where(ChatRunWait.run == int(chat["id"])).count() == 0
        # a late authorization finds nothing to resume
        query = dict(
            urllib.parse.parse_qsl(
                urllib.parse.urlsplit(chat["required_action"]["authorizations"][0]["authorization_url"]).query
            )
        )
        callback = f"/api/oauth/authorization_code?code=good-code&state={query['state']}"
        assert alice.client.get(callback, follow_redirects=False).status_code == 302
        assert wait_for(alice, chat["conversation_id"], chat["id"])["status"] == "completed"

    def test_bad_oauth_manifests(self, alice, service):
        auth = {"type": "oauth", "sub_type": "authorization_code", "payload": json.dumps({"client_id": "x"})}
        assert_error(
            register_plugin(alice, service.url, ai_plugin=manifest(auth=auth)),
            400,
            109000004,
            "client_secret",
        )
        auth = {"type": "oauth", "sub_type": "implicit", "payload": "{}"}
        assert_error(
            register_plugin(alice, service.url, ai_plugin=manifest(auth=auth)), 400, 109000004, "sub_type"
        )


@pytest.fixture(scope="module")
def mcp_service(app):
    recorder = McpService()
    with AppThread(recorder.app, lifespan="on") as thread:
        recorder.url = f"http://{MODEL_HOST}:{thread.port}/mcp"
        yield recorder


def register_mcp(account, url: str, **changes):
    body = {"space_id": space_of(account), "ai_plugin": mcp_manifest(url, **changes)}
    return account.post("/api/plugin_api/register", body)


class TestMcpServers:
    def _plugin(self, account, mcp_service) -> str:
        response = register_mcp(account, mcp_service.url)
        assert response.status_code == 200, response.text
        return response.json()["data"]["plugin_id"]

    def test_an_mcp_servers_tools_are_listed_debugged_and_kept_secret(self, alice, mcp_service):
        plugin_id = self._plugin(alice, mcp_service)
        stored = Plugin.get_by_id(int(plugin_id))
        assert MCP_KEY not in json.dumps(stored.manifest) and MCP_KEY not in json.dumps(stored.info)
        assert json.loads(crypto.decrypt(stored.info["mcp_headers"])) == {"X-Api-Key": MCP_KEY}
        info = alice.post("/api/plugin_api/get_plugin_info", {"plugin_id": plugin_id})
        assert MCP_KEY not in info.text and info.json()["plugin_type"] == 6
        tools = tools_of(alice, plugin_id)
        assert sorted(tools) == ["add", "big", "echo_text", "explode"]
        assert [(p["name"], p["type"], p["is_required"]) for p in tools["add"]["request_params"]] == [
            ("a", 2, True),
            ("b", 2, True),
        ]
        assert tools["echo_text"]["desc"] == "Repeat a text"
        added = debug(alice, plugin_id, tools["add"]["api_id"], {"a": 2, "b": 3}).json()
        assert added["success"] is True, added
        assert json.loads(added["resp"]) == {"result": 5}
        assert json.loads(added["raw_req"])["body"] == json.dumps(
            {"name": "add", "arguments": {"a": 2, "b": 3}}
        )
        assert MCP_KEY not in added["raw_req"]
        assert mcp_service.seen_headers[-1]["x-api-key"] == MCP_KEY
        # the server's own name is called, with defaults filled in
        echoed = debug(alice, plugin_id, tools["echo_text"]["api_id"], {"text": "ab"}).json()
        assert json.loads(echoed["resp"]) == {"result": "ab"}
        failed = debug(alice, plugin_id, tools["explode"]["api_id"], {"reason": "on purpose"}).json()
        assert failed["success"] is False and "on purpose" in failed["reason"]
        wrong = debug(alice, plugin_id, tools["add"]["api_id"], {"a": "two"}).json()
        assert wrong["success"] is False and wrong["reason"].startswith("a:")

    def test_an_agent_calls_an_mcp_tool_in_chat(self, alice, mcp_service):
        plugin_id = self._plugin(alice, mcp_service)
        api_id = tools_of(alice, plugin_id)["add"]["api_id"]
        bot_id = new_agent(alice, plugin_info_list=[{"plugin_id": plugin_id, "api_id": api_id}])
        events = open_chat(alice, bot_id, '/call add {"a": 2, "b": 40}')
        completed = messages_of(events, "conversation.message.completed")
        assert [m["type"] for m in completed[:3]] == ["function_call", "tool_response", "answer"]
        assert json.loads(completed[1]["content"]) == {"result": 42}
        assert "42" in completed[2]["content"]

    def test_updating_keeps_masked_headers_and_tool_ids(self, alice, mcp_service):
        plugin_id = self._plugin(alice, mcp_service)
        before = {name: t["api_id"] for name, t in tools_of(alice, plugin_id).items()}
        shown = alice.post("/api/plugin_api/get_plugin_info", {"plugin_id": plugin_id}).json()
        manifest = shown["code_info"]["plugin_desc"]
        assert "******" in manifest
        response = alice.post("/api/plugin_api/update", {"plugin_id": plugin_id, "ai_plugin": manifest})
        assert response.json()["code"] == 0, response.text
        assert {name: t["api_id"] for name, t in tools_of(alice, plugin_id).items()} == before
        stored = Plugin.get_by_id(int(plugin_id))
        assert json.loads(crypto.decrypt(stored.info["mcp_headers"])) == {"X-Api-Key": MCP_KEY}

    def test_bad_mcp_servers_are_refused_and_nothing_is_stored(self, alice, mcp_service, settings_override):
        count = Plugin.select().count()
        assert_error(register_mcp(alice, mcp_service.url, key="wrong"), 400, 109000014, "HTTP 401")
        refused = mcp_service.url.replace(MODEL_HOST, "127.0.0.1")
        assert_error(register_mcp(alice, refused), 403, 109000010, "127.0.0.1")
        assert_error(register_mcp(alice, "http://10.0.0.1/mcp"), 403, 109000010, "10.0.0.1")
        closed = f"http://{MODEL_HOST}:{free_port()}/mcp"
        assert_error(register_mcp(alice, closed), 400, 109000014, "could not be listed")
        stdio = json.loads(mcp_manifest(mcp_service.url))
        stdio["api"]["extensions"]["mcp_config"] = {
            "transport_type": "stdio",
            "stdio_config": {"command": ["sh"]},
        }
        body = {"space_id": space_of(alice), "ai_plugin": json.dumps(stdio)}
        assert_error(alice.post("/api/plugin_api/register", body), 400, 109000004, "transport_type")
        assert_error(register_mcp(alice, "ftp://example.com/mcp"), 400, 109000004, "url")
        assert Plugin.select().count() == count
        # a result over the size limit fails the call, and is not read whole
        plugin_id = self._plugin(alice, mcp_service)
        settings_override(plugin_max_response_bytes=10_000)
        big = tools_of(alice, plugin_id)["big"]["api_id"]
        result = debug(alice, plugin_id, big, {"size": 50_000}).json()
        assert result["success"] is False and "over the limit" in result["reason"], result

    def test_another_users_mcp_plugin_is_not_found(self, alice, client, mcp_service):
        plugin_id = self._plugin(alice, mcp_service)
        bob = register(client)
        assert_error(bob.post("/api/plugin_api/get_plugin_info", {"plugin_id": plugin_id}), 404, 109000005)


def convert(account, data, **extra):
    return account.post("/api/plugin_api/convert_to_openapi", {"data": data, **extra})


def register_converted(account, converted: dict) -> str:
    body = {
        "space_id": space_of(account),
        "ai_plugin": converted["ai_plugin"],
        "openapi": converted["openapi"],
    }
    response = account.post("/api/plugin_api/register", body)
    assert response.status_code == 200, response.text
    return response.json()["data"]["plugin_id"]


class TestImport:
    def test_a_swagger_2_document_becomes_a_plugin(self, alice, service):
        host = service.url.removeprefix("http://").removesuffix("/api")
        swagger = {
            "swagger": "2.0",
            "info": {"title": "Old weather", "version": "1.0", "description": "From Swagger"},
            "host": host,
            "basePath": "/api",
            "schemes": ["http"],
            "parameters": {"Days": {"name": "days", "in": "query", "type": "integer", "default": 3}},
            "paths": {
                "/forecast/{city}": {
                    "get": {
                        "operationId": "get_forecast",
                        "parameters": [
                            {"name": "city", "in": "path", "type": "string"},
                            {"$ref": "#/parameters/Days"},
                        ],
                        "responses": {
                            "200": {"description": "ok", "schema": {"$ref": "#/definitions/Forecast"}}
                        },
                    }
                },
                "/notes": {
                    "post": {
                        "parameters": [
                            {"name": "note", "in": "body", "schema": {"$ref": "#/definitions/Note"}}
                        ],
                        "responses": {"200": {"description": "ok"}},
                    }
                },
            },
            "definitions": {
                "Forecast": {
                    "type": "object",
                    "properties": {"city": {"type": "string"}, "high": {"type": "number"}},
                },
                "Note": {"type": "object", "required": ["text"], "properties": {"text": {"type": "string"}}},
            },
        }
        converted = convert(alice, json.dumps(swagger)).json()
        assert converted["code"] == 0, converted
        assert converted["plugin_data_format"] == 4 and converted["duplicate_api_infos"] == []
        manifest = json.loads(converted["ai_plugin"])
        assert manifest["name_for_human"] == "Old weather" and manifest["name_for_model"] == "old_weather"
        assert "#/components/schemas/Note" in converted["openapi"]
        plugin_id = register_converted(alice, converted)
        tools = tools_of(alice, plugin_id)
        assert sorted(tools) == ["get_forecast", "post_notes"]
        forecast = debug(alice, plugin_id, tools["get_forecast"]["api_id"], {"city": "Oslo"}).json()
        assert service.received[-1]["query"] == [("days", "3")] and forecast["raw_req"]
        note = debug(alice, plugin_id, tools["post_notes"]["api_id"], {"text": "from swagger"}).json()
        assert note["success"] is True and json.loads(note["resp"]) == {"saved": {"text": "from swagger"}}

    def test_a_postman_collection_becomes_a_plugin(self, alice, service):
        collection = {
            "info": {
                "name": "Notes collection",
                "schema": "https://schema.getpostman.com/json/collection/v2.1.0/collection.json",
            },
            "variable": [{"key": "base", "value": service.url}],
            "item": [
                {
                    "name": "Notes",
                    "item": [
                        {
                            "name": "Add note",
                            "request": {
                                "method": "POST",
                                "header": [{"key": "Content-Type", "value": "application/json"}],
                                "url": {"raw": "{{base}}/notes"},
                                "body": {"mode": "raw", "raw": '{"text": "hello", "tags": ["a"]}'},
                            },
                        }
                    ],
                },
                {"name": "Forecast", "request": {"method": "GET", "url": "{{base}}/forecast/:city?days=2"}},
            ],
        }
        converted = convert(alice, json.dumps(collection)).json()
        assert converted["code"] == 0 and converted["plugin_data_format"] == 3, converted
        plugin_id = register_converted(alice, converted)
        tools = tools_of(alice, plugin_id)
        assert sorted(tools) == ["forecast", "notes_add_note"]
        params = {p["name"]: (p["location"], p["type"]) for p in tools["notes_add_note"]["request_params"]}
        assert params == {"text": (3, 1), "tags": (3, 5)}
        assert {p["name"] for p in tools["forecast"]["request_params"]} == {"city", "days"}
        note = debug(alice, plugin_id, tools["notes_add_note"]["api_id"], {"text": "via postman"}).json()
        assert json.loads(note["resp"]) == {"saved": {"text": "via postman"}}

    def test_curl_commands_become_a_plugin(self, alice, service):
        commands = (
            f"curl -s -X POST '{service.url}/notes' -H 'Content-Type: application/json' \\\n"
            '  -d \'{"text": "hi", "count": 2}\'\n'
            f"curl '{service.url}/forecast/Oslo?days=4' -H 'X-Units: metric'\n"
        )
        converted = convert(alice, commands, plugin_name="From curl").json()
        assert converted["code"] == 0 and converted["plugin_data_format"] == 2, converted
        plugin_id = register_converted(alice, converted)
        tools = tools_of(alice, plugin_id)
        assert sorted(tools) == ["get_api_forecast_oslo", "post_api_notes"]
        notes = {p["name"]: p["type"] for p in tools["post_api_notes"]["request_params"]}
        assert notes == {"text": 1, "count": 2}
        forecast = {p["name"]: p["location"] for p in tools["get_api_forecast_oslo"]["request_params"]}
        assert forecast == {"days": 2, "X-Units": 4}
        # the same request twice: refused unless merged
        twice = commands.splitlines()[2] + "\n" + commands.splitlines()[2]
        assert_error(convert(alice, twice), 400, 109000003, "GET /api/forecast/Oslo (2 times)")
        merged = convert(alice, twice, merge_same_paths=True).json()
        assert merged["duplicate_api_infos"] == [{"method": "GET", "path": "/api/forecast/Oslo", "count": 2}]

    def test_an_openapi_document_passes_through_and_bad_data_is_refused(self, alice, service):
        passed = convert(alice, document(service.url), plugin_url="https://other.example.com").json()
        assert passed["plugin_data_format"] == 1 and "https://other.example.com" in passed["openapi"]
        assert_error(convert(alice, "just some words"), 400, 109000003, "data")
        assert_error(convert(alice, "curl -F file=@x.png https://example.com/up"), 400, 109000007, "-F")
        upload = {
            "swagger": "2.0",
            "info": {"title": "t", "version": "1"},
            "host": "example.com",
            "paths": {
                "/up": {
                    "post": {"parameters": [{"name": "f", "in": "formData", "type": "file"}], "responses": {}}
                }
            },
        }
        assert_error(convert(alice, json.dumps(upload)), 400, 109000007, "file upload")
        assert_error(convert(alice, "curl"), 400, 109000003, "no URL")
