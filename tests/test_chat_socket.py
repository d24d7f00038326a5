"""WebSocket chat (/v3/chat/ws): /v3/chat's events over a socket, chats started, cancelled and
resumed with tool outputs by client messages, authenticated like the rest; a real client (the
`websockets` package) against a live server, and the protocol's rules in process."""

from __future__ import annotations

import json
import time

import pytest
from conftest import register
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect
from test_chat import fake_model_id as fake_model_id  # noqa: F401  (a fixture)
from test_chat import fake_server as fake_server  # noqa: F401  (a fixture)
from test_chat import new_agent

from models.conversation import ChatRun, Conversation

PATH = "/v3/chat/ws"


def question(bot_id: str, text: str, **extra) -> dict:
    return {
        "bot_id": bot_id,
        "user_id": "socket-user",
        "additional_messages": [{"role": "user", "content": text, "content_type": "text"}],
        **extra,
    }


def until_done(socket, ref) -> list[dict]:
    frames = []
    while True:
        frame = socket.receive_json()
        frames.append(frame)
        if frame["event"] in ("done", "error") and frame.get("id") == ref:
            return frames


def test_a_chat_streams_its_events_over_the_socket(app):
    with TestClient(app) as http:
        alice = register(http)
        bot_id = new_agent(alice)
        with http.websocket_connect(PATH, headers=alice.headers) as socket:
            socket.send_json({"type": "chat.create", "id": "first", "data": question(bot_id, "Hello socket")})
            frames = until_done(socket, "first")
            events = [f["event"] for f in frames]
            assert events[0] == "conversation.chat.created" and events[-1] == "done"
            assert "conversation.chat.completed" in events and "conversation.message.delta" in events
            assert all(f["id"] == "first" for f in frames)
            deltas = "".join(
                f["data"]["content"] for f in frames if f["event"] == "conversation.message.delta"
            )
            answer = next(
                f["data"]
                for f in frames
                if f["event"] == "conversation.message.completed" and f["data"]["type"] == "answer"
            )
            assert deltas == answer["content"] and "Hello socket" in deltas
            chat_id = frames[0]["data"]["id"]
            assert frames[-1]["data"] == {"chat_id": chat_id}
            assert ChatRun.get_by_id(int(chat_id)).status == "completed"

            # the same socket goes on: a second chat in the conversation of the first
            conversation = frames[0]["data"]["conversation_id"]
            socket.send_json(
                {
                    "type": "chat.create",
                    "id": 2,
                    "data": question(bot_id, "Again", conversation_id=conversation),
                }
            )
            again = until_done(socket, 2)
            assert again[0]["data"]["conversation_id"] == conversation


def test_bad_messages_get_errors_and_the_socket_stays_open(app):
    with TestClient(app) as http:
        alice, bob = register(http), register(http)
        bot_id = new_agent(bob)
        with http.websocket_connect(PATH, headers=alice.headers) as socket:
            socket.send_text("not json")
            assert socket.receive_json()["data"]["code"] == 4000
            socket.send_json({"type": "chat.dance", "id": "a", "data": {}})
            error = socket.receive_json()
            assert (error["event"], error["id"], error["data"]["code"]) == ("error", "a", 103000000)
            assert "chat.create" in error["data"]["msg"]
            runs = ChatRun.select().count()
            # data is held to the HTTP operation's body schema, with the same words
            for data, said in [
                ({"bot_id": bot_id}, "data.user_id is required"),
                ({**question(bot_id, "x"), "user_id": ""}, "data.user_id must not be empty"),
                (
                    {**question(bot_id, "x"), "meta_data": {"k": 1}},
                    "data.meta_data.k must be a string, not a number",
                ),
                (
                    {**question(bot_id, "x"), "additional_messages": []},
                    "data.additional_messages must have at least 1",
                ),
                ({**question(bot_id, "x"), "bot_id": "12ab"}, "data.bot_id must be"),
            ]:
                socket.send_json({"type": "chat.create", "id": "b", "data": data})
                error = socket.receive_json()
                assert (error["event"], error["data"]["code"]) == ("error", 103000000), error
                assert error["data"]["msg"].startswith(said), (said, error)
            socket.send_json({"type": "chat.cancel", "id": "b2", "data": {"chat_id": "1"}})
            assert socket.receive_json()["data"]["msg"] == "data.conversation_id is required"
            socket.send_json({"type": "chat.submit_tool_outputs", "id": "b3", "data": {"tool_outputs": [{}]}})
            assert socket.receive_json()["data"]["msg"] == "data.tool_outputs[0].tool_call_id is required"
            assert ChatRun.select().count() == runs
            socket.send_json({"type": "chat.create", "id": "c", "data": question(bot_id, "not mine")})
            refused = socket.receive_json()
            assert (refused["id"], refused["data"]["code"]) == ("c", 100000002) and bot_id in refused["data"][
                "msg"
            ]
            assert ChatRun.select().count() == runs
            mine = new_agent(alice)
            socket.send_json({"type": "chat.create", "id": "d", "data": question(mine, "still open")})
            assert until_done(socket, "d")[-1]["event"] == "done"


