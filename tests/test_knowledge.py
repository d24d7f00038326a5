"""Knowledge bases through HTTP: datasets, documents of every format processed by the task
queue, chunking, slices, the retrieval test, and bad input that must change nothing."""

from __future__ import annotations

import base64
import http.server
import json
import threading
import time

import pytest
from conftest import assert_error
from peewee import SqliteDatabase

from models.db import db
from models.files import StoredFile
from models.identity import User
from models.knowledge import Dataset, Document, Slice
from services.fulltext import FullTextIndex
from tests import kb_files

pytestmark = pytest.mark.usefixtures("client")


def _space(account) -> str:
    return str(User.get_by_id(int(account.user_id)).personal_space().id)


def make_dataset(account, name="Manuals", format_type=0) -> str:
    response = account.post(
        "/api/knowledge/create",
        {"name": name, "space_id": _space(account), "format_type": format_type, "description": "docs"},
    )
    assert response.status_code == 200, response.text
    return response.json()["data"]["dataset_id"]


def upload(account, name: str, content: bytes) -> str:
    response = account.post("/v1/files/upload", files={"file": (name, content, "application/octet-stream")})
    assert response.status_code == 200, response.text
    return response.json()["data"]["id"]


def add_documents(account, dataset_id, bases, **extra) -> list[dict]:
    response = account.post(
        "/api/knowledge/document/create", {"dataset_id": dataset_id, "document_bases": bases, **extra}
    )
    assert response.status_code == 200, response.text
    return response.json()["data"]["document_infos"]


def wait_done(account, document_ids, timeout=30.0) -> list[dict]:
    deadline = time.monotonic() + timeout
    while True:
        body = account.post("/api/knowledge/document/progress/get", {"document_ids": document_ids}).json()
        states = body["data"]["data"]
        if all(s["status"] not in (0, 4) for s in states):
            return states
        assert time.monotonic() < deadline, states
        time.sleep(0.05)


def add_and_wait(account, dataset_id, bases, **extra) -> list[dict]:
    documents = add_documents(account, dataset_id, bases, **extra)
    states = wait_done(account, [d["document_id"] for d in documents])
    assert all(s["status"] == 1 for s in states), states
    return documents


def text_source(name, text) -> dict:
    return {"name": name, "source_info": {"custom_content": text}}


def dataset_of_texts(account, **texts) -> str:
    """A knowledge base holding one processed document per text (named by the keyword)."""
    dataset_id = make_dataset(account)
    add_and_wait(account, dataset_id, [text_source(name, text) for name, text in texts.items()])
    return dataset_id


def retrieve(account, dataset_ids, query, **options) -> dict:
    response = account.post(
        "/api/knowledge/retrieve", {"dataset_ids": dataset_ids, "query": query, **options}
    )
    assert response.status_code == 200, response.text
    return response.json()["data"]


def slices_of(account, document_id) -> list[dict]:
    body = account.post("/api/knowledge/slice/list", {"document_id": document_id, "page_size": 200}).json()
    return body["data"]["slices"]


