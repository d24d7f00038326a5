"""Turning a document into indexed slices in the task queue: parse, chunk, embed, index; web
pages refetched when due, and slices embedded when an embedding model is chosen."""

from __future__ import annotations

import logging
import time

from huey import crontab
from peewee import JOIN

from core import errors
from core.ids import new_id
from core.settings import get_settings
from models.db import write_transaction
from models.files import StoredFile
from models.knowledge import (
    DOC_DISABLED,
    DOC_ENABLED,
    DOC_FAILED,
    DOC_RESEGMENTING,
    FORMAT_IMAGE,
    FORMAT_TABLE,
    SLICE_DISABLED,
    SLICE_INDEXED,
    SOURCE_WEB,
    Dataset,
    Document,
    Slice,
    SliceVector,
)
from services import chunking, embeddings, files, parsing, recovery, textsearch, webfetch
from services.fulltext import FullTextIndex
from services.tasks import queue
from services.vectors import VectorIndex

log = logging.getLogger("cozeplus.knowledge")

COLUMN_TEXT, COLUMN_NUMBER, COLUMN_FLOAT = 1, 2, 4


def limits() -> parsing.Limits:
    """What one document may unpack to (pages, unzipped bytes, characters)."""
    settings = get_settings()
    return parsing.Limits(
        max_pages=settings.knowledge_max_pages,
        max_unzipped_bytes=settings.knowledge_max_unzipped_bytes,
        max_chars=settings.knowledge_max_chars,
    )


# --- processing --------------------------------------------------------------------------------


@queue.task(retries=0)
def process_document_task(document_id: int) -> None:
    process_document(document_id)


def _set_progress(document_id: int, progress: int) -> None:
    Document.update(progress=progress, updated_at=int(time.time())).where(
        Document.id == document_id
    ).execute()


def _content(document: Document) -> tuple[str, bytes]:
    if document.source_type == SOURCE_WEB:
        settings = get_settings()
        try:
            body, file_type, _ = webfetch.fetch(
                document.web_url,
                allow_private=settings.knowledge_allow_private_urls,
                max_bytes=settings.max_upload_bytes,
            )
        except webfetch.FetchError as exc:
            raise parsing.ParseError(str(exc))
        return file_type, body
    if document.file_id is None:
        raise parsing.ParseError("the document's file is gone")
    return document.file_type, files.read(StoredFile.get_by_id(document.file_id))


def _infer_type(values: list[str]) -> int:
    present = [v for v in values if v != ""]
    if not present:
        return COLUMN_TEXT
    try:
        numbers = [float(v) for v in present]
    except ValueError:
        return COLUMN_TEXT
    return (
        COLUMN_NUMBER
        if all(n.is_integer() and "." not in v for n, v in zip(numbers, present))
        else COLUMN_FLOAT
    )


def _columns_for(document: Document, header: list[str], rows: list[list[str]]) -> list[dict]:
    """The document's columns: kept from before when the header is unchanged, else inferred."""
    if document.table_meta and [c["column_name"] for c in document.table_meta] == header:
        return document.table_meta
    given = {c.get("column_name"): c for c in document.table_meta or []}
    return [
        {
            "id": str(given.get(name, {}).get("id") or new_id()),
            "column_name": name,
            "sequence": i,
            "is_semantic": given.get(name, {}).get("is_semantic", True),
            "column_type": _infer_type([r[i] for r in rows]),
            "desc": given.get(name, {}).get("desc", ""),
        }
        for i, name in enumerate(header)
    ]


def row_text(columns: list[dict], cells: dict, semantic_only: bool = False) -> str:
    return "; ".join(
        f"{c['column_name']}: {cells.get(str(c['id']), '')}"
        for c in columns
        if (c.get("is_semantic") or not semantic_only) and cells.get(str(c["id"]), "") != ""
    )


