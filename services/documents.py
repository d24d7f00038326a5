"""A knowledge base's documents: where each one's content comes from (uploads, pasted text or
rows, web pages), listing, changes, deletion and resegmenting; processing is services/ingestion."""

from __future__ import annotations

import base64
import binascii
import io
import json

from core import authz, errors, jsonsafe
from core.ids import parse_id
from core.settings import get_settings
from models import paging
from models.db import write_transaction
from models.identity import User
from models.knowledge import (
    BUSY,
    DOC_DISABLED,
    DOC_ENABLED,
    DOC_FAILED,
    DOC_PROCESSING,
    DOC_RESEGMENTING,
    FORMAT_IMAGE,
    FORMAT_TABLE,
    FORMAT_TEXT,
    SLICE_DISABLED,
    SOURCE_CUSTOM,
    SOURCE_LOCAL_FILE,
    SOURCE_WEB,
    Dataset,
    Document,
    Slice,
)
from services import chunking, files, ingestion, parsing, refs, webfetch
from services.datasets import load_dataset
from services.fulltext import FullTextIndex
from services.vectors import VectorIndex

TYPES_BY_FORMAT = {
    FORMAT_TEXT: parsing.TEXT_TYPES,
    FORMAT_TABLE: parsing.TABLE_TYPES,
    FORMAT_IMAGE: parsing.IMAGE_TYPES,
}


# --- documents ---------------------------------------------------------------------------------


def load_document(user: User, document_id, action: str = authz.READ) -> Document:
    return refs.one(user, refs.DOCUMENT, document_id, action)


def _ext(name: str) -> str:
    return name.rpartition(".")[2].lower() if "." in name else ""


def _check_type(dataset: Dataset, file_type: str, field: str) -> None:
    allowed = TYPES_BY_FORMAT[dataset.format_type]
    if file_type not in allowed:
        raise errors.DOCUMENT_FILE_TYPE(
            f"{field}: a {('text', 'table', 'image')[dataset.format_type]} knowledge base takes "
            f"{', '.join(allowed)}; not '{file_type or 'no extension'}'"
        )


def _inspect(file_type: str, content: bytes, field: str) -> None:
    try:
        parsing.inspect(file_type, content, ingestion.limits())
    except parsing.ParseError as exc:
        raise (errors.DOCUMENT_TOO_LARGE if exc.too_large else errors.DOCUMENT_UNREADABLE)(f"{field}: {exc}")


def _custom_content(dataset: Dataset, content, field: str) -> tuple[str, bytes]:
    """Pasted content as a file: text for text knowledge, a JSON list of row objects for tables."""
    if dataset.format_type == FORMAT_TABLE:
        try:
            rows = jsonsafe.loads(content) if isinstance(content, str) else content
        except ValueError:
            rows = None
        if not isinstance(rows, list) or not rows or not all(isinstance(r, dict) for r in rows):
            raise errors.KNOWLEDGE_INVALID_PARAM(f"{field}: table content must be a JSON list of row objects")
        return "json", json.dumps(rows, ensure_ascii=False).encode()
    if not isinstance(content, str) or not content.strip():
        raise errors.KNOWLEDGE_INVALID_PARAM(f"{field}: the text is empty")
    return "md", content.encode()  # consoles paste markdown; plain text reads the same


