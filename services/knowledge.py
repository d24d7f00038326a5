"""Knowledge bases: datasets, their documents and slices, and turning documents into indexed
slices in the task queue."""

from __future__ import annotations

import base64
import binascii
import io
import json
import logging
import time

from huey import crontab
from peewee import JOIN, IntegrityError, fn

from core import authz, errors, jsonsafe
from core.ids import new_id, parse_id
from core.settings import get_settings
from models import paging
from models.agent import Bot
from models.db import write_transaction
from models.files import StoredFile
from models.identity import User
from models.knowledge import (
    DOC_DISABLED,
    DOC_ENABLED,
    DOC_FAILED,
    DOC_PROCESSING,
    DOC_RESEGMENTING,
    FORMAT_IMAGE,
    FORMAT_TABLE,
    FORMAT_TEXT,
    SLICE_DISABLED,
    SLICE_INDEXED,
    SOURCE_CUSTOM,
    SOURCE_LOCAL_FILE,
    SOURCE_WEB,
    Dataset,
    Document,
    Slice,
    SliceVector,
)
from services import chunking, embeddings, files, parsing, recovery, refs, textsearch, webfetch
from services.fulltext import FullTextIndex
from services.tasks import queue
from services.vectors import VectorIndex

log = logging.getLogger("cozeplus.knowledge")

BUSY = (DOC_PROCESSING, DOC_RESEGMENTING)
TYPES_BY_FORMAT = {
    FORMAT_TEXT: parsing.TEXT_TYPES,
    FORMAT_TABLE: parsing.TABLE_TYPES,
    FORMAT_IMAGE: parsing.IMAGE_TYPES,
}
COLUMN_TEXT, COLUMN_NUMBER, COLUMN_FLOAT = 1, 2, 4


def _limits() -> parsing.Limits:
    settings = get_settings()
    return parsing.Limits(
        max_pages=settings.knowledge_max_pages,
        max_unzipped_bytes=settings.knowledge_max_unzipped_bytes,
        max_chars=settings.knowledge_max_chars,
    )


# --- datasets ----------------------------------------------------------------------------------


def load_dataset(user: User, dataset_id, action: str = authz.READ) -> Dataset:
    return refs.one(user, refs.DATASET, dataset_id, action)


def datasets_by_ids(user: User, dataset_ids: list, space_id=None, project_id=None) -> list[Dataset]:
    """The knowledge bases named (in `space_id` and app `project_id`, when the request names them)."""
    datasets = refs.many(user, refs.DATASET, dataset_ids, field="dataset_ids")
    space = refs.one(user, refs.SPACE, space_id, field="space_id").id if space_id not in (None, "") else None
    project = refs.optional(user, refs.PROJECT, project_id, field="project_id")
    for dataset in datasets:
        if (space is not None and dataset.space_id != space) or (
            project is not None and dataset.project_id != project
        ):
            raise errors.KNOWLEDGE_NOT_FOUND(f"knowledge base {dataset.id} is not in the space or app named")
    return datasets


def _duplicate(name: str) -> errors.ApiError:
    return errors.KNOWLEDGE_NAME_DUPLICATE(f"the space already has a knowledge base named '{name}'")


def create_dataset(user: User, body: dict) -> Dataset:
    space_id = refs.one(user, refs.SPACE, body["space_id"], authz.WRITE, field="space_id").id
    name = body["name"].strip()
    icon_uri = refs.file_uri(
        user, body.get("icon_uri"), field="icon_uri", invalid=errors.KNOWLEDGE_INVALID_PARAM
    )
    project_id = refs.optional(user, refs.PROJECT, body.get("project_id"), field="project_id")
    try:
        with write_transaction():
            return Dataset.create(
                space=space_id,
                creator=user.id,
                name=name,
                description=body.get("description") or "",
                icon_uri=icon_uri,
                format_type=body.get("format_type") or FORMAT_TEXT,
                project_id=project_id,
            )
    except IntegrityError:
        raise _duplicate(name)


def update_dataset(user: User, dataset_id, changes: dict) -> Dataset:
    dataset = load_dataset(user, dataset_id, authz.WRITE)
    fields = {k: changes[k] for k in ("name", "description", "icon_uri") if changes.get(k) is not None}
    if "name" in fields:
        fields["name"] = fields["name"].strip()
    if "icon_uri" in fields:
        fields["icon_uri"] = refs.file_uri(
            user,
            fields["icon_uri"],
            field="icon_uri",
            current=dataset.icon_uri,
            invalid=errors.KNOWLEDGE_INVALID_PARAM,
        )
    if fields:
        try:
            with write_transaction():
                dataset.touch(**fields)
        except IntegrityError:
            raise _duplicate(fields["name"])
    return dataset