def test_a_chat_takes_the_chat_sdk_connector_a_model_override_and_meta_data(app, fake_server, fake_model_id):
    with TestClient(app) as http:
        alice = register(http)
        bot_id = new_agent(alice, publish=False)
        alice.post("/v1/bot/publish", json={"bot_id": bot_id, "connector_ids": ["999"]})
        before = len(fake_server.model.requests)
        with http.websocket_connect(PATH, headers=alice.headers) as socket:
            socket.send_json({"type": "chat.create", "id": "api", "data": question(bot_id, "hi")})
            refused = until_done(socket, "api")[-1]
            assert refused["event"] == "error" and "connector 1024" in refused["data"]["msg"]
            data = question(
                bot_id,
                "over there",
                connector_id="999",
                meta_data={"order": "42"},
                custom_config={"model_config": {"model_id": fake_model_id}},
            )
            socket.send_json({"type": "chat.create", "id": "sdk", "data": data})
            frames = until_done(socket, "sdk")
        completed = next(f["data"] for f in frames if f["event"] == "conversation.chat.completed")
        answer = next(
            f["data"]
            for f in frames
            if f["event"] == "conversation.message.completed" and f["data"]["type"] == "answer"
        )
        assert answer["content"] == "fake: over there" and len(fake_server.model.requests) > before
        assert completed["meta_data"] == {"order": "42"}
        assert Conversation.get_by_id(int(completed["conversation_id"])).connector_id == 999
        assert ChatRun.get_by_id(int(completed["id"])).connector_id == 999


def test_the_handshake_needs_credentials(app):
    with TestClient(app) as http:
        with pytest.raises(WebSocketDisconnect):
            with http.websocket_connect(PATH) as socket:
                socket.receive_json()
        with pytest.raises(WebSocketDisconnect):
            with http.websocket_connect(PATH, headers={"Authorization": "Bearer not-a-token"}) as socket:
                socket.receive_json()


def test_tool_outputs_resume_a_chat_and_cancel_stops_one(app):
    with TestClient(app) as http:
        alice = register(http)
        bot_id = new_agent(alice)
        with http.websocket_connect(PATH, headers=alice.headers) as socket:
            socket.send_json(
                {"type": "chat.create", "id": "t", "data": question(bot_id, '/call lookup {"q": 1}')}
            )
            frames = until_done(socket, "t")
            waiting = next(f["data"] for f in frames if f["event"] == "conversation.chat.requires_action")
            call = waiting["required_action"]["submit_tool_outputs"]["tool_calls"][0]
            resume = {
                "conversation_id": waiting["conversation_id"],
                "chat_id": waiting["id"],
                "tool_outputs": [{"tool_call_id": call["id"], "output": "42 parcels"}],
            }
            socket.send_json({"type": "chat.submit_tool_outputs", "id": "r", "data": resume})
            resumed = until_done(socket, "r")
            assert "conversation.chat.completed" in [f["event"] for f in resumed]
            assert ChatRun.get_by_id(int(waiting["id"])).status == "completed"

            socket.send_json(
                {"type": "chat.cancel", "id": "x", "data": {"conversation_id": "1", "chat_id": "2"}}
            )
            missing = socket.receive_json()
            assert (missing["event"], missing["id"], missing["data"]["code"]) == ("error", "x", 103000002)


def test_cancel_stops_a_chat_and_closing_the_socket_stops_its_chats(app, settings_override):
    settings_override(offline_model_delay_ms=30)  # the offline model takes its time
    with TestClient(app) as http:
        alice = register(http)
        bot_id = new_agent(alice)
        long_question = question(bot_id, " ".join(["parcel"] * 200))
        with http.websocket_connect(PATH, headers=alice.headers) as socket:
            socket.send_json({"type": "chat.create", "id": "long", "data": long_question})
            created = socket.receive_json()
            assert created["event"] == "conversation.chat.created"
            while socket.receive_json()["event"] != "conversation.message.delta":
                pass
            chat = {"conversation_id": created["data"]["conversation_id"], "chat_id": created["data"]["id"]}
            socket.send_json({"type": "chat.cancel", "id": "stop", "data": chat})
            frames = until_done(socket, "long")
            while not any(f.get("id") == "stop" for f in frames):
                frames.append(socket.receive_json())
            acked = next(f for f in frames if f.get("id") == "stop")
            assert acked["event"] == "chat.cancelled" and acked["data"]["status"] == "canceled"
            assert ChatRun.get_by_id(int(chat["chat_id"])).status == "canceled"
            socket.send_json({"type": "chat.create", "id": "left", "data": long_question})
            left_id = socket.receive_json()["data"]["id"]
        deadline = time.monotonic() + 10  # the socket closed mid-chat: its chat stops
        while (
            ChatRun.get_by_id(int(left_id)).status in ("created", "in_progress")
            and time.monotonic() < deadline
        ):
            time.sleep(0.02)
        assert ChatRun.get_by_id(int(left_id)).status == "canceled"


def test_a_real_client_against_a_live_server(live_server, pat, coze):
    from test_sdk_chat import published_agent
    from websockets.sync.client import connect

    agent = published_agent(coze)
    url = live_server.replace("http://", "ws://") + PATH
    with connect(url, additional_headers={"Authorization": f"Bearer {pat}"}, open_timeout=10) as socket:
        socket.send(
            json.dumps({"type": "chat.create", "id": "live", "data": question(agent, "Over the wire")})
        )
        events = []
        while not events or events[-1]["event"] not in ("done", "error"):
            events.append(json.loads(socket.recv(timeout=20)))
    names = [e["event"] for e in events]
    assert names[0] == "conversation.chat.created" and names[-1] == "done", names
    answer = next(
        e for e in events if e["event"] == "conversation.message.completed" and e["data"]["type"] == "answer"
    )
    assert "Over the wire" in answer["data"]["content"]
    from websockets.exceptions import InvalidStatus

    with pytest.raises(InvalidStatus) as refused:
        connect(url, additional_headers={"Authorization": "Bearer pat_wrong"}, open_timeout=10)
    assert refused.value.response.status_code == 401
    assert json.loads(refused.value.response.body)["code"] == 700012006  # the token is not valid