def _source(user: User, dataset: Dataset, base: dict, index: int) -> dict:
    """Where one new document's content comes from: fields for its row, and under "upload" the
    (name, bytes) of content that arrived in the request, stored with the row."""
    field = f"document_bases[{index}].source_info"
    info = {k: v for k, v in (base.get("source_info") or {}).items() if v not in (None, "")}
    name = (base.get("name") or "").strip()
    # every upload named is checked, whichever source is used, and only one source may be given
    uploads = [
        files.owned(user, str(info[key]).removeprefix("file:").partition(".")[0], field=f"{field}.{key}")
        for key in ("tos_uri", "source_file_id", "imagex_uri")
        if key in info
    ]
    given = [key for key in ("web_url", "custom_content", "file_base64") if key in info] + (
        ["an upload"] if uploads else []
    )
    if len(given) > 1 or len({u.id for u in uploads}) > 1:
        raise errors.KNOWLEDGE_INVALID_PARAM(
            f"{field}: give one source, not {' and '.join(given)}"
            if len(given) > 1
            else f"{field}: the uploads named differ"
        )
    if "web_url" in info:
        url = info["web_url"]
        try:
            webfetch.check(url, get_settings().knowledge_allow_private_urls)
        except webfetch.FetchError as exc:
            error = errors.DOCUMENT_URL_FORBIDDEN if exc.forbidden else errors.KNOWLEDGE_INVALID_PARAM
            raise error(f"{field}.web_url: {exc}")
        if dataset.format_type != FORMAT_TEXT:
            raise errors.DOCUMENT_FILE_TYPE(f"{field}.web_url: only text knowledge bases take web pages")
        return {
            "name": name or url[:255],
            "source_type": SOURCE_WEB,
            "web_url": url,
            "file": None,
            "file_type": "html",
            "size": 0,
        }
    if "custom_content" in info:
        file_type, content = _custom_content(dataset, info["custom_content"], f"{field}.custom_content")
        return {
            "name": name or "content",
            "source_type": SOURCE_CUSTOM,
            "file_type": file_type,
            "size": len(content),
            "upload": (f"{name or 'content'}.{file_type}", content),
        }
    if "file_base64" in info:
        try:
            content = base64.b64decode(info["file_base64"], validate=True)
        except (binascii.Error, ValueError):
            raise errors.KNOWLEDGE_INVALID_PARAM(f"{field}.file_base64 is not valid base64")
        file_type = (info.get("file_type") or _ext(name)).lower().lstrip(".")
        _check_type(dataset, file_type, f"{field}.file_type")
        _inspect(file_type, content, f"{field}.file_base64")
        file_name = files.safe_name(f"{(name or 'document').rsplit('.', 1)[0]}.{file_type}")
        return {
            "name": name or file_name,
            "source_type": SOURCE_LOCAL_FILE,
            "file_type": file_type,
            "size": len(content),
            "upload": (file_name, content),
        }
    if not uploads:
        raise errors.KNOWLEDGE_INVALID_PARAM(
            f"{field} needs one of tos_uri, source_file_id, file_base64, custom_content or web_url"
        )
    stored = uploads[0]
    file_type = _ext(stored.file_name)
    _check_type(dataset, file_type, f"{field}.tos_uri")
    _inspect(file_type, files.read(stored), f"{field}.tos_uri")
    return {
        "name": name or stored.file_name,
        "source_type": SOURCE_LOCAL_FILE,
        "file": stored,
        "file_type": file_type,
        "size": stored.size,
    }


def strategy_for(dataset: Dataset, raw: dict | None) -> dict:
    try:
        return chunking.normalize(raw if raw is not None else dataset.chunk_strategy or None)
    except chunking.StrategyError as exc:
        raise errors.KNOWLEDGE_INVALID_PARAM(str(exc))


def create_documents(
    user: User,
    dataset_id,
    bases: list[dict],
    *,
    chunk_strategy: dict | None = None,
    parsing_strategy: dict | None = None,
    format_type: int | None = None,
) -> list[Document]:
    """New documents in a knowledge base, queued for processing. `bases` are Coze's DocumentBase
    objects (name, source_info, table_meta, table_sheet, caption, update_rule)."""
    dataset = load_dataset(user, dataset_id, authz.UPDATE)
    if format_type is not None and format_type != dataset.format_type:
        raise errors.KNOWLEDGE_INVALID_PARAM(
            f"format_type {format_type} does not match the knowledge base's {dataset.format_type}"
        )
    strategy = strategy_for(dataset, chunk_strategy)
    sources = [_source(user, dataset, base, i) for i, base in enumerate(bases)]
    documents = []
    with write_transaction():
        if not dataset.chunk_strategy:
            dataset.touch(chunk_strategy=strategy)  # later documents reuse the first one's
        for base, source in zip(bases, sources):
            if "upload" in source:
                file_name, content = source.pop("upload")
                source["file"] = files.store(user, file_name, io.BytesIO(content))
            sheet = base.get("table_sheet") or {}
            documents.append(
                Document.create(
                    dataset=dataset,  # the instance: views read its format_type
                    creator=user.id,
                    chunk_strategy=strategy,
                    parsing_strategy={
                        **(parsing_strategy or {}),
                        "sheet_id": parse_id(sheet.get("sheet_id")) or 0,
                        "header_line_idx": parse_id(sheet.get("header_line_idx")) or 0,
                        "start_line_idx": parse_id(sheet.get("start_line_idx")),
                    },
                    table_meta=base.get("table_meta") or [],
                    caption=base.get("caption") or "",
                    update_rule=base.get("update_rule") or {},
                    status=DOC_PROCESSING,
                    **source,
                )
            )
    for document in documents:
        ingestion.process_document_task(document.id)
    return documents


