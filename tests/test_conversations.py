"""The Open API's conversations and messages: CRUD, sections, cursors in both orders, and
isolation between users."""

from __future__ import annotations

import pytest
from conftest import assert_error
from test_chat import new_agent

from models.conversation import Conversation, Message


@pytest.fixture
def agent(alice) -> str:
    return new_agent(alice)


def create_conversation(account, bot_id, **body) -> dict:
    response = account.post("/v1/conversation/create", json={"bot_id": bot_id, **body})
    assert response.status_code == 200, response.text
    return response.json()["data"]


def add(account, conversation_id, content, role="user") -> dict:
    response = account.post(
        f"/v1/conversation/message/create?conversation_id={conversation_id}",
        json={"role": role, "content": content, "content_type": "text", "meta_data": None},
    )
    assert response.status_code == 200, response.text
    return response.json()["data"]


def page(account, conversation_id, **body) -> dict:
    response = account.post(f"/v1/conversation/message/list?conversation_id={conversation_id}", json=body)
    assert response.status_code == 200, response.text
    return response.json()


class TestConversations:
    def test_create_with_messages_retrieve_rename_clear_delete(self, alice, agent):
        created = create_conversation(
            alice,
            agent,
            meta_data={"source": "test"},
            messages=[{"role": "user", "content": "first"}, {"role": "assistant", "content": "reply"}],
        )
        stored = Conversation.get_by_id(int(created["id"]))
        assert stored.creator_id == int(alice.user_id) and stored.connector_id == 1024 and stored.scene == 9
        assert created["meta_data"] == {"source": "test"} and created["bot_id"] == agent
        types = [
            (m.role, m.type)
            for m in Message.select().where(Message.conversation == stored.id).order_by(Message.id)
        ]
        assert types == [("user", "question"), ("assistant", "answer")]
        got = alice.get(f"/v1/conversation/retrieve?conversation_id={created['id']}").json()["data"]
        assert got["id"] == created["id"] and got["last_section_id"] == created["last_section_id"]
        renamed = alice.client.put(
            f"/v1/conversations/{created['id']}", json={"name": "Trip"}, headers=alice.headers
        )
        assert renamed.json()["data"]["name"] == "Trip" and Conversation.get_by_id(stored.id).name == "Trip"
        cleared = alice.post(f"/v1/conversations/{created['id']}/clear").json()["data"]
        assert cleared["conversation_id"] == created["id"] and cleared["id"] != created["last_section_id"]
        assert Conversation.get_by_id(stored.id).last_section_id == int(cleared["id"])
        deleted = alice.client.delete(f"/v1/conversations/{created['id']}", headers=alice.headers)
        assert deleted.json()["code"] == 0
        assert Conversation.get_or_none(Conversation.id == stored.id) is None
        assert Message.select().where(Message.conversation == stored.id).count() == 0

    def test_list_pages_and_sorts(self, alice, agent):
        ids = [create_conversation(alice, agent)["id"] for _ in range(3)]
        first = alice.get(f"/v1/conversations?bot_id={agent}&page_num=1&page_size=2").json()["data"]
        assert [c["id"] for c in first["conversations"]] == ids[::-1][:2] and first["has_more"] is True
        second = alice.get(f"/v1/conversations?bot_id={agent}&page_num=2&page_size=2").json()["data"]
        assert [c["id"] for c in second["conversations"]] == [ids[0]] and second["has_more"] is False
        ascending = alice.get(f"/v1/conversations?bot_id={agent}&sort_order=ASC").json()["data"]
        assert [c["id"] for c in ascending["conversations"]] == ids
        assert (
            alice.get(f"/v1/conversations?bot_id={agent}&connector_id=999").json()["data"]["conversations"]
            == []
        )
        Conversation.update(updated_at=Conversation.updated_at + 100).where(
            Conversation.id == int(ids[0])
        ).execute()
        recent = alice.get(f"/v1/conversations?bot_id={agent}&sort_field=updated_at").json()["data"]
        assert recent["conversations"][0]["id"] == ids[0]

    def test_a_second_user_cannot_see_or_touch_them(self, alice, bob, agent):
        created = create_conversation(alice, agent)
        message = add(alice, created["id"], "private")
        cid, mid = created["id"], message["id"]
        assert_error(bob.get(f"/v1/conversation/retrieve?conversation_id={cid}"), 404, 103000002)
        assert_error(bob.post("/v1/conversation/create", json={"bot_id": agent}), 404, 100000002)
        assert_error(bob.get(f"/v1/conversations?bot_id={agent}"), 404, 100000002)
        assert_error(
            bob.client.put(f"/v1/conversations/{cid}", json={"name": "x"}, headers=bob.headers),
            404,
            103000002,
        )
        assert_error(bob.client.delete(f"/v1/conversations/{cid}", headers=bob.headers), 404, 103000002)
        assert_error(bob.post(f"/v1/conversations/{cid}/clear"), 404, 103000002)
        assert_error(
            bob.post(
                f"/v1/conversation/message/create?conversation_id={cid}",
                json={"role": "user", "content": "x"},
            ),
            404,
            103000002,
        )
        assert_error(
            bob.post(f"/v1/conversation/message/list?conversation_id={cid}", json={}), 404, 103000002
        )
        query = f"conversation_id={cid}&message_id={mid}"
        assert_error(bob.get(f"/v1/conversation/message/retrieve?{query}"), 404, 103000002)
        assert_error(
            bob.post(f"/v1/conversation/message/modify?{query}", json={"content": "x"}), 404, 103000002
        )
        assert_error(bob.post(f"/v1/conversation/message/delete?{query}"), 404, 103000002)
        for path, body in (
            ("get_message_list", {"bot_id": agent}),
            ("create_section", {"conversation_id": cid}),
            ("clear_message", {"conversation_id": cid}),
            ("delete_message", {"conversation_id": cid, "message_id": mid}),
            ("break_message", {"conversation_id": cid, "query_message_id": mid}),
        ):
            assert bob.post(f"/api/conversation/{path}", json=body).status_code == 404
        assert Message.get_by_id(int(mid)).content == "private"
        assert Conversation.get_by_id(int(cid)).name == ""

    def test_bad_input(self, alice, agent):
        assert_error(
            alice.post("/v1/conversation/create", json={"bot_id": agent, "connector_id": "5"}),
            400,
            103000000,
            "connector_id",
        )
        assert_error(
            alice.post("/v1/conversation/create", json={"bot_id": agent, "meta_data": {"k": 1}}),
            400,
            103000000,
            "meta_data",
        )
        assert_error(
            alice.get("/v1/conversation/retrieve?conversation_id=abc"), 400, 103000000, "conversation_id"
        )
        assert_error(alice.get("/v1/conversation/retrieve?conversation_id=123"), 404, 103000002)