def delete_dataset(user: User, dataset_id) -> None:
    dataset = load_dataset(user, dataset_id, authz.WRITE)
    with write_transaction():
        FullTextIndex.remove_datasets([dataset.id])
        dataset.delete_instance()


def list_datasets(
    user: User,
    space_id,
    *,
    name: str | None = None,
    dataset_ids=None,
    project_id=None,
    mine_only: bool = False,
    format_type: int | None = None,
    order_by_update: bool = False,
    ascending: bool = False,
    page: int = 1,
    size: int = 20,
) -> tuple[list[Dataset], int]:
    number = refs.one(user, refs.SPACE, space_id, field="space_id").id
    query = Dataset.select().where(Dataset.space == number)
    project = refs.optional(user, refs.PROJECT, project_id, field="project_id")
    if project is not None:
        query = query.where(Dataset.project_id == project)
    if name:
        query = query.where(Dataset.name.contains(name) | Dataset.description.contains(name))
    if dataset_ids:
        named = refs.many(user, refs.DATASET, dataset_ids, field="filter.dataset_ids")
        query = query.where(Dataset.id.in_([d.id for d in named]))
    if mine_only:
        query = query.where(Dataset.creator == user.id)
    if format_type is not None:
        query = query.where(Dataset.format_type == format_type)
    column = Dataset.updated_at if order_by_update else Dataset.created_at
    query = query.order_by(
        column.asc() if ascending else column.desc(), Dataset.id.asc() if ascending else Dataset.id.desc()
    )
    listed = paging.page(query, page, size, total=True)
    return listed.rows, listed.total


def dataset_stats(datasets: list[Dataset]) -> dict[int, dict]:
    """Counters per dataset for list and detail views: documents from one grouped query, the
    agents of the same spaces that bind each from one more."""
    dataset_ids = [d.id for d in datasets]
    stats = {
        i: {
            "doc_count": 0,
            "slice_count": 0,
            "hit_count": 0,
            "all_file_size": 0,
            "bot_used_count": 0,
            "processing_file_id_list": [],
            "failed_file_list": [],
        }
        for i in dataset_ids
    }
    if not dataset_ids:
        return stats
    for bot in Bot.select(Bot.config).where(
        Bot.space.in_({d.space_id for d in datasets}), Bot.config.contains('"knowledge_info":[{')
    ):
        bound = {
            parse_id(k.get("id"))
            for k in (bot.config.get("knowledge") or {}).get("knowledge_info") or []
            if isinstance(k, dict)
        }
        for dataset_id in bound & stats.keys():
            stats[dataset_id]["bot_used_count"] += 1
    rows = (
        Document.select(
            Document.dataset,
            fn.COUNT(Document.id),
            fn.SUM(Document.slice_count),
            fn.SUM(Document.hit_count),
            fn.SUM(Document.size),
        )
        .where(Document.dataset.in_(dataset_ids))
        .group_by(Document.dataset)
        .tuples()
    )
    for dataset, docs, slices, hits, size in rows:
        stats[dataset].update(
            doc_count=docs,
            slice_count=int(slices or 0),
            hit_count=int(hits or 0),
            all_file_size=int(size or 0),
        )
    pending = (
        Document.select(Document.dataset, Document.id, Document.status)
        .where(Document.dataset.in_(dataset_ids), Document.status.in_([*BUSY, DOC_FAILED]))
        .tuples()
    )
    for dataset, doc, status in pending:
        key = "failed_file_list" if status == DOC_FAILED else "processing_file_id_list"
        stats[dataset][key].append(str(doc))
    return stats


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
        parsing.inspect(file_type, content, _limits())
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