class TestDatasets:
    def test_create_list_detail_update_delete(self, alice):
        dataset_id = make_dataset(alice, "Support FAQ")
        space = _space(alice)
        listed = alice.post("/api/knowledge/list", {"space_id": space, "filter": {"name": "Support"}}).json()[
            "data"
        ]
        assert [d["dataset_id"] for d in listed["dataset_list"]] == [dataset_id] and listed["total"] == 1
        row = listed["dataset_list"][0]
        assert (row["name"], row["format_type"], row["status"], row["doc_count"]) == ("Support FAQ", 0, 1, 0)
        assert (
            alice.post(
                "/api/knowledge/update",
                {"dataset_id": dataset_id, "name": "Support answers", "description": "Answers"},
            ).status_code
            == 200
        )
        detail = alice.post("/api/knowledge/detail", {"dataset_ids": [dataset_id]}).json()["data"][
            "dataset_details"
        ]
        assert (detail[dataset_id]["name"], detail[dataset_id]["description"]) == (
            "Support answers",
            "Answers",
        )
        assert alice.post("/api/knowledge/delete", {"dataset_id": dataset_id}).status_code == 200
        assert_error(alice.post("/api/knowledge/detail", {"dataset_ids": [dataset_id]}), 404, 105000001)

    def test_filters_and_order(self, alice):
        text, table = make_dataset(alice, "Alpha"), make_dataset(alice, "Beta", format_type=1)
        space = _space(alice)
        only_tables = alice.post(
            "/api/knowledge/list", {"space_id": space, "filter": {"format_type": 1}}
        ).json()
        assert [d["dataset_id"] for d in only_tables["data"]["dataset_list"]] == [table]
        oldest_first = alice.post("/api/knowledge/list", {"space_id": space, "order_type": 2}).json()
        assert [d["dataset_id"] for d in oldest_first["data"]["dataset_list"]] == [text, table]
        page = alice.post("/api/knowledge/list", {"space_id": space, "size": 1, "page": 2}).json()["data"]
        assert page["total"] == 2 and [d["dataset_id"] for d in page["dataset_list"]] == [text]

    def test_keywords_scope_and_update_order(self, alice):
        first, second = make_dataset(alice, "First"), make_dataset(alice, "Second")
        Dataset.update(updated_at=Dataset.updated_at + 100).where(Dataset.id == int(first)).execute()
        space = _space(alice)

        def listed(**order):
            body = alice.post("/api/knowledge/list", {"space_id": space, **order}).json()["data"]
            return [d["dataset_id"] for d in body["dataset_list"]]

        assert listed() == [second, first] and listed(order_field=2) == [first, second]
        mine = alice.post("/api/knowledge/list", {"space_id": space, "filter": {"scope_type": 2}}).json()[
            "data"
        ]
        assert mine["total"] == 2
        documents = add_and_wait(
            alice,
            first,
            [text_source("alpha notes", "one\n\ntwo"), text_source("beta", "three")],
            chunk_strategy={"chunk_type": 1, "separator": "\n\n", "max_tokens": 100},
        )
        found = alice.post("/api/knowledge/document/list", {"dataset_id": first, "keyword": "alpha"}).json()[
            "data"
        ]
        assert [d["document_id"] for d in found["document_infos"]] == [documents[0]["document_id"]] and found[
            "total"
        ] == 1
        whole = alice.post("/api/knowledge/slice/list", {"dataset_id": first, "page_size": 2}).json()["data"]
        assert whole["total"] == 3 and len(whole["slices"]) == 2 and whole["hasmore"] is True
        rest = alice.post("/api/knowledge/slice/list", {"dataset_id": first, "sequence": 2}).json()["data"]
        assert len(rest["slices"]) == 1 and rest["hasmore"] is False
        two = alice.post("/api/knowledge/slice/list", {"dataset_id": first, "keyword": "two"}).json()["data"]
        assert [s["content"] for s in two["slices"]] == ["two"]

    def test_duplicate_name_and_strangers(self, alice, bob):
        dataset_id = make_dataset(alice, "Unique")
        assert_error(
            alice.post("/api/knowledge/create", {"name": "Unique", "space_id": _space(alice)}),
            409,
            105000010,
            "Unique",
        )
        assert_error(bob.post("/api/knowledge/detail", {"dataset_ids": [dataset_id]}), 404, 105000001)
        assert_error(bob.post("/api/knowledge/delete", {"dataset_id": dataset_id}), 404, 105000001)
        assert_error(
            bob.post(
                "/api/knowledge/document/create",
                {"dataset_id": dataset_id, "document_bases": [text_source("x", "hello")]},
            ),
            404,
            105000001,
        )
        assert_error(
            bob.post("/api/knowledge/retrieve", {"dataset_ids": [dataset_id], "query": "x"}), 404, 105000001
        )
        assert_error(
            bob.post("/api/knowledge/create", {"name": "Mine", "space_id": _space(alice)}), 404, 108000009
        )
        assert alice.post("/api/knowledge/detail", {"dataset_ids": [dataset_id]}).status_code == 200

    def test_bad_fields_name_themselves(self, alice):
        assert_error(
            alice.post("/api/knowledge/create", {"name": "", "space_id": _space(alice)}),
            400,
            105000000,
            "name",
        )
        assert_error(
            alice.post("/api/knowledge/create", {"name": "x", "space_id": _space(alice), "format_type": 7}),
            400,
            105000000,
            "format_type",
        )


