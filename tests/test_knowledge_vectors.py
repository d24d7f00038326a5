"""Knowledge with an embedding model (the fake OpenAI server's): semantic and hybrid retrieval,
rerank, vectors kept in step with slices, failures of the model, and agents recalling by meaning."""

from __future__ import annotations

import base64
import json
import time

import pytest
from conftest import assert_error
from test_knowledge import (
    add_and_wait,
    add_documents,
    make_dataset,
    retrieve,
    slices_of,
    text_source,
    wait_done,
)

from models.knowledge import Slice, SliceVector
from tests.fake_openai import EMBEDDING_DIMENSIONS, FakeModel, ServerThread

MODELS = "/api/admin/config/model/"
CONFIG = "/api/admin/config/knowledge/"


@pytest.fixture(scope="module")
def fake(app):
    with ServerThread(FakeModel()) as server:
        yield server


def register(admin, fake, **fields) -> str:
    response = admin.post(
        MODELS + "create",
        json={
            "name": f"fake {fields['kind']}",
            "model_name": "fake-embed",
            "base_url": fake.base_url,
            **fields,
        },
    )
    assert response.status_code == 200, response.text
    return response.json()["data"]["model"]["id"]


@pytest.fixture
def models(admin, fake):
    embedding = register(admin, fake, kind="embedding", dimensions=EMBEDDING_DIMENSIONS)
    rerank = register(admin, fake, kind="rerank")
    response = admin.post(CONFIG + "save", {"embedding_model_id": embedding, "rerank_model_id": rerank})
    assert response.status_code == 200, response.text
    assert response.json()["data"] == {
        "embedding_model_id": embedding,
        "rerank_model_id": rerank,
        "caption_model_id": None,
        "available_strategies": [20, 0, 1],
    }
    yield int(embedding)
    admin.post(CONFIG + "save", {"embedding_model_id": None, "rerank_model_id": None})


