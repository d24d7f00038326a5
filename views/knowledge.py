"""Knowledge bases, their documents (and images), slices and the retrieval test's hits."""

from __future__ import annotations

from core.links import file_uri, file_url, url_of

STATUS_TEXT = {0: "processing", 1: "done", 2: "disabled", 4: "resegmenting", 9: "failed"}


def dataset_view(dataset, stats: dict) -> dict:
    """`stats`: the counts services.datasets.dataset_stats loads for many knowledge bases at once."""
    return {
        "dataset_id": str(dataset.id),
        "name": dataset.name,
        "description": dataset.description,
        "icon_uri": dataset.icon_uri,
        "icon_url": url_of(dataset.icon_uri),
        "space_id": str(dataset.space_id),
        "creator_id": str(dataset.creator_id),
        "status": dataset.status,
        "format_type": dataset.format_type,
        "chunk_strategy": dataset.chunk_strategy or None,
        "can_edit": True,
        "create_time": dataset.created_at,
        "update_time": dataset.updated_at,
        **stats,
    }


def document_view(document) -> dict:
    """`document.dataset` must be loaded with it (joined), as services.documents does."""
    return {
        "document_id": str(document.id),
        "dataset_id": str(document.dataset_id),
        "name": document.name,
        "tos_uri": file_uri(document.file_id) if document.file_id else "",
        "web_url": document.web_url,
        "type": document.file_type,
        "size": document.size,
        "char_count": document.char_count,
        "slice_count": document.slice_count,
        "hit_count": document.hit_count,
        "status": document.status,
        "status_descript": document.status_reason,
        "progress": document.progress,
        "source_type": document.source_type,
        "format_type": document.dataset.format_type,
        "table_meta": document.table_meta,
        "chunk_strategy": document.chunk_strategy or None,
        "parsing_strategy": document.parsing_strategy,
        "caption": document.caption,
        "update_type": (document.update_rule or {}).get("update_type", 0),
        "update_interval": (document.update_rule or {}).get("update_interval", 0),
        "create_time": document.created_at,
        "update_time": document.updated_at,
    }


def progress_view(document) -> dict:
    done = not document.busy
    return {
        "document_id": str(document.id),
        "document_name": document.name,
        "progress": 100 if done and not document.failed else document.progress,
        "status": document.status,
        "status_descript": document.status_reason or STATUS_TEXT.get(document.status, ""),
        "remaining_time": 0 if done else max(1, (100 - document.progress) // 10),
        "size": document.size,
        "type": document.file_type,
        "url": document.web_url,
        "update_type": (document.update_rule or {}).get("update_type", 0),
        "update_interval": (document.update_rule or {}).get("update_interval", 0),
    }


def slice_view(piece) -> dict:
    return {
        "slice_id": str(piece.id),
        "document_id": str(piece.document_id),
        "dataset_id": str(piece.dataset_id),
        "content": piece.content,
        "status": piece.status,
        "enabled": piece.enabled,
        "hit_count": piece.hit_count,
        "char_count": piece.char_count,
        "sequence": piece.sequence,
        "meta": piece.meta,
    }


def hit_view(hit) -> dict:
    return {
        **slice_view(hit.slice),
        "score": round(hit.score, 6),
        "scores": {k: round(v, 6) for k, v in hit.scores.items()},
        "ranks": hit.ranks,
        "document_name": hit.document.name,
        "dataset_name": hit.dataset.name,
    }


def photo_view(document) -> dict:
    return {
        "document_id": str(document.id),
        "url": file_url(document.file_id) if document.file_id else "",
        "name": document.name,
        "size": document.size,
        "type": document.file_type,
        "status": 9 if document.failed else 0 if document.busy else 1,
        "caption": document.caption,
        "creator_id": str(document.creator_id),
        "source_type": document.source_type,
        "create_time": document.created_at,
        "update_time": document.updated_at,
    }