class TestFormats:
    def test_pdf_docx_markdown_and_xlsx_are_chunked_and_searchable(self, alice):
        dataset_id = make_dataset(alice)
        pdf_id = upload(
            alice,
            "policy.pdf",
            kb_files.pdf(
                [
                    "Refunds are paid within five working days.",
                    "Shipping is free for orders over fifty euros.",
                ]
            ),
        )
        docx_id = upload(
            alice,
            "warranty.docx",
            kb_files.docx(
                [("Heading 1", "Warranty"), ("Normal", "Every kettle carries a two year warranty.")],
                table=[["Model", "Watts"], ["K100", "2200"]],
            ),
        )
        md = "# Care\n\n## Descaling\n\nDescale the kettle monthly with citric acid.\n"
        documents = add_and_wait(
            alice,
            dataset_id,
            [
                {"name": "policy.pdf", "source_info": {"tos_uri": f"file:{pdf_id}"}},
                {"source_info": {"source_file_id": docx_id}},
                {
                    "name": "care.md",
                    "source_info": {"file_base64": base64.b64encode(md.encode()).decode(), "file_type": "md"},
                },
            ],
        )
        assert [d["type"] for d in documents] == ["pdf", "docx", "md"]
        pdf_slices = slices_of(alice, documents[0]["document_id"])
        assert "five working days" in pdf_slices[0]["content"] and pdf_slices[0]["meta"]["page"] == 1
        assert any("K100 | 2200" in s["content"] for s in slices_of(alice, documents[1]["document_id"]))
        care = slices_of(alice, documents[2]["document_id"])
        assert care[0]["meta"]["heading_path"] == ["Care", "Descaling"]

        cases = {
            "How long until my refund is paid?": documents[0],
            "What warranty does the kettle have?": documents[1],
            "how often should I descale": documents[2],
            "Is shipping free?": documents[0],
        }
        for question, expected in cases.items():
            found = retrieve(alice, [dataset_id], question, top_k=1)["slices"]
            assert found and found[0]["document_id"] == expected["document_id"], (question, found)
        listed = alice.post("/api/knowledge/document/list", {"dataset_id": dataset_id}).json()["data"]
        assert listed["total"] == 3 and all(
            d["slice_count"] >= 1 and d["char_count"] > 0 for d in listed["document_infos"]
        )
        stats = alice.post("/api/knowledge/detail", {"dataset_ids": [dataset_id]}).json()["data"][
            "dataset_details"
        ]
        assert stats[dataset_id]["doc_count"] == 3
        assert stats[dataset_id]["slice_count"] == sum(d["slice_count"] for d in listed["document_infos"])

    def test_table_knowledge_keeps_columns_and_filters(self, alice):
        dataset_id = make_dataset(alice, "Catalogue", format_type=1)
        sheet = kb_files.xlsx(
            [
                ["sku", "product", "price"],
                ["K1", "Steel kettle", 25],
                ["T2", "Two-slot toaster", 30.5],
                ["B3", "Glass blender", 80],
            ]
        )
        [document] = add_and_wait(
            alice,
            dataset_id,
            [{"name": "catalogue.xlsx", "source_info": {"source_file_id": upload(alice, "c.xlsx", sheet)}}],
        )
        info = alice.post("/api/knowledge/document/list", {"dataset_id": dataset_id}).json()["data"][
            "document_infos"
        ][0]
        columns = {c["column_name"]: c for c in info["table_meta"]}
        assert list(columns) == ["sku", "product", "price"] and columns["price"]["column_type"] == 4
        rows = slices_of(alice, document["document_id"])
        assert len(rows) == 3 and rows[1]["meta"]["row"][columns["product"]["id"]] == "Two-slot toaster"
        assert rows[1]["content"] == "sku: T2; product: Two-slot toaster; price: 30.5"
        hit = retrieve(alice, [dataset_id], "toaster", top_k=1)["slices"][0]
        assert hit["meta"]["row"][columns["sku"]["id"]] == "T2"
        cheap = retrieve(
            alice, [dataset_id], "", filters=[{"column": "price", "op": "lt", "value": 50}], top_k=10
        )
        assert sorted(s["meta"]["row"][columns["sku"]["id"]] for s in cheap["slices"]) == ["K1", "T2"]
        glass = retrieve(
            alice, [dataset_id], "", filters=[{"column": "product", "op": "contains", "value": "glass"}]
        )
        assert [s["meta"]["row"][columns["sku"]["id"]] for s in glass["slices"]] == ["B3"]

    def test_table_sheet_header_and_start_line(self, alice):
        import io

        import openpyxl

        book = openpyxl.Workbook()
        book.active.append(["ignored"])
        second = book.create_sheet("Prices")
        for row in (["Price list 2026"], ["sku", "price"], ["(sample row)", "0"], ["K1", "25"], ["T2", "30"]):
            second.append(row)
        content = io.BytesIO()
        book.save(content)
        dataset_id = make_dataset(alice, "Sheets", format_type=1)
        [document] = add_and_wait(
            alice,
            dataset_id,
            [
                {
                    "name": "prices.xlsx",
                    "source_info": {"source_file_id": upload(alice, "prices.xlsx", content.getvalue())},
                    "table_sheet": {"sheet_id": "1", "header_line_idx": "1", "start_line_idx": "3"},
                }
            ],
        )
        assert [s["content"] for s in slices_of(alice, document["document_id"])] == [
            "sku: K1; price: 25",
            "sku: T2; price: 30",
        ]

    def test_table_rows_from_pasted_json_and_searched_columns(self, alice):
        dataset_id = make_dataset(alice, "People", format_type=1)
        rows = [{"name": "Ada", "role": "analyst"}, {"name": "Grace", "role": "admiral"}]
        [document] = add_and_wait(
            alice, dataset_id, [{"name": "people", "source_info": {"custom_content": json.dumps(rows)}}]
        )
        meta = alice.post("/api/knowledge/document/list", {"dataset_id": dataset_id}).json()["data"][
            "document_infos"
        ][0]["table_meta"]
        role = next(c for c in meta if c["column_name"] == "role")
        assert retrieve(alice, [dataset_id], "admiral")["slices"]
        response = alice.post(
            "/api/knowledge/document/update",
            {
                "document_id": document["document_id"],
                "table_meta": [{"id": role["id"], "is_semantic": False}],
            },
        )
        assert response.status_code == 200, response.text
        assert retrieve(alice, [dataset_id], "admiral")["slices"] == []  # role is no longer searched
        assert len(retrieve(alice, [dataset_id], "grace")["slices"]) == 1

    def test_html_json_csv_and_chinese_text(self, alice):
        dataset_id = make_dataset(alice)
        html = "<html><body><h1>Opening hours</h1><p>We open at nine.</p><script>x()</script></body></html>"
        documents = add_and_wait(
            alice,
            dataset_id,
            [
                {
                    "name": "hours.html",
                    "source_info": {
                        "file_base64": base64.b64encode(html.encode()).decode(),
                        "file_type": "html",
                    },
                },
                {
                    "name": "faq.json",
                    "source_info": {
                        "file_base64": base64.b64encode(
                            json.dumps({"returns": "Returns are accepted for thirty days"}).encode()
                        ).decode(),
                        "file_type": "json",
                    },
                },
                {
                    "name": "stock.csv",
                    "source_info": {
                        "file_base64": base64.b64encode(b"item,stock\nkettle,12\nteapot,0\n").decode(),
                        "file_type": "csv",
                    },
                },
                text_source("zh", "退款政策：商品签收后七天内可以申请退款。\n\n配送说明：订单满五十元包邮。"),
            ],
        )
        assert "x()" not in slices_of(alice, documents[0]["document_id"])[0]["content"]
        assert (
            retrieve(alice, [dataset_id], "when do you open", top_k=1)["slices"][0]["document_id"]
            == documents[0]["document_id"]
        )
        assert (
            retrieve(alice, [dataset_id], "returns accepted", top_k=1)["slices"][0]["document_id"]
            == documents[1]["document_id"]
        )
        assert "item: teapot; stock: 0" in slices_of(alice, documents[2]["document_id"])[0]["content"]
        found = retrieve(alice, [dataset_id], "怎么申请退款？", top_k=1)
        assert "退款" in found["words"] and "七天" in found["slices"][0]["content"]