def wait_for(condition, timeout=15.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_configuration_is_checked(admin, alice, fake):
    assert_error(
        admin.post(
            MODELS + "create",
            json={"name": "e", "model_name": "e", "base_url": fake.base_url, "kind": "embedding"},
        ),
        400,
        100000024,
        "dimensions",
    )
    assert_error(
        admin.post(
            MODELS + "create",
            json={
                "name": "r",
                "model_name": "r",
                "base_url": fake.base_url,
                "kind": "rerank",
                "is_default": True,
            },
        ),
        400,
        100000024,
        "default",
    )
    assert_error(admin.post(CONFIG + "save", {"embedding_model_id": "1"}), 400, 100000024, "chat model")
    assert_error(admin.post(CONFIG + "save", {"rerank_model_id": "123"}), 404, 100000020)
    assert_error(alice.post(CONFIG + "save", {"embedding_model_id": None}), 403, 108000006)
    assert admin.get(CONFIG + "get").json()["data"]["available_strategies"] == [20]
    embedding = register(admin, fake, kind="embedding", dimensions=8)
    choices = admin.post("/api/bot/get_type_list", json={"model": True}).json()["data"]["model_list"]
    assert embedding not in [c["model_id"] for c in choices]  # agents cannot chat with it


def test_semantic_and_hybrid_find_by_meaning(alice, models):
    dataset_id = make_dataset(alice)
    money, shipping = add_and_wait(
        alice,
        dataset_id,
        [
            text_source("money", "You get your money back within 30 days."),
            text_source("ship", "Parcels ship within a week."),
        ],
    )
    vectors = list(SliceVector.select().where(SliceVector.dataset_id == int(dataset_id)))
    assert len(vectors) == 2 and {v.model_id for v in vectors} == {models}
    assert retrieve(alice, [dataset_id], "refund policy", search_strategy=20)["slices"] == []
    semantic = retrieve(alice, [dataset_id], "refund policy", search_strategy=0)
    assert semantic["search_strategy"] == 0 and semantic["available_strategies"] == [20, 0, 1]
    first = semantic["slices"][0]
    assert first["document_id"] == money["document_id"] and first["ranks"]["vector"] == 1
    assert first["score"] == first["scores"]["vector"] > 0.3
    hybrid = retrieve(alice, [dataset_id], "refund reimburse parcels", search_strategy=1, top_k=2)
    by_doc = {s["document_id"]: s for s in hybrid["slices"]}
    assert set(by_doc) == {money["document_id"], shipping["document_id"]}
    assert by_doc[shipping["document_id"]]["ranks"]["full_text"] == 1  # only it has the words
    assert by_doc[money["document_id"]]["ranks"]["vector"] == 1  # only it has the meaning
    assert all(0 < s["score"] == s["scores"]["fused"] <= 1 for s in hybrid["slices"])
    assert {"embed", "vector", "full_text"} <= set(hybrid["timings_ms"])


def test_rerank_orders_the_candidates(alice, models):
    dataset_id = make_dataset(alice)
    add_and_wait(
        alice, dataset_id, [text_source("a", "kettle"), text_source("b", "kettle descaling guide steps")]
    )
    plain = retrieve(alice, [dataset_id], "kettle descaling steps", search_strategy=0, top_k=2)
    reranked = retrieve(
        alice, [dataset_id], "kettle descaling steps", search_strategy=0, top_k=2, use_rerank=True
    )
    best = reranked["slices"][0]
    assert best["content"] == "kettle descaling guide steps" and best["ranks"]["rerank"] == 1
    assert best["score"] == best["scores"]["rerank"] == 1.0 and reranked["slices"][1]["scores"]["rerank"] < 1
    assert "rerank" not in plain["slices"][0]["scores"]


def test_slice_edits_are_reembedded_and_failures_stay_alone(alice, models):
    dataset_id = make_dataset(alice)
    [document] = add_and_wait(alice, dataset_id, [text_source("n", "Parcels ship within a week.")])
    created = alice.post(
        "/api/knowledge/slice/create", {"document_id": document["document_id"], "raw_text": "tea"}
    )
    slice_id = int(created.json()["data"]["slice_id"])
    before = SliceVector.get_by_id(slice_id).vector
    assert (
        alice.post(
            "/api/knowledge/slice/update", {"slice_id": str(slice_id), "raw_text": "We repay the money."}
        ).status_code
        == 200
    )
    assert SliceVector.get_by_id(slice_id).vector != before
    assert retrieve(alice, [dataset_id], "refund", search_strategy=0, top_k=1)["slices"][0][
        "slice_id"
    ] == str(slice_id)

    assert_error(
        alice.post(
            "/api/knowledge/slice/create", {"document_id": document["document_id"], "raw_text": "embedfail"}
        ),
        424,
        105000025,
        "embedded",
    )
    assert [s["content"] for s in slices_of(alice, document["document_id"])] == [
        "Parcels ship within a week.",
        "We repay the money.",
    ]
    bad, good = add_documents(
        alice, dataset_id, [text_source("bad", "embedfail here"), text_source("good", "fine text")]
    )
    states = wait_done(alice, [bad["document_id"], good["document_id"]])
    assert states[0]["status"] == 9 and "embedding backend down" in states[0]["status_descript"]
    assert states[1]["status"] == 1


def test_existing_slices_are_embedded_when_a_model_is_chosen(admin, alice, fake):
    dataset_id = make_dataset(alice)
    add_and_wait(alice, dataset_id, [text_source("m", "Money back in 30 days.")])
    ids = [s.id for s in Slice.select().where(Slice.dataset == int(dataset_id))]
    assert SliceVector.select().where(SliceVector.slice.in_(ids)).count() == 0
    embedding = register(admin, fake, kind="embedding", dimensions=EMBEDDING_DIMENSIONS)

    def detail() -> dict:
        details = alice.post("/api/knowledge/detail", {"dataset_ids": [dataset_id]}).json()["data"]
        return details["dataset_details"][dataset_id]

    assert detail()["embedded_slice_count"] == 0  # no model chosen yet
    try:
        assert admin.post(CONFIG + "save", {"embedding_model_id": embedding}).status_code == 200
        wait_for(lambda: SliceVector.select().where(SliceVector.slice.in_(ids)).count() == len(ids))
        # the background embedding shows in the knowledge base's counters
        assert detail()["embedded_slice_count"] == detail()["slice_count"] == len(ids)
        assert (
            retrieve(alice, [dataset_id], "refund", search_strategy=0)["slices"][0]["content"]
            == "Money back in 30 days."
        )
    finally:
        admin.post(CONFIG + "save", {"embedding_model_id": None})
    assert_error(
        alice.post(
            "/api/knowledge/retrieve", {"dataset_ids": [dataset_id], "query": "x", "search_strategy": 1}
        ),
        400,
        105000024,
    )


def test_agent_recalls_by_meaning(alice, models):
    from test_chat import messages_of, new_agent, open_chat

    dataset_id = make_dataset(alice)
    add_and_wait(alice, dataset_id, [text_source("money", "You get your money back within 30 days.")])
    bot_id = new_agent(
        alice,
        knowledge={
            "knowledge_info": [{"id": dataset_id, "name": ""}],
            "top_k": 1,
            "search_strategy": 1,
            "recall_strategy": {"use_rerank": False},
        },
    )
    completed = messages_of(open_chat(alice, bot_id, "Can I get a refund?"), "conversation.message.completed")
    recall = json.loads(json.loads(next(m for m in completed if m["type"] == "verbose")["content"])["data"])
    assert recall["chunks"][0]["slice"] == "You get your money back within 30 days."


def test_images_without_a_caption_are_captioned_by_the_vision_model(admin, alice, fake):
    vision = register(admin, fake, kind="chat", capabilities={"vision": True})
    blind = register(admin, fake, kind="chat")
    assert_error(admin.post(CONFIG + "save", {"caption_model_id": blind}), 400, 100000024, "vision")
    assert admin.post(CONFIG + "save", {"caption_model_id": vision}).status_code == 200
    try:
        dataset_id = make_dataset(alice, "Pictures", format_type=2)
        png = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * 30).decode()
        auto, _ = add_and_wait(
            alice,
            dataset_id,
            [
                {"name": "auto.png", "source_info": {"file_base64": png, "file_type": "png"}},
                {
                    "name": "typed.png",
                    "caption": "A red kettle",
                    "source_info": {"file_base64": png, "file_type": "png"},
                },
            ],
        )
        add_and_wait(
            alice,
            dataset_id,
            [{"name": "manual.png", "source_info": {"file_base64": png, "file_type": "png"}}],
            chunk_strategy={"chunk_type": 0, "caption_type": 1},
        )
        listed = alice.post("/api/knowledge/document/list", {"dataset_id": dataset_id}).json()["data"][
            "document_infos"
        ]
        captions = {d["name"]: d["caption"] for d in listed}
        assert captions == {
            "auto.png": "fake caption: a image/png picture of 52 characters",
            "typed.png": "A red kettle",
            "manual.png": "",
        }
        assert retrieve(alice, [dataset_id], "picture")["slices"][0]["document_id"] == auto["document_id"]
    finally:
        admin.post(CONFIG + "save", {"caption_model_id": None})
