"""Knowledge bases on Coze's /api/knowledge/* routes, and the retrieval test."""

from __future__ import annotations

from core.envelope import ok
from core.http import given
from core.links import file_uri
from models.knowledge import DOC_ENABLED
from services import datasets, documents, files, retrieval, slices
from views.knowledge import dataset_view, document_view, hit_view, photo_view, progress_view, slice_view


def _datasets_view(rows) -> list[dict]:
    stats = datasets.dataset_stats(rows)
    return [dataset_view(d, stats[d.id]) for d in rows]


# --- datasets ----------------------------------------------------------------------------------


def create_dataset(token_info, body):
    return ok({"dataset_id": str(_create_dataset(token_info["user"], body, body.get("icon_uri")).id)})


def update_dataset(token_info, body):
    changes = given(body, "name", "description", "icon_uri")
    datasets.update_dataset(token_info["user"], body["dataset_id"], **changes)
    return ok()


def delete_dataset(token_info, body):
    datasets.delete_dataset(token_info["user"], body["dataset_id"])
    return ok()


def list_datasets(token_info, body):
    user, criteria = token_info["user"], body.get("filter") or {}
    found, total = datasets.list_datasets(
        user,
        body["space_id"],
        name=criteria.get("name"),
        dataset_ids=criteria.get("dataset_ids"),
        project_id=body.get("project_id"),
        mine_only=criteria.get("scope_type") == 2,
        format_type=criteria.get("format_type"),
        order_by_update=body.get("order_field") == 2,
        ascending=body.get("order_type") == 2,
        page=body.get("page", 1),
        size=body.get("size", 20),
    )
    return ok({"dataset_list": _datasets_view(found), "total": total})


def dataset_detail(token_info, body):
    found = datasets.datasets_by_ids(
        token_info["user"], body["dataset_ids"], body.get("space_id"), body.get("project_id")
    )
    return ok({"dataset_details": {v["dataset_id"]: v for v in _datasets_view(found)}})


# --- documents ---------------------------------------------------------------------------------


def _create_documents(user, body):
    return documents.create_documents(
        user,
        body["dataset_id"],
        body["document_bases"],
        chunk_strategy=body.get("chunk_strategy"),
        parsing_strategy=body.get("parsing_strategy"),
        format_type=body.get("format_type"),
    )


def _update_document(user, body):
    return documents.update_document(
        user,
        body["document_id"],
        name=body.get("document_name"),
        update_rule=body.get("update_rule"),
        table_meta=body.get("table_meta"),
    )


def create_documents(token_info, body):
    found = _create_documents(token_info["user"], body)
    return ok({"document_infos": [document_view(d) for d in found]})


def list_documents(token_info, body):
    found, total = documents.list_documents(
        token_info["user"],
        body["dataset_id"],
        document_ids=body.get("document_ids"),
        keyword=body.get("keyword"),
        page=body.get("page", 1),
        size=body.get("size", 20),
    )
    return ok({"document_infos": [document_view(d) for d in found], "total": total})


def document_progress(token_info, body):
    found = documents.documents_by_ids(token_info["user"], body["document_ids"])
    return ok({"data": [progress_view(d) for d in found]})


def update_document(token_info, body):
    user = token_info["user"]
    _update_document(user, body)
    if body.get("status") is not None:
        documents.set_document_enabled(user, body["document_id"], body["status"] == DOC_ENABLED)
    return ok()


def delete_documents(token_info, body):
    documents.delete_documents(token_info["user"], body["document_ids"])
    return ok()


def resegment_documents(token_info, body):
    found = documents.resegment(
        token_info["user"], body["dataset_id"], body["document_ids"], body.get("chunk_strategy")
    )
    return ok({"document_infos": [document_view(d) for d in found]})


# --- slices ------------------------------------------------------------------------------------


def list_slices(token_info, body):
    offset, size = body.get("sequence", 0), body.get("page_size", 20)
    found, total = slices.list_slices(
        token_info["user"],
        document_id=body.get("document_id"),
        dataset_id=body.get("dataset_id"),
        offset=offset,
        keyword=body.get("keyword"),
        size=size,
    )
    return ok(
        {"slices": [slice_view(s) for s in found], "total": total, "hasmore": offset + len(found) < total}
    )


def create_slice(token_info, body):
    created = slices.create_slice(
        token_info["user"], body["document_id"], body["raw_text"], body.get("sequence")
    )
    return ok({"slice_id": str(created.id)})