class TestChunking:
    TEXT = (
        "# Guide\n\n## Install\n\n"
        + "Install the package with pip. " * 30
        + "\n\n## Configure\n\nSet the token in the environment.\n"
    )

    def test_hierarchical_and_custom(self, alice):
        dataset_id = make_dataset(alice)
        [by_heading] = add_and_wait(
            alice,
            dataset_id,
            [text_source("guide.md", self.TEXT)],
            chunk_strategy={"chunk_type": 2, "max_tokens": 300, "max_level": 2, "save_title": True},
        )
        slices = slices_of(alice, by_heading["document_id"])
        assert all(len(s["content"]) <= 300 for s in slices) and len(slices) >= 4
        assert slices[-1]["meta"]["heading_path"] == ["Guide", "Configure"]
        assert slices[-1]["content"].startswith("Guide > Configure\n")
        response = alice.post(
            "/api/knowledge/document/resegment",
            {
                "dataset_id": dataset_id,
                "document_ids": [by_heading["document_id"]],
                "chunk_strategy": {
                    "chunk_type": 1,
                    "separator": "\\n",
                    "max_tokens": 100,
                    "overlap": 10,
                    "remove_urls_emails": True,
                },
            },
        )
        assert response.status_code == 200, response.text
        wait_done(alice, [by_heading["document_id"]])
        slices = slices_of(alice, by_heading["document_id"])
        assert [s["sequence"] for s in slices] == list(range(1, len(slices) + 1))
        assert all(len(s["content"]) <= 100 for s in slices) and slices[0]["content"] == "Guide"

    def test_cleaning_rules_and_bad_strategy(self, alice):
        dataset_id = make_dataset(alice)
        [document] = add_and_wait(
            alice,
            dataset_id,
            [text_source("c", "Mail ada@example.com   or see https://x.io/a now")],
            chunk_strategy={
                "chunk_type": 1,
                "separator": "\n",
                "max_tokens": 200,
                "remove_urls_emails": True,
                "remove_extra_spaces": True,
            },
        )
        assert slices_of(alice, document["document_id"])[0]["content"] == "Mail or see now"
        assert_error(
            alice.post(
                "/api/knowledge/document/create",
                {
                    "dataset_id": dataset_id,
                    "document_bases": [text_source("x", "y")],
                    "chunk_strategy": {"chunk_type": 1, "max_tokens": 100, "overlap": 90},
                },
            ),
            400,
            105000000,
            "overlap",
        )


