"""The official Python SDK, unmodified, on knowledge: datasets, documents (file, text, web page
ids), their processing progress and images, against a real server with a personal access token."""

from __future__ import annotations

import time

import httpx
from conftest import needs_js_sdk, run_js_sdk
from cozepy import (
    DocumentBase,
    DocumentChunkStrategy,
    DocumentFormatType,
    DocumentSourceInfo,
    DocumentStatus,
    DocumentUpdateRule,
)

from tests import kb_files


def _wait(coze, dataset_id, document_ids):
    deadline = time.monotonic() + 30
    while True:
        progress = coze.datasets.process(dataset_id=dataset_id, document_ids=document_ids)
        if all(p.status != DocumentStatus.PROCESSING for p in progress):
            return progress
        assert time.monotonic() < deadline, progress
        time.sleep(0.1)


def test_cozepy_datasets_and_documents(coze, live_server, pat):
    space_id = coze.workspaces.list().items[0].id
    icon = coze.files.upload(file=("icon.png", b"\x89PNG\r\n\x1a\n" + b"\0" * 16))
    created = coze.datasets.create(
        name=f"SDK manuals {time.time_ns()}",
        space_id=space_id,
        icon_file_id=icon.id,
        format_type=DocumentFormatType.DOCUMENT,
        description="made by cozepy",
    )
    listed = list(coze.datasets.list(space_id=space_id, name="SDK manuals", page_size=50).items)
    mine = next(d for d in listed if d.dataset_id == created.dataset_id)
    assert mine.description == "made by cozepy" and mine.status == 1 and mine.format_type == 0
    assert httpx.get(live_server + mine.icon_url).content.startswith(b"\x89PNG")

    pdf_file = coze.files.upload(
        file=("manual.pdf", kb_files.pdf(["The kettle boils a litre in ninety seconds."]))
    )
    documents = coze.datasets.documents.create(
        dataset_id=created.dataset_id,
        document_bases=[
            DocumentBase(
                name="notes.txt",
                source_info=DocumentSourceInfo.build_local_file("Descale the kettle every month.", "txt"),
            ),
            DocumentBase(
                name="manual.pdf",
                source_info=DocumentSourceInfo.build_file_id(pdf_file.id),
                update_rule=DocumentUpdateRule.build_no_auto_update(),
            ),
        ],
        chunk_strategy=DocumentChunkStrategy.build_custom(500, "\n", remove_extra_spaces=True),
    )
    assert [d.name for d in documents] == ["notes.txt", "manual.pdf"]
    progress = _wait(coze, created.dataset_id, [d.document_id for d in documents])
    assert [p.status for p in progress] == [DocumentStatus.COMPLETED] * 2 and progress[0].progress == 100

    page = coze.datasets.documents.list(dataset_id=created.dataset_id, page_size=10)
    by_name = {d.name: d for d in page.items}
    assert set(by_name) == {"notes.txt", "manual.pdf"} and by_name["manual.pdf"].slice_count == 1
    assert by_name["notes.txt"].chunk_strategy.chunk_type == 1

    coze.datasets.documents.update(document_id=by_name["notes.txt"].document_id, document_name="care.txt")
    coze.datasets.documents.delete(document_ids=[by_name["manual.pdf"].document_id])
    names = [d.name for d in coze.datasets.documents.list(dataset_id=created.dataset_id).items]
    assert names == ["care.txt"]

    found = httpx.post(
        f"{live_server}/api/knowledge/retrieve",
        headers={"Authorization": f"Bearer {pat}"},
        json={"dataset_ids": [created.dataset_id], "query": "descale"},
    ).json()["data"]["slices"]
    assert found[0]["content"] == "Descale the kettle every month."

    coze.datasets.update(dataset_id=created.dataset_id, name="SDK manuals renamed")
    renamed = next(
        d
        for d in coze.datasets.list(space_id=space_id, name="renamed").items
        if d.dataset_id == created.dataset_id
    )
    assert renamed.name == "SDK manuals renamed" and renamed.description == ""
    coze.datasets.delete(dataset_id=created.dataset_id)
    assert all(
        d.dataset_id != created.dataset_id for d in coze.datasets.list(space_id=space_id, page_size=50).items
    )


def test_cozepy_images(coze):
    space_id = coze.workspaces.list().items[0].id
    dataset = coze.datasets.create(
        name=f"SDK images {time.time_ns()}", space_id=space_id, format_type=DocumentFormatType.IMAGE
    )
    png = coze.files.upload(file=("kettle.png", b"\x89PNG\r\n\x1a\n" + b"\0" * 64))
    [document] = coze.datasets.documents.create(
        dataset_id=dataset.dataset_id,
        format_type=DocumentFormatType.IMAGE,
        document_bases=[
            DocumentBase(name="kettle.png", source_info=DocumentSourceInfo.build_file_id(png.id))
        ],
    )
    _wait(coze, dataset.dataset_id, [document.document_id])
    [photo] = coze.datasets.images.list(dataset_id=dataset.dataset_id).items
    assert photo.document_id == document.document_id and photo.caption == "" and photo.url
    coze.datasets.images.update(
        dataset_id=dataset.dataset_id,
        document_id=document.document_id,
        caption="A steel kettle on a wooden table",
    )
    [photo] = coze.datasets.images.list(dataset_id=dataset.dataset_id, keyword="kettle").items
    assert photo.caption == "A steel kettle on a wooden table" and photo.status == 1
    assert list(coze.datasets.images.list(dataset_id=dataset.dataset_id, has_caption=False).items) == []


@needs_js_sdk
def test_coze_js_datasets(live_server, pat):
    seen = run_js_sdk("knowledge.mjs", live_server, pat)
    assert seen["created_name"] == "care.txt" and seen["progress_status"] == 1
    assert seen["listed"] == [["care.txt", 1]] and seen["renamed"] == "kettle-care.txt"
    assert seen["dataset_listed"] is True and seen["after_delete"] == 0
    assert seen["images_total"] == 0 and seen["deleted"] is True