def document_pieces(
    document: Document, file_type: str, content: bytes
) -> tuple[list[tuple[str, dict]], list[dict], int]:
    """(slice content and meta, table columns, characters) of a document's content."""
    dataset_format = document.dataset.format_type
    if dataset_format == FORMAT_IMAGE:
        caption = document.caption.strip()
        model = embeddings.caption_model()
        if (
            not caption
            and content
            and model is not None
            and (document.chunk_strategy or {}).get("caption_type", 0) != 1
        ):
            caption = document.caption = embeddings.caption_image(
                model, content, files.KNOWN_TYPES[file_type][0]
            )
        return ([(caption, {"image": True})] if caption else []), [], len(caption)
    if dataset_format == FORMAT_TABLE:
        strategy = document.parsing_strategy
        parsed = parsing.parse_table(
            file_type,
            content,
            sheet=strategy.get("sheet_id") or 0,
            header_line=strategy.get("header_line_idx") or 0,
            start_line=strategy.get("start_line_idx"),
            limits=limits(),
        )
        columns = _columns_for(document, parsed.columns, parsed.rows)
        pieces = []
        for row in parsed.rows:
            cells = {str(c["id"]): value for c, value in zip(columns, row)}
            pieces.append((row_text(columns, cells), {"row": cells}))
        return pieces, columns, parsed.char_count
    parsed = parsing.parse_text(file_type, content, limits())
    chunks = chunking.chunk(parsed.blocks, document.chunk_strategy or chunking.normalize(None))
    return [(c.text, c.meta()) for c in chunks], [], parsed.char_count


def searched_text(document: Document, content: str, meta: dict) -> str:
    """What queries match a slice by: its text, or a row's searched (semantic) columns."""
    return row_text(document.table_meta, meta["row"], semantic_only=True) if "row" in meta else content


def index_slices(slices: list[Slice], document: Document) -> None:
    FullTextIndex.add(
        [
            (s.id, s.dataset_id, textsearch.index_text(searched_text(document, s.content, s.meta)))
            for s in slices
        ]
    )


Vectors = tuple[int, list]  # (embedding model id, one vector per slice), or None without a model


def _embed(document: Document, texts: list[str], on_batch=None) -> Vectors | None:
    """Vectors for slice texts by the configured embedding model; None when there is none.
    Called outside write transactions: the model may take seconds."""
    model = embeddings.embedding_model()
    if model is None or not texts:
        return None
    vectors = []
    for start in range(0, len(texts), embeddings.BATCH):
        vectors.extend(embeddings.embed(model, texts[start : start + embeddings.BATCH]))
        if on_batch:
            on_batch(min(start + embeddings.BATCH, len(texts)), len(texts))
    return model.id, vectors


def embed_for_request(document: Document, texts: list[str]) -> Vectors | None:
    try:
        return _embed(document, texts)
    except embeddings.EmbeddingError as exc:
        raise errors.KNOWLEDGE_EMBEDDING_FAILED(f"the slice could not be embedded: {exc}")


def store_vectors(slices: list[Slice], vectors: Vectors | None) -> None:
    if vectors is not None:
        model_id, rows = vectors
        VectorIndex.add([(s.id, s.dataset_id, model_id, v) for s, v in zip(slices, rows)])


def reindex_rows(document: Document, rows: list[Slice], vectors: Vectors | None) -> None:
    for piece in rows:
        piece.save(only=[Slice.content, Slice.char_count])
    store_vectors(rows, vectors)
    if document.status == DOC_ENABLED:
        index_slices([r for r in rows if r.status != SLICE_DISABLED], document)