class TestSlices:
    def test_create_update_disable_move_delete(self, alice):
        dataset_id = make_dataset(alice)
        [document] = add_and_wait(
            alice,
            dataset_id,
            [text_source("n", "alpha one\n\nbravo two")],
            chunk_strategy={"chunk_type": 1, "separator": "\n\n", "max_tokens": 100},
        )
        doc_id = document["document_id"]
        first = alice.post(
            "/api/knowledge/slice/create", {"document_id": doc_id, "raw_text": "zulu zero", "sequence": 1}
        )
        assert first.status_code == 200, first.text
        zulu = first.json()["data"]["slice_id"]
        assert [s["content"] for s in slices_of(alice, doc_id)] == ["zulu zero", "alpha one", "bravo two"]
        assert retrieve(alice, [dataset_id], "zulu")["slices"][0]["slice_id"] == zulu

        assert (
            alice.post(
                "/api/knowledge/slice/update", {"slice_id": zulu, "raw_text": "yankee zero"}
            ).status_code
            == 200
        )
        assert retrieve(alice, [dataset_id], "zulu")["slices"] == []
        assert retrieve(alice, [dataset_id], "yankee")["slices"][0]["slice_id"] == zulu

        assert (
            alice.post("/api/knowledge/slice/update", {"slice_id": zulu, "enabled": False}).status_code == 200
        )
        assert retrieve(alice, [dataset_id], "yankee")["slices"] == []
        assert (
            alice.post(
                "/api/knowledge/slice/update", {"slice_id": zulu, "enabled": True, "sequence": 3}
            ).status_code
            == 200
        )
        assert [s["content"] for s in slices_of(alice, doc_id)] == ["alpha one", "bravo two", "yankee zero"]
        assert retrieve(alice, [dataset_id], "yankee")["slices"][0]["slice_id"] == zulu

        alpha = slices_of(alice, doc_id)[0]["slice_id"]
        assert alice.post("/api/knowledge/slice/delete", {"slice_ids": [alpha]}).status_code == 200
        remaining = slices_of(alice, doc_id)
        assert [(s["content"], s["sequence"]) for s in remaining] == [("bravo two", 1), ("yankee zero", 2)]
        assert Slice.get_or_none(Slice.id == int(alpha)) is None
        assert FullTextIndex.search([int(dataset_id)], ["alpha"], 5) == []
        assert Document.get_by_id(int(doc_id)).slice_count == 2

    def test_table_slice_must_fit_the_columns(self, alice):
        dataset_id = make_dataset(alice, "T", format_type=1)
        [document] = add_and_wait(
            alice, dataset_id, [{"name": "t", "source_info": {"custom_content": [{"a": "1", "b": "2"}]}}]
        )
        assert_error(
            alice.post(
                "/api/knowledge/slice/create", {"document_id": document["document_id"], "raw_text": "plain"}
            ),
            400,
            105000037,
            "JSON",
        )
        assert_error(
            alice.post(
                "/api/knowledge/slice/create",
                {"document_id": document["document_id"], "raw_text": '{"zzz": "1"}'},
            ),
            400,
            105000037,
            "zzz",
        )
        ok = alice.post(
            "/api/knowledge/slice/create",
            {"document_id": document["document_id"], "raw_text": '{"a": "7", "b": "8"}'},
        )
        assert ok.status_code == 200, ok.text
        assert [s["content"] for s in slices_of(alice, document["document_id"])] == [
            "a: 1; b: 2",
            "a: 7; b: 8",
        ]

    def test_disabled_document_is_not_retrieved(self, alice):
        dataset_id = make_dataset(alice)
        [document] = add_and_wait(alice, dataset_id, [text_source("n", "quasar facts")])
        assert (
            alice.post(
                "/api/knowledge/document/update", {"document_id": document["document_id"], "status": 2}
            ).status_code
            == 200
        )
        assert retrieve(alice, [dataset_id], "quasar")["slices"] == []
        assert (
            alice.post(
                "/api/knowledge/document/update", {"document_id": document["document_id"], "status": 1}
            ).status_code
            == 200
        )
        assert len(retrieve(alice, [dataset_id], "quasar")["slices"]) == 1


class TestRetrieval:
    def test_scores_ranks_and_strategies(self, alice):
        dataset_id = make_dataset(alice)
        add_and_wait(
            alice, dataset_id, [text_source("a", "The red fox jumps."), text_source("b", "A red red car.")]
        )
        result = retrieve(alice, [dataset_id], "red fox", top_k=5)
        assert result["search_strategy"] == 20 and result["available_strategies"] == [20]
        first, second = result["slices"]
        assert (
            "fox" in first["content"]
            and first["ranks"] == {"full_text": 1}
            and second["ranks"] == {"full_text": 2}
        )
        assert 1 > first["scores"]["full_text"] > second["scores"]["full_text"] > 0
        assert first["score"] == first["scores"]["full_text"] and first["document_name"] == "a"
        assert len(retrieve(alice, [dataset_id], "red fox", min_score=first["score"] - 1e-6)["slices"]) == 1
        assert_error(
            alice.post(
                "/api/knowledge/retrieve", {"dataset_ids": [dataset_id], "query": "x", "search_strategy": 0}
            ),
            400,
            105000024,
            "embedding",
        )

    def test_words_most_slices_hold_stay_out_of_the_query(self, alice):
        dataset_id = make_dataset(alice)
        text = "\n\n".join([f"banana filler number {i}" for i in range(600)] + ["banana zephyr"])
        add_and_wait(
            alice,
            dataset_id,
            [text_source("many", text)],
            chunk_strategy={"chunk_type": 1, "separator": "\n\n", "max_tokens": 100},
        )
        result = retrieve(alice, [dataset_id], "banana zephyr", top_k=3)
        sqlite = isinstance(db.obj, SqliteDatabase)  # PostgreSQL keeps every word (no vocabulary table)
        assert result["words"] == (["zephyr"] if sqlite else ["banana", "zephyr"])
        assert result["slices"][0]["content"] == "banana zephyr"
        if sqlite:
            assert [s["content"] for s in result["slices"]] == ["banana zephyr"]
        assert set(retrieve(alice, [dataset_id], "banana filler")["words"]) == {"banana", "filler"}
        # counted by the stem FTS5 stores, so another form of a common word is left out too
        assert retrieve(alice, [dataset_id], "bananas zephyr")["words"] == (
            ["zephyr"] if sqlite else ["bananas", "zephyr"]
        )

    # the share decides how SQLite scopes a search: 0 ranks every match and filters by knowledge
    # base, 2 intersects with the knowledge bases' scope tokens; both must find the same rows
    @pytest.mark.parametrize("unscoped_share", [0.0, 2.0])
    def test_searches_only_the_named_knowledge_bases(self, alice, monkeypatch, unscoped_share):
        monkeypatch.setattr(FullTextIndex, "UNSCOPED_SHARE", unscoped_share)
        one, two = make_dataset(alice, f"One {unscoped_share}"), make_dataset(alice, f"Two {unscoped_share}")
        add_and_wait(alice, one, [text_source("a", "nebula one")])
        add_and_wait(alice, two, [text_source("b", "nebula two")])
        assert [s["content"] for s in retrieve(alice, [two], "nebula")["slices"]] == ["nebula two"]
        assert len(retrieve(alice, [one, two], "nebula")["slices"]) == 2
        alice.post("/api/knowledge/delete", {"dataset_id": one})
        assert FullTextIndex.search([int(one)], ["nebula"], 5) == []