def update_slice(token_info, body):
    slices.update_slice(
        token_info["user"], body["slice_id"], **given(body, "raw_text", "enabled", "sequence")
    )
    return ok()


def delete_slices(token_info, body):
    slices.delete_slices(token_info["user"], body["slice_ids"])
    return ok()


# --- retrieval test ----------------------------------------------------------------------------


def retrieve(token_info, body):
    user = token_info["user"]
    found = [datasets.load_dataset(user, i) for i in dict.fromkeys(map(str, body["dataset_ids"]))]
    result = retrieval.retrieve(
        found,
        body.get("query", ""),
        strategy=body.get("search_strategy", 20),
        top_k=body.get("top_k", 5),
        min_score=body.get("min_score", 0),
        filters=body.get("filters"),
        strict=True,
        count_hits=False,
        use_rerank=body.get("use_rerank", False),
    )
    return ok(
        {
            "query": body.get("query", ""),
            "words": result.words,
            "search_strategy": result.strategy,
            "available_strategies": result.available,
            "slices": [hit_view(h) for h in result.hits],
            "timings_ms": result.timings_ms,
        }
    )


# --- Open API (the SDKs' datasets, documents and images) ---------------------------------------


def _create_dataset(user, body, icon_uri):
    return datasets.create_dataset(
        user,
        body["space_id"],
        body["name"],
        description=body.get("description") or "",
        icon_uri=icon_uri,
        format_type=body.get("format_type"),
        project_id=body.get("project_id"),
    )


def _icon_uri(user, file_id) -> str:
    return file_uri(files.owned(user, file_id).id) if file_id not in (None, "") else ""


def open_create_dataset(token_info, body):
    user = token_info["user"]
    dataset = _create_dataset(user, body, _icon_uri(user, body.get("file_id")))
    return ok({"dataset_id": str(dataset.id)})


def open_list_datasets(token_info, space_id, name=None, format_type=None, page_num=1, page_size=10):
    found, total = datasets.list_datasets(
        token_info["user"],
        space_id,
        name=name or None,
        format_type=int(format_type) if format_type else None,
        page=page_num,
        size=page_size,
    )
    return ok({"dataset_list": _datasets_view(found), "total_count": total})


def open_update_dataset(token_info, dataset_id, body):
    user = token_info["user"]
    datasets.update_dataset(
        user,
        dataset_id,
        name=body["name"],
        description=body.get("description") or "",
        icon_uri=_icon_uri(user, body.get("file_id")),
    )
    return ok()


def open_delete_dataset(token_info, dataset_id):
    datasets.delete_dataset(token_info["user"], dataset_id)
    return ok()


def open_dataset_process(token_info, dataset_id, body):
    _, found = documents.documents_in(token_info["user"], dataset_id, body["document_ids"])
    return ok({"data": [progress_view(d) for d in found]})


def open_list_images(token_info, dataset_id, keyword=None, has_caption=None, page_num=1, page_size=10):
    photos, total = documents.list_images(
        token_info["user"],
        dataset_id,
        keyword=keyword or None,
        has_caption={"true": True, "false": False}.get(has_caption or ""),
        page=page_num,
        size=page_size,
    )
    return ok({"photo_infos": [photo_view(p) for p in photos], "total_count": total})


def open_update_image(token_info, dataset_id, document_id, body):
    documents.set_caption(token_info["user"], dataset_id, document_id, body["caption"])
    return ok()


def open_create_documents(token_info, body):
    infos = [document_view(d) for d in _create_documents(token_info["user"], body)]
    return {**ok({"document_infos": infos}), "document_infos": infos}


def _open_document_page(user, dataset_id, page, size) -> dict:
    found, total = documents.list_documents(user, dataset_id, page=page, size=size)
    infos = [document_view(d) for d in found]
    return {**ok({"document_infos": infos, "total": total}), "document_infos": infos, "total": total}


def open_list_documents(token_info, body):
    size = body.get("size") or body.get("page_size") or 10
    return _open_document_page(token_info["user"], body["dataset_id"], body.get("page", 1), size)


def open_list_documents_get(token_info, dataset_id, page=1, page_size=10, size=None):
    return _open_document_page(token_info["user"], dataset_id, page, size or page_size)


def open_update_document(token_info, body):
    _update_document(token_info["user"], body)
    return ok()


def open_delete_documents(token_info, body):
    documents.delete_documents(token_info["user"], body["document_ids"])
    return ok()