def create_documents(user: User, body: dict) -> list[Document]:
    dataset = load_dataset(user, body["dataset_id"], authz.WRITE)
    if body.get("format_type") is not None and body["format_type"] != dataset.format_type:
        raise errors.KNOWLEDGE_INVALID_PARAM(
            f"format_type {body['format_type']} does not match the knowledge base's {dataset.format_type}"
        )
    strategy = strategy_for(dataset, body.get("chunk_strategy"))
    sources = [_source(user, dataset, base, i) for i, base in enumerate(body["document_bases"])]
    documents = []
    with write_transaction():
        if not dataset.chunk_strategy:
            dataset.touch(chunk_strategy=strategy)  # later documents reuse the first one's
        for base, source in zip(body["document_bases"], sources):
            if "upload" in source:
                file_name, content = source.pop("upload")
                source["file"] = files.store(user, file_name, io.BytesIO(content))
            sheet = base.get("table_sheet") or {}
            documents.append(
                Document.create(
                    dataset=dataset.id,
                    creator=user.id,
                    chunk_strategy=strategy,
                    parsing_strategy={
                        **(body.get("parsing_strategy") or {}),
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
        process_document_task(document.id)
    return documents


def list_documents(
    user: User, dataset_id, *, document_ids=None, keyword: str | None = None, page: int = 1, size: int = 20
) -> tuple[list[Document], int]:
    dataset = load_dataset(user, dataset_id)
    query = Document.select().where(Document.dataset == dataset.id)
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
        for d in Document.select().where(
            Document.id.in_([n for n in numbers if n is not None]), Document.dataset == dataset.id
        )
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
    dataset, [document] = documents_in(user, dataset_id, [document_id], authz.WRITE)
    if dataset.format_type != FORMAT_IMAGE:
        raise errors.KNOWLEDGE_INVALID_PARAM(
            f"document {document.id} is not an image; only images have captions"
        )
    _busy_check(document)
    document.touch(caption=caption)
    pieces, _, chars = _pieces(document, document.file_type, b"")
    vectors = _embed_for_request(document, [text for text, _ in pieces])
    _replace_slices(document, pieces, [], chars, document.size, vectors)
    return document


def update_document(user: User, body: dict) -> Document:
    document = load_document(user, body["document_id"], authz.WRITE)
    changes = {}
    if body.get("document_name") is not None:
        changes["name"] = body["document_name"].strip()
    if body.get("update_rule") is not None:
        changes["update_rule"] = body["update_rule"]
    rows, vectors = [], None
    if body.get("table_meta") is not None:
        if document.dataset.format_type != FORMAT_TABLE:
            raise errors.KNOWLEDGE_INVALID_PARAM("table_meta: only table documents have columns")
        _busy_check(document)
        changes["table_meta"] = document.table_meta = _merged_columns(document.table_meta, body["table_meta"])
        rows = list(Slice.select().where(Slice.document == document.id))
        for piece in rows:
            piece.content = row_text(document.table_meta, piece.meta.get("row", {}))
            piece.char_count = len(piece.content)
        vectors = _embed_for_request(document, [_searched_text(document, r.content, r.meta) for r in rows])
    with write_transaction():
        if changes:
            document.touch(**changes)
        if "table_meta" in changes:
            _reindex_rows(document, rows, vectors)
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
    documents = documents_by_ids(user, document_ids, authz.WRITE)
    with write_transaction():
        ids = [d.id for d in documents]
        FullTextIndex.remove([s for (s,) in Slice.select(Slice.id).where(Slice.document.in_(ids)).tuples()])
        Document.delete().where(Document.id.in_(ids)).execute()
        VectorIndex.touch({d.dataset_id for d in documents})


def resegment(user: User, body: dict) -> list[Document]:
    """Process documents again: with a new chunk strategy, or after a failure."""
    dataset, documents = documents_in(user, body["dataset_id"], body["document_ids"], authz.WRITE)
    for document in documents:
        if document.status in BUSY:
            raise errors.DOCUMENT_BUSY(f"document {document.id} is still being processed")
    strategy = strategy_for(dataset, body.get("chunk_strategy")) if body.get("chunk_strategy") else None
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
        process_document_task(document.id)
    return documents


def set_document_enabled(user: User, document_id, enabled: bool) -> Document:
    document = load_document(user, document_id, authz.WRITE)
    if document.status in BUSY or document.status == DOC_FAILED:
        raise errors.DOCUMENT_BUSY(f"document {document.id} is not ready (status {document.status})")
    with write_transaction():
        document.touch(status=DOC_ENABLED if enabled else DOC_DISABLED)
        slices = list(Slice.select().where(Slice.document == document.id))
        if enabled:
            _index([s for s in slices if s.status != SLICE_DISABLED], document)
        else:
            FullTextIndex.remove([s.id for s in slices])
    return document


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


def _pieces(
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
            limits=_limits(),
        )
        columns = _columns_for(document, parsed.columns, parsed.rows)
        pieces = []
        for row in parsed.rows:
            cells = {str(c["id"]): value for c, value in zip(columns, row)}
            pieces.append((row_text(columns, cells), {"row": cells}))
        return pieces, columns, parsed.char_count
    parsed = parsing.parse_text(file_type, content, _limits())
    chunks = chunking.chunk(parsed.blocks, document.chunk_strategy or chunking.normalize(None))
    return [(c.text, c.meta()) for c in chunks], [], parsed.char_count


def _searched_text(document: Document, content: str, meta: dict) -> str:
    """What queries match a slice by: its text, or a row's searched (semantic) columns."""
    return row_text(document.table_meta, meta["row"], semantic_only=True) if "row" in meta else content


def _index(slices: list[Slice], document: Document) -> None:
    FullTextIndex.add(
        [
            (s.id, s.dataset_id, textsearch.index_text(_searched_text(document, s.content, s.meta)))
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


def _embed_for_request(document: Document, texts: list[str]) -> Vectors | None:
    try:
        return _embed(document, texts)
    except embeddings.EmbeddingError as exc:
        raise errors.KNOWLEDGE_EMBEDDING_FAILED(f"the slice could not be embedded: {exc}")


def _store_vectors(slices: list[Slice], vectors: Vectors | None) -> None:
    if vectors is not None:
        model_id, rows = vectors
        VectorIndex.add([(s.id, s.dataset_id, model_id, v) for s, v in zip(slices, rows)])


def _reindex_rows(document: Document, rows: list[Slice], vectors: Vectors | None) -> None:
    for piece in rows:
        piece.save(only=[Slice.content, Slice.char_count])
    _store_vectors(rows, vectors)
    if document.status == DOC_ENABLED:
        _index([r for r in rows if r.status != SLICE_DISABLED], document)


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
        pieces, columns, char_count = _pieces(document, file_type, content)
        _set_progress(document.id, 50)
        if document.dataset.format_type != FORMAT_IMAGE and not pieces:
            raise parsing.ParseError("the document produced no slices")
        document.table_meta = columns or document.table_meta
        vectors = _embed(
            document,
            [_searched_text(document, text, meta) for text, meta in pieces],
            lambda done, total: _set_progress(document.id, 50 + 45 * done // total),
        )
        _replace_slices(document, pieces, columns, char_count, len(content), vectors)
    except parsing.ParseError as exc:
        _fail(document.id, str(exc))
    except embeddings.EmbeddingError as exc:
        _fail(document.id, f"a knowledge model failed: {exc}")
    except Exception as exc:  # a bug or a library's surprise: the document fails, the worker lives
        log.exception("processing document %s failed", document_id)
        _fail(document.id, f"internal error while processing ({type(exc).__name__})")


def _replace_slices(
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
        _store_vectors(rows, vectors)
        if current.status != DOC_DISABLED:
            _index(rows, document)
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
            vectors = embeddings.embed(
                model, [_searched_text(s.document, s.content, s.meta) for s in missing]
            )
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
    return row_text(document.table_meta, row), {"row": row}


def _busy_check(document: Document) -> None:
    if document.status in BUSY:
        raise errors.DOCUMENT_BUSY(f"document {document.id} is being processed; edit its slices after")


def create_slice(user: User, body: dict) -> Slice:
    document = load_document(user, body["document_id"], authz.WRITE)
    _busy_check(document)
    content, meta = _slice_body(document, body["raw_text"])
    vectors = _embed_for_request(document, [_searched_text(document, content, meta)])
    with write_transaction():
        last = Slice.select(fn.MAX(Slice.sequence)).where(Slice.document == document.id).scalar() or 0
        position = min(max(body.get("sequence") or last + 1, 1), last + 1)
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
        _store_vectors([created], vectors)
        if document.status == DOC_ENABLED:
            _index([created], document)
        _recount(document)
    return created


def update_slice(user: User, body: dict) -> Slice:
    piece = load_slice(user, body["slice_id"], authz.WRITE)
    document = piece.document
    _busy_check(document)
    changes, vectors = {}, None
    if body.get("raw_text") is not None:
        content, meta = _slice_body(document, body["raw_text"])
        changes.update(content=content, char_count=len(content), meta={**piece.meta, **meta})
        vectors = _embed_for_request(document, [_searched_text(document, content, changes["meta"])])
    with write_transaction():
        if body.get("enabled") is not None:
            changes["status"] = SLICE_INDEXED if body["enabled"] else SLICE_DISABLED
        if changes:
            piece.touch(**changes)
            _store_vectors([piece], vectors)
        if body.get("sequence") is not None:
            _move(piece, body["sequence"])
        if piece.status == SLICE_DISABLED or document.status != DOC_ENABLED:
            FullTextIndex.remove([piece.id])
        elif changes:
            _index([piece], document)
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
    pieces = refs.many(user, refs.SLICE, slice_ids, authz.WRITE, field="slice_ids")
    documents = {p.document_id: p.document for p in pieces}
    for document in documents.values():
        _busy_check(document)
    with write_transaction():
        FullTextIndex.remove([p.id for p in pieces])
        Slice.delete().where(Slice.id.in_([p.id for p in pieces])).execute()
        VectorIndex.touch({p.dataset_id for p in pieces})
        for document in documents.values():
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