def list_documents(
    user: User, dataset_id, *, document_ids=None, keyword: str | None = None, page: int = 1, size: int = 20
) -> tuple[list[Document], int]:
    dataset = load_dataset(user, dataset_id)
    query = Document.select(Document, Dataset).join(Dataset).where(Document.dataset == dataset.id)
    if document_ids:
        named = refs.many(user, refs.DOCUMENT, document_ids, field="document_ids")
        query = query.where(Document.id.in_([d.id for d in named]))
    if keyword:
        query = query.where(Document.name.contains(keyword))
    query = query.order_by(Document.created_at.desc(), Document.id.desc())
    listed = paging.page(query, page, size, total=True)
    return listed.rows, listed.total


def documents_by_ids(user: User, document_ids: list, action: str = authz.READ) -> list[Document]:
    return refs.many(user, refs.DOCUMENT, document_ids, action, field="document_ids")


def documents_in(
    user: User, dataset_id, document_ids: list, action: str = authz.READ
) -> tuple[Dataset, list[Document]]:
    """A knowledge base and documents the request says are in it (checked once, for all)."""
    dataset = load_dataset(user, dataset_id, action)
    numbers = [parse_id(i) for i in document_ids]
    found = {
        d.id: d
        for d in Document.select(Document, Dataset)
        .join(Dataset)
        .where(Document.id.in_([n for n in numbers if n is not None]), Document.dataset == dataset.id)
    }
    for raw, number in zip(document_ids, numbers):
        if number not in found:
            raise errors.DOCUMENT_NOT_FOUND(f"document {raw} is not in knowledge base {dataset.id}")
    return dataset, [found[n] for n in numbers]


def list_images(
    user: User,
    dataset_id,
    *,
    keyword: str | None = None,
    has_caption: bool | None = None,
    page: int = 1,
    size: int = 10,
) -> tuple[list[Document], int]:
    dataset = load_dataset(user, dataset_id)
    query = Document.select().where(Document.dataset == dataset.id)
    if keyword:
        query = query.where(Document.caption.contains(keyword) | Document.name.contains(keyword))
    if has_caption is not None:
        query = query.where(Document.caption != "" if has_caption else Document.caption == "")
    query = query.order_by(Document.created_at.desc(), Document.id.desc())
    listed = paging.page(query, page, size, total=True)
    return listed.rows, listed.total


def set_caption(user: User, dataset_id, document_id, caption: str) -> Document:
    """An image's caption is its one slice: replaced and re-indexed at once."""
    dataset, [document] = documents_in(user, dataset_id, [document_id], authz.UPDATE)
    if dataset.format_type != FORMAT_IMAGE:
        raise errors.KNOWLEDGE_INVALID_PARAM(
            f"document {document.id} is not an image; only images have captions"
        )
    check_not_busy(document)
    document.touch(caption=caption)
    pieces, _, chars = ingestion.document_pieces(document, document.file_type, b"")
    vectors = ingestion.embed_for_request(document, [text for text, _ in pieces])
    ingestion.replace_slices(document, pieces, [], chars, document.size, vectors)
    return document


