"""A document's slices (chunks) as users edit them: list, create at a position, edit, enable or
disable, move, delete; each change re-indexed at once."""

from __future__ import annotations

from peewee import fn

from core import authz, errors, jsonsafe
from models import paging
from models.db import write_transaction
from models.identity import User
from models.knowledge import (
    DOC_ENABLED,
    FORMAT_TABLE,
    SLICE_DISABLED,
    SLICE_INDEXED,
    Document,
    Slice,
)
from services import documents, ingestion, refs
from services.datasets import load_dataset
from services.documents import load_document
from services.fulltext import FullTextIndex
from services.vectors import VectorIndex

# --- slices ------------------------------------------------------------------------------------


def load_slice(user: User, slice_id, action: str = authz.READ) -> Slice:
    return refs.one(user, refs.SLICE, slice_id, action)


def list_slices(
    user: User,
    *,
    document_id=None,
    dataset_id=None,
    offset: int = 0,
    keyword: str | None = None,
    size: int = 20,
) -> tuple[list[Slice], int]:
    if document_id is not None:
        document = load_document(user, document_id)
        if dataset_id is not None and load_dataset(user, dataset_id).id != document.dataset_id:
            raise errors.DOCUMENT_NOT_FOUND(f"document {document_id} is not in knowledge base {dataset_id}")
        query = Slice.select().where(Slice.document == document.id)
    else:
        dataset = load_dataset(user, dataset_id)
        query = Slice.select().where(Slice.dataset == dataset.id)
    if keyword:
        query = query.where(Slice.content.contains(keyword))
    query = query.order_by(Slice.document, Slice.sequence)
    listed = paging.window(query, offset, size, total=True)
    return listed.rows, listed.total


def _slice_body(document: Document, raw_text: str) -> tuple[str, dict]:
    """(content, meta) of a slice a user writes; table rows come as JSON {column id: value}."""
    if document.dataset.format_type != FORMAT_TABLE:
        if not raw_text.strip():
            raise errors.SLICE_INVALID("raw_text is empty")
        return raw_text, {}
    try:
        cells = jsonsafe.loads(raw_text, "raw_text")
    except jsonsafe.JsonProblem as exc:
        raise errors.SLICE_INVALID(f'{exc}; a table slice is JSON: {{"<column id>": "value"}}')
    by_name = {c["column_name"]: str(c["id"]) for c in document.table_meta}
    ids = {str(c["id"]) for c in document.table_meta}
    if not isinstance(cells, dict) or not cells:
        raise errors.SLICE_INVALID("raw_text of a table slice must be a JSON object of cells")
    row = {}
    for key, value in cells.items():
        column = key if key in ids else by_name.get(key)
        if column is None:
            raise errors.SLICE_INVALID(f"raw_text: the table has no column {key!r}")
        row[column] = "" if value is None else str(value)
    return ingestion.row_text(document.table_meta, row), {"row": row}


def create_slice(user: User, document_id, raw_text: str, sequence: int | None = None) -> Slice:
    """A new slice at `sequence` (1-based; the end when none or past it)."""
    document = load_document(user, document_id, authz.UPDATE)
    documents.check_not_busy(document)
    content, meta = _slice_body(document, raw_text)
    vectors = ingestion.embed_for_request(document, [ingestion.searched_text(document, content, meta)])
    with write_transaction():
        last = Slice.select(fn.MAX(Slice.sequence)).where(Slice.document == document.id).scalar() or 0
        position = min(max(sequence or last + 1, 1), last + 1)
        Slice.update(sequence=Slice.sequence + 1).where(
            Slice.document == document.id, Slice.sequence >= position
        ).execute()
        created = Slice.create(
            document=document.id,
            dataset=document.dataset_id,
            sequence=position,
            content=content,
            char_count=len(content),
            meta=meta,
        )
        ingestion.store_vectors([created], vectors)
        if document.status == DOC_ENABLED:
            ingestion.index_slices([created], document)
        _recount(document)
    return created


def update_slice(
    user: User,
    slice_id,
    *,
    raw_text: str | None = None,
    enabled: bool | None = None,
    sequence: int | None = None,
) -> Slice:
    """Change a slice's text, whether it is searched, or its place; what is not given stays."""
    piece = load_slice(user, slice_id, authz.UPDATE)
    document = piece.document
    documents.check_not_busy(document)
    changes, vectors = {}, None
    if raw_text is not None:
        content, meta = _slice_body(document, raw_text)
        changes.update(content=content, char_count=len(content), meta={**piece.meta, **meta})
        vectors = ingestion.embed_for_request(
            document, [ingestion.searched_text(document, content, changes["meta"])]
        )
    with write_transaction():
        if enabled is not None:
            changes["status"] = SLICE_INDEXED if enabled else SLICE_DISABLED
        if changes:
            piece.touch(**changes)
            ingestion.store_vectors([piece], vectors)
        if sequence is not None:
            _move(piece, sequence)
        if piece.status == SLICE_DISABLED or document.status != DOC_ENABLED:
            FullTextIndex.remove([piece.id])
        elif changes:
            ingestion.index_slices([piece], document)
        _recount(document)
    return piece


def _move(piece: Slice, target: int) -> None:
    last = Slice.select(fn.MAX(Slice.sequence)).where(Slice.document == piece.document_id).scalar() or 1
    target = min(max(target, 1), last)
    if target == piece.sequence:
        return
    if target < piece.sequence:
        Slice.update(sequence=Slice.sequence + 1).where(
            Slice.document == piece.document_id, Slice.sequence >= target, Slice.sequence < piece.sequence
        ).execute()
    else:
        Slice.update(sequence=Slice.sequence - 1).where(
            Slice.document == piece.document_id, Slice.sequence > piece.sequence, Slice.sequence <= target
        ).execute()
    piece.touch(sequence=target)


def delete_slices(user: User, slice_ids: list) -> None:
    pieces = refs.many(user, refs.SLICE, slice_ids, authz.UPDATE, field="slice_ids")
    touched = {p.document_id: p.document for p in pieces}
    for document in touched.values():
        documents.check_not_busy(document)
    with write_transaction():
        FullTextIndex.remove([p.id for p in pieces])
        Slice.delete().where(Slice.id.in_([p.id for p in pieces])).execute()
        VectorIndex.touch({p.dataset_id for p in pieces})
        for document in touched.values():
            _resequence(document)
            _recount(document)


def _resequence(document: Document) -> None:
    """Close the gaps deletions leave, so sequences stay 1..n."""
    for position, (slice_id, sequence) in enumerate(
        Slice.select(Slice.id, Slice.sequence)
        .where(Slice.document == document.id)
        .order_by(Slice.sequence)
        .tuples(),
        start=1,
    ):
        if sequence != position:
            Slice.update(sequence=position).where(Slice.id == slice_id).execute()


def _recount(document: Document) -> None:
    count, chars = (
        Slice.select(fn.COUNT(Slice.id), fn.SUM(Slice.char_count))
        .where(Slice.document == document.id)
        .tuples()
        .get()
    )
    document.touch(slice_count=count, char_count=int(chars or 0))