class TestMessages:
    def test_create_retrieve_modify_delete(self, alice, agent):
        cid = create_conversation(alice, agent)["id"]
        created = add(alice, cid, "hello", role="assistant")
        assert created["type"] == "answer" and created["chat_id"] == "0" and created["meta_data"] == {}
        got = alice.get(f"/v1/conversation/message/retrieve?conversation_id={cid}&message_id={created['id']}")
        assert got.json()["data"]["content"] == "hello"
        modified = alice.post(
            f"/v1/conversation/message/modify?conversation_id={cid}&message_id={created['id']}",
            json={"content": "hello again", "meta_data": {"edited": "yes"}},
        ).json()
        assert modified["message"]["content"] == "hello again" and "data" not in modified
        stored = Message.get_by_id(int(created["id"]))
        assert stored.content == "hello again" and stored.meta_data == {"edited": "yes"}
        deleted = alice.post(
            f"/v1/conversation/message/delete?conversation_id={cid}&message_id={created['id']}"
        )
        assert deleted.json()["data"]["content"] == "hello again"
        assert Message.get_or_none(Message.id == int(created["id"])) is None
        assert_error(
            alice.get(f"/v1/conversation/message/retrieve?conversation_id={cid}&message_id={created['id']}"),
            404,
            103200001,
        )
        assert_error(
            alice.post(
                f"/v1/conversation/message/create?conversation_id={cid}",
                json={"role": "user", "type": "answer", "content": "x"},
            ),
            400,
            103000000,
            "type",
        )

    def test_cursors_follow_the_listing_order(self, alice, agent):
        cid = create_conversation(alice, agent)["id"]
        ids = [add(alice, cid, f"m{i}")["id"] for i in range(5)]  # m0 oldest
        newest = page(alice, cid, limit=2, order="desc", chat_id=None, before_id=None, after_id=None)
        assert [m["id"] for m in newest["data"]] == [ids[4], ids[3]]
        assert (newest["first_id"], newest["last_id"], newest["has_more"]) == (ids[4], ids[3], True)
        older = page(alice, cid, limit=2, after_id=newest["last_id"])  # what the SDKs ask for next
        assert [m["id"] for m in older["data"]] == [ids[2], ids[1]] and older["has_more"] is True
        last = page(alice, cid, limit=2, after_id=older["last_id"])
        assert [m["id"] for m in last["data"]] == [ids[0]] and last["has_more"] is False
        back = page(alice, cid, limit=2, before_id=ids[1])
        assert [m["id"] for m in back["data"]] == [ids[3], ids[2]] and back["has_more"] is True
        ascending = page(alice, cid, order="asc", limit=3)
        assert [m["id"] for m in ascending["data"]] == ids[:3] and ascending["has_more"] is True
        following = page(alice, cid, order="asc", limit=3, after_id=ascending["last_id"])
        assert [m["id"] for m in following["data"]] == ids[3:] and following["has_more"] is False
        preceding = page(alice, cid, order="asc", limit=3, before_id=ids[3])
        assert [m["id"] for m in preceding["data"]] == ids[:3] and preceding["has_more"] is False
        empty = page(alice, create_conversation(alice, agent)["id"])
        assert (empty["data"], empty["first_id"], empty["last_id"], empty["has_more"]) == ([], "", "", False)

    def test_list_by_chat_and_no_body(self, alice, agent):
        from test_chat import final_chat, open_chat

        chat = final_chat(open_chat(alice, agent, "/echo only this"))
        cid = chat["conversation_id"]
        add(alice, cid, "unrelated")
        by_chat = page(alice, cid, chat_id=chat["id"])
        assert [(m["type"], m["content"]) for m in by_chat["data"]] == [
            ("answer", "only this"),
            ("question", "/echo only this"),
        ]
        response = alice.post(f"/v1/conversation/message/list?conversation_id={cid}")
        assert len(response.json()["data"]) == 3