def update_document(
    user: User,
    document_id,
    *,
    name: str | None = None,
    update_rule: dict | None = None,
    table_meta: list[dict] | None = None,
) -> Document:
    """Rename, change the refetch rule, or change table columns (names, descriptions, searched)."""
    document = load_document(user, document_id, authz.UPDATE)
    changes = {}
    if name is not None:
        changes["name"] = name.strip()
    if update_rule is not None:
        changes["update_rule"] = update_rule
    rows, vectors = [], None
    if table_meta is not None:
        if document.dataset.format_type != FORMAT_TABLE:
            raise errors.KNOWLEDGE_INVALID_PARAM("table_meta: only table documents have columns")
        check_not_busy(document)
        changes["table_meta"] = document.table_meta = _merged_columns(document.table_meta, table_meta)
        rows = list(Slice.select().where(Slice.document == document.id))
        for piece in rows:
            piece.content = ingestion.row_text(document.table_meta, piece.meta.get("row", {}))
            piece.char_count = len(piece.content)
        vectors = ingestion.embed_for_request(
            document, [ingestion.searched_text(document, r.content, r.meta) for r in rows]
        )
    with write_transaction():
        if changes:
            document.touch(**changes)
        if "table_meta" in changes:
            ingestion.reindex_rows(document, rows, vectors)
    return document


def _merged_columns(current: list[dict], updates: list[dict]) -> list[dict]:
    """Rename columns, change their description or whether they are searched; never add any."""
    by_id = {str(c["id"]): dict(c) for c in current}
    for update in updates:
        key = str(update.get("id", ""))
        if key not in by_id:
            raise errors.KNOWLEDGE_INVALID_PARAM(f"table_meta: the document has no column with id {key!r}")
        for field in ("column_name", "desc", "is_semantic"):
            if update.get(field) is not None:
                by_id[key][field] = update[field]
    merged = list(by_id.values())
    if not any(c.get("is_semantic") for c in merged):
        raise errors.KNOWLEDGE_INVALID_PARAM("table_meta: at least one column must be searched (is_semantic)")
    return merged


def delete_documents(user: User, document_ids: list) -> None:
    documents = documents_by_ids(user, document_ids, authz.UPDATE)
    with write_transaction():
        ids = [d.id for d in documents]
        FullTextIndex.remove([s for (s,) in Slice.select(Slice.id).where(Slice.document.in_(ids)).tuples()])
        Document.delete().where(Document.id.in_(ids)).execute()
        VectorIndex.touch({d.dataset_id for d in documents})


def resegment(
    user: User, dataset_id, document_ids: list, chunk_strategy: dict | None = None
) -> list[Document]:
    """Process documents again: with a new chunk strategy, or after a failure."""
    dataset, documents = documents_in(user, dataset_id, document_ids, authz.UPDATE)
    for document in documents:
        if document.status in BUSY:
            raise errors.DOCUMENT_BUSY(f"document {document.id} is still being processed")
    strategy = strategy_for(dataset, chunk_strategy) if chunk_strategy else None
    with write_transaction():
        for document in documents:
            document.touch(
                status=DOC_RESEGMENTING,
                progress=0,
                status_reason="",
                attempts=0,
                worker_id=None,
                **({"chunk_strategy": strategy} if strategy else {}),
            )
    for document in documents:
        ingestion.process_document_task(document.id)
    return documents


def set_document_enabled(user: User, document_id, enabled: bool) -> Document:
    document = load_document(user, document_id, authz.UPDATE)
    if document.status in BUSY or document.status == DOC_FAILED:
        raise errors.DOCUMENT_BUSY(f"document {document.id} is not ready (status {document.status})")
    with write_transaction():
        document.touch(status=DOC_ENABLED if enabled else DOC_DISABLED)
        slices = list(Slice.select().where(Slice.document == document.id))
        if enabled:
            ingestion.index_slices([s for s in slices if s.status != SLICE_DISABLED], document)
        else:
            FullTextIndex.remove([s.id for s in slices])
    return document


def check_not_busy(document: Document) -> None:
    if document.status in BUSY:
        raise errors.DOCUMENT_BUSY(f"document {document.id} is being processed; edit its slices after")