class TestBadInput:
    def test_refused_files_change_nothing(self, alice, settings_override):
        dataset_id = make_dataset(alice)
        [kept] = add_and_wait(alice, dataset_id, [text_source("kept", "lighthouse keeper")])

        def refused(base, status, code, *fragments):
            assert_error(
                alice.post(
                    "/api/knowledge/document/create", {"dataset_id": dataset_id, "document_bases": [base]}
                ),
                status,
                code,
                *fragments,
            )

        refused(
            {"source_info": {"source_file_id": upload(alice, "image.png", b"\x89PNG\r\n\x1a\nxx")}},
            415,
            105000020,
            "png",
        )
        refused(
            {"source_info": {"source_file_id": upload(alice, "broken.pdf", b"%PDF-1.4 nothing else")}},
            400,
            105000021,
            "corrupt",
        )
        refused(
            {"source_info": {"source_file_id": upload(alice, "huge.pdf", kb_files.pdf(["page"] * 10_000))}},
            413,
            105000022,
            "10000 pages",
        )
        refused(
            {"source_info": {"source_file_id": upload(alice, "bomb.docx", kb_files.zip_bomb_docx())}},
            413,
            105000022,
            "zip bomb",
        )
        refused(
            {"source_info": {"source_file_id": upload(alice, "notzip.docx", b"PK\x03\x04 not really")}},
            400,
            105000021,
            "corrupt",
        )
        refused({"source_info": {"file_base64": "###", "file_type": "txt"}}, 400, 105000000, "base64")
        refused({"source_info": {"custom_content": "   "}}, 400, 105000000, "empty")
        refused({"source_info": {}}, 400, 105000000, "source_info")
        refused({"source_info": {"source_file_id": "123"}}, 404, 104000009)
        stored_before = StoredFile.select().where(StoredFile.owner == int(alice.user_id)).count()
        assert_error(
            alice.post(
                "/api/knowledge/document/create",
                {
                    "dataset_id": dataset_id,
                    "document_bases": [
                        text_source("fine", "a valid first document"),
                        {"name": "second", "source_info": {"file_base64": "###", "file_type": "txt"}},
                    ],
                },
            ),
            400,
            105000000,
            "document_bases[1]",
        )
        assert StoredFile.select().where(StoredFile.owner == int(alice.user_id)).count() == stored_before
        assert_error(
            alice.post("/v1/files/upload", files={"file": ("empty.txt", b"", "text/plain")}), 400, 104000006
        )
        settings_override(max_upload_bytes=1000)
        assert_error(
            alice.post("/v1/files/upload", files={"file": ("big.txt", b"x" * 2000, "text/plain")}),
            413,
            104000004,
        )

        listed = alice.post("/api/knowledge/document/list", {"dataset_id": dataset_id}).json()["data"]
        assert [d["document_id"] for d in listed["document_infos"]] == [kept["document_id"]]
        assert retrieve(alice, [dataset_id], "lighthouse")["slices"][0]["document_id"] == kept["document_id"]

    def test_failure_in_processing_is_recorded_alone_and_can_be_retried(self, alice):
        dataset_id = make_dataset(alice)
        documents = add_documents(
            alice,
            dataset_id,
            [
                {
                    "name": "bad.json",
                    "source_info": {
                        "file_base64": base64.b64encode(b"{not json").decode(),
                        "file_type": "json",
                    },
                },
                text_source("good", "harbour master"),
            ],
        )
        bad, good = wait_done(alice, [d["document_id"] for d in documents])
        assert bad["status"] == 9 and "json is malformed" in bad["status_descript"]
        assert good["status"] == 1 and good["progress"] == 100
        assert retrieve(alice, [dataset_id], "harbour")["slices"][0]["document_id"] == good["document_id"]
        failed = alice.post("/api/knowledge/detail", {"dataset_ids": [dataset_id]}).json()["data"][
            "dataset_details"
        ]
        assert failed[dataset_id]["failed_file_list"] == [bad["document_id"]]
        again = alice.post(
            "/api/knowledge/document/resegment",
            {"dataset_id": dataset_id, "document_ids": [bad["document_id"]]},
        )
        assert again.status_code == 200 and again.json()["data"]["document_infos"][0]["status"] == 4
        assert wait_done(alice, [bad["document_id"]])[0]["status"] == 9

    def test_wrong_format_and_missing_things(self, alice):
        dataset_id = make_dataset(alice)
        assert_error(
            alice.post(
                "/api/knowledge/document/create",
                {"dataset_id": dataset_id, "format_type": 1, "document_bases": [text_source("x", "y")]},
            ),
            400,
            105000000,
            "format_type",
        )
        assert_error(
            alice.post("/api/knowledge/document/progress/get", {"document_ids": ["1"]}), 404, 105000002
        )
        assert_error(
            alice.post("/api/knowledge/slice/update", {"slice_id": "1", "raw_text": "x"}), 404, 105000003
        )
        assert_error(alice.post("/api/knowledge/slice/list", {}), 400, 105000000)
        # a document named with another knowledge base than its own, or an id that names nothing
        other = make_dataset(alice, "Other")
        (document,) = add_and_wait(alice, dataset_id, [text_source("own", "kept as it is")])
        for ids in ([document["document_id"]], [document["document_id"], "1"]):
            assert_error(
                alice.post("/api/knowledge/document/resegment", {"dataset_id": other, "document_ids": ids}),
                404,
                105000002,
                f"knowledge base {other}",
            )
            assert_error(alice.post(f"/v1/datasets/{other}/process", {"document_ids": ids}), 404, 105000002)
        assert_error(
            alice.post(
                "/api/knowledge/document/resegment",
                {"dataset_id": dataset_id, "document_ids": [document["document_id"], "1"]},
            ),
            404,
            105000002,
            "document 1 ",
        )
        assert Document.get_by_id(int(document["document_id"])).status == 1
        table = make_dataset(alice, "Table", format_type=1)
        assert_error(
            alice.post(
                "/api/knowledge/retrieve",
                {"dataset_ids": [dataset_id], "query": "", "filters": [{"column": "a", "value": "1"}]},
            ),
            400,
            105000000,
            "table",
        )
        assert_error(
            alice.post(
                "/api/knowledge/document/create",
                {"dataset_id": table, "document_bases": [{"source_info": {"custom_content": "not rows"}}]},
            ),
            400,
            105000000,
            "row objects",
        )