def process_document(document_id: int) -> None:
    """Parse, chunk and index one document; a failure is recorded on it alone."""
    document = Document.get_or_none(Document.id == document_id)
    if document is None:
        return  # deleted while queued
    # this process owns it now: if it dies, another one resumes it (services/recovery)
    Document.update(
        worker_id=recovery.current_id(),
        attempts=Document.attempts + 1,
        progress=10,
        updated_at=int(time.time()),
    ).where(Document.id == document.id).execute()
    try:
        file_type, content = _content(document)
        if document.source_type == SOURCE_WEB:
            document.file_type = file_type
        _set_progress(document.id, 30)
        pieces, columns, char_count = document_pieces(document, file_type, content)
        _set_progress(document.id, 50)
        if document.dataset.format_type != FORMAT_IMAGE and not pieces:
            raise parsing.ParseError("the document produced no slices")
        document.table_meta = columns or document.table_meta
        vectors = _embed(
            document,
            [searched_text(document, text, meta) for text, meta in pieces],
            lambda done, total: _set_progress(document.id, 50 + 45 * done // total),
        )
        replace_slices(document, pieces, columns, char_count, len(content), vectors)
    except parsing.ParseError as exc:
        _fail(document.id, str(exc))
    except embeddings.EmbeddingError as exc:
        _fail(document.id, f"a knowledge model failed: {exc}")
    except Exception as exc:  # a bug or a library's surprise: the document fails, the worker lives
        log.exception("processing document %s failed", document_id)
        _fail(document.id, f"internal error while processing ({type(exc).__name__})")


def replace_slices(
    document: Document,
    pieces: list[tuple[str, dict]],
    columns: list[dict],
    char_count: int,
    size: int,
    vectors: Vectors | None = None,
) -> None:
    now = int(time.time())
    with write_transaction():
        current = Document.get_or_none(Document.id == document.id)
        if current is None:
            return  # deleted while processing
        old = [s for (s,) in Slice.select(Slice.id).where(Slice.document == document.id).tuples()]
        FullTextIndex.remove(old)
        Slice.delete().where(Slice.document == document.id).execute()
        document.table_meta = columns or document.table_meta
        rows = [
            Slice(
                id=new_id(),
                document=document.id,
                dataset=document.dataset_id,
                sequence=i,
                content=text,
                status=SLICE_INDEXED,
                char_count=len(text),
                meta=meta,
                created_at=now,
                updated_at=now,
            )
            for i, (text, meta) in enumerate(pieces, start=1)
        ]
        for start in range(0, len(rows), 500):
            Slice.bulk_create(rows[start : start + 500])
        VectorIndex.touch([document.dataset_id])  # the old slices' vectors went with them
        store_vectors(rows, vectors)
        if current.status != DOC_DISABLED:
            index_slices(rows, document)
        Document.update(
            status=DOC_DISABLED if current.status == DOC_DISABLED else DOC_ENABLED,
            progress=100,
            status_reason="",
            slice_count=len(rows),
            char_count=char_count,
            table_meta=document.table_meta,
            file_type=document.file_type,
            caption=document.caption,
            size=size if document.source_type == SOURCE_WEB else current.size,
            worker_id=None,
            updated_at=now,
        ).where(Document.id == document.id).execute()
    from services import webhooks  # it reaches this module through refs

    dataset = Dataset.by_id(document.dataset_id)
    data = {"document_id": str(document.id), "dataset_id": str(document.dataset_id), "slice_count": len(rows)}
    webhooks.emit_safely(dataset.space_id, "document.indexed", data)


@queue.periodic_task(crontab(minute="*/10"))
def refresh_web_pages_task() -> None:
    refresh_web_pages()


def refresh_web_pages(now: int | None = None) -> list[int]:
    """Queue again the web-page documents whose update rule says they are due (update_type 1,
    every update_interval hours since they were last processed; disabled ones wait until they
    are enabled); returns their ids."""
    now = now or int(time.time())
    due = []
    for document in Document.select().where(
        Document.source_type == SOURCE_WEB, Document.status.in_([DOC_ENABLED, DOC_FAILED])
    ):
        rule = document.update_rule or {}
        hours = int(rule.get("update_interval") or 0)
        if rule.get("update_type") == 1 and hours > 0 and document.updated_at + hours * 3600 <= now:
            due.append(document.id)
    for document_id in due:
        Document.update(status=DOC_RESEGMENTING, progress=0, attempts=0, worker_id=None).where(
            Document.id == document_id
        ).execute()
        process_document_task(document_id)
    return due


@queue.task(retries=0)
def embed_missing_task() -> None:
    embed_missing()


def embed_missing(batch: int = 256) -> int:
    """Embed every slice that has no vector by the configured model (after the administrator
    chooses or changes it); returns how many were embedded."""
    model = embeddings.embedding_model()
    done = 0
    while model is not None:
        missing = list(
            Slice.select(Slice, Document)
            .join(Document)
            .switch(Slice)
            .join(
                SliceVector,
                JOIN.LEFT_OUTER,
                on=((SliceVector.slice == Slice.id) & (SliceVector.model_id == model.id)),
            )
            .where(SliceVector.slice.is_null())
            .limit(batch)
        )
        if not missing:
            break
        try:
            vectors = embeddings.embed(model, [searched_text(s.document, s.content, s.meta) for s in missing])
        except embeddings.EmbeddingError as exc:
            log.warning("embedding existing slices stopped: %s", exc)
            break
        with write_transaction():
            VectorIndex.add([(s.id, s.dataset_id, model.id, v) for s, v in zip(missing, vectors)])
        done += len(missing)
    return done


def _fail(document_id: int, reason: str) -> None:
    Document.update(
        status=DOC_FAILED,
        status_reason=reason[:1000],
        progress=0,
        worker_id=None,
        updated_at=int(time.time()),
    ).where(Document.id == document_id).execute()