class _Page(http.server.BaseHTTPRequestHandler):
    served = 0

    def do_GET(self):
        type(self).served += 1
        if self.path == "/moved":
            self.send_response(302)
            self.send_header("Location", "/page")
            self.end_headers()
            return
        body = b"<html><body><h1>Tide tables</h1><p>High tide is at noon.</p></body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class TestWebPages:
    def test_private_addresses_are_refused_by_default(self, alice):
        dataset_id = make_dataset(alice)
        for url in (
            "http://127.0.0.1:8888/x",
            "http://169.254.169.254/latest/meta-data",
            "http://10.0.0.1/",
            "http://[::1]/",
            "file:///etc/passwd",
            "http://localhost/",
        ):
            assert_error(
                alice.post(
                    "/api/knowledge/document/create",
                    {"dataset_id": dataset_id, "document_bases": [{"source_info": {"web_url": url}}]},
                ),
                400,
                105000023,
            )
        assert (
            alice.post("/api/knowledge/document/list", {"dataset_id": dataset_id}).json()["data"]["total"]
            == 0
        )

    def test_fetched_when_allowed(self, alice, settings_override):
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Page)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            settings_override(knowledge_allow_private_urls=True)
            dataset_id = make_dataset(alice)
            [document] = add_and_wait(
                alice,
                dataset_id,
                [{"source_info": {"web_url": f"http://127.0.0.1:{server.server_port}/moved"}}],
            )
            info = alice.post("/api/knowledge/document/list", {"dataset_id": dataset_id}).json()["data"][
                "document_infos"
            ][0]
            assert info["source_type"] == 1 and info["type"] == "html" and info["size"] > 0
            hit = retrieve(alice, [dataset_id], "when is high tide")["slices"][0]
            assert hit["document_id"] == document["document_id"] and "noon" in hit["content"]
            # an update rule refetches the page when it is due, not before
            alice.post(
                "/open_api/knowledge/document/update",
                {
                    "document_id": document["document_id"],
                    "update_rule": {"update_type": 1, "update_interval": 24},
                },
            )
            from services import ingestion

            served = _Page.served
            assert ingestion.refresh_web_pages(now=int(time.time()) + 3600) == []
            assert ingestion.refresh_web_pages(now=int(time.time()) + 25 * 3600) == [
                int(document["document_id"])
            ]
            assert wait_done(alice, [document["document_id"]])[0]["status"] == 1
            assert _Page.served == served + 2  # the redirect and the page
        finally:
            server.shutdown()


class TestAgents:
    @staticmethod
    def agent_with(account, dataset_ids, **knowledge) -> str:
        from test_chat import new_agent

        return new_agent(
            account,
            knowledge={
                "knowledge_info": [{"id": i, "name": ""} for i in dataset_ids],
                "top_k": 2,
                "min_score": 0,
                "search_strategy": 20,
                **knowledge,
            },
        )

    def test_auto_recall_is_streamed_and_cited(self, alice):
        from test_chat import messages_of, open_chat

        dataset_id = dataset_of_texts(
            alice,
            refunds="Refunds are paid within five working days.",
            shipping="Parcels ship from Lyon every morning.",
        )
        bot_id = self.agent_with(alice, [dataset_id], auto=True)
        events = open_chat(alice, bot_id, "How long do refunds take?")
        completed = messages_of(events, "conversation.message.completed")
        verbose = [json.loads(m["content"]) for m in completed if m["type"] == "verbose"]
        recall = next(v for v in verbose if v["msg_type"] == "knowledge_recall")
        data = json.loads(recall["data"])
        assert data["ori_req"] == "How long do refunds take?" and data["status_code"] == 0
        first = data["chunks"][0]
        assert "five working days" in first["slice"] and first["meta"]["document"]["name"] == "refunds"
        assert first["meta"]["dataset"] == {"id": dataset_id, "name": "Manuals"}
        answer = next(m for m in completed if m["type"] == "answer")
        assert "five working days" in answer["content"] and "[1]" in answer["content"]
        kinds = [m["type"] for m in completed]
        assert kinds.index("verbose") < kinds.index("answer")  # the recall comes before the answer
        refunds = Slice.get(Slice.dataset == int(dataset_id), Slice.content.contains("five working days"))
        deadline = time.monotonic() + 10  # hit counters are bumped by the task queue
        while Slice.get_by_id(refunds.id).hit_count == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert Slice.get_by_id(refunds.id).hit_count == 1
        assert Document.get_by_id(refunds.document_id).hit_count == 1

    def test_knowledge_of_another_space_is_refused_and_never_recalled(self, alice, bob):
        from test_chat import messages_of, new_agent, open_chat

        from models.agent import Bot

        bobs = make_dataset(bob, "Secrets")
        add_and_wait(bob, bobs, [text_source("s", "The vault code is 4711.")])
        bot_id = new_agent(alice)
        before = Bot.get_by_id(int(bot_id)).config
        response = alice.post(
            "/api/playground_api/draftbot/update_draft_bot_info",
            {
                "bot_info": {
                    "bot_id": bot_id,
                    "knowledge": {"knowledge_info": [{"id": bobs, "name": ""}], "auto": True},
                }
            },
        )
        assert_error(
            response, 404, 105000001, f"knowledge.knowledge_info[0].id: knowledge base {bobs} not found"
        )
        assert Bot.get_by_id(int(bot_id)).config == before
        # a binding stored before bindings were checked is still ignored when recalling
        bot = Bot.get_by_id(int(bot_id))
        bot.touch(
            config={
                **bot.config,
                "knowledge": {
                    **bot.config["knowledge"],
                    "min_score": 0,
                    "search_strategy": 20,
                    "knowledge_info": [{"id": bobs, "name": ""}],
                    "auto": True,
                },
            }
        )
        completed = messages_of(
            open_chat(alice, bot_id, "What is the vault code?"), "conversation.message.completed"
        )
        recalls = [
            json.loads(json.loads(m["content"])["data"])
            for m in completed
            if m["type"] == "verbose" and "knowledge_recall" in m["content"]
        ]
        assert all(recall["chunks"] == [] for recall in recalls)
        assert "4711" not in next(m for m in completed if m["type"] == "answer")["content"]
        mine = make_dataset(alice, "Mine")
        self.agent_with(alice, [mine])
        self.agent_with(alice, [mine])

        def used(account, dataset_id):
            details = account.post("/api/knowledge/detail", {"dataset_ids": [dataset_id]}).json()["data"][
                "dataset_details"
            ]
            return details[dataset_id]["bot_used_count"]

        assert (
            used(alice, mine) == 2 and used(bob, bobs) == 0
        )  # a binding from another space counts for nothing

    def test_on_demand_knowledge_is_a_tool(self, alice):
        from test_chat import messages_of, open_chat

        dataset_id = dataset_of_texts(alice, care="Descale the kettle every month.")
        bot_id = self.agent_with(alice, [dataset_id], auto=False)
        events = open_chat(alice, bot_id, '/call search_knowledge {"query": "descale kettle"}')
        completed = messages_of(events, "conversation.message.completed")
        assert not any(m["type"] == "verbose" and "knowledge_recall" in m["content"] for m in completed)
        response = next(m for m in completed if m["type"] == "tool_response")
        assert response["content"] == "[1] Descale the kettle every month."

    def test_rewrite_makes_a_follow_up_standalone(self, alice):
        from test_chat import events_conversation, messages_of, open_chat

        dataset_id = dataset_of_texts(
            alice,
            zelzel="Warranty: the Zelzel K2 carries a three-year warranty.",
            qulin="Warranty: the Qulin R2 carries a one-year warranty.",
        )

        def recall_of(bot_id):
            first = open_chat(alice, bot_id, "Tell me about the Qulin R2 toaster")
            events = open_chat(
                alice, bot_id, "How long is its warranty?", conversation_id=events_conversation(first)
            )
            completed = messages_of(events, "conversation.message.completed")
            return json.loads(
                json.loads(next(m for m in completed if m["type"] == "verbose")["content"])["data"]
            )

        plain = recall_of(self.agent_with(alice, [dataset_id], top_k=1))
        rewritten = recall_of(
            self.agent_with(alice, [dataset_id], top_k=1, recall_strategy={"use_rewrite": True})
        )
        assert "rewritten_query" not in plain and plain["ori_req"] == "How long is its warranty?"
        assert rewritten["ori_req"] == "How long is its warranty?"
        assert rewritten["rewritten_query"] == "How long is its warranty? Tell me about the Qulin R2 toaster"
        assert rewritten["chunks"][0]["slice"] == "Warranty: the Qulin R2 carries a one-year warranty."
