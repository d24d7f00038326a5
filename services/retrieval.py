"""Finding the slices that answer a question: full-text, vector and hybrid retrieval over one
or more knowledge bases, each hit with its score per stage.

Strategies use the agent enum: 0 semantic, 1 hybrid, 20 full-text. Scores are in [0, 1]:
full-text BM25 b maps to b / (b + 5) (PostgreSQL's ts_rank is mapped to r / (r + 1) by its
rank/(rank+1) flag); hybrid is reciprocal rank fusion, 1/(60 + rank) summed over the lists and
divided by its maximum, so a hit ranked first by every list scores 1."""

from __future__ import annotations

import dataclasses
import time
from concurrent.futures import ThreadPoolExecutor

from peewee import SqliteDatabase
from threadpoolctl import threadpool_limits

from core import errors
from models.db import db, write_transaction
from models.knowledge import DOC_ENABLED, FORMAT_TABLE, SLICE_DISABLED, Dataset, Document, Slice
from services import embeddings, textsearch
from services.fulltext import FullTextIndex
from services.tasks import queue
from services.vectors import VectorIndex

# One BLAS thread: a vector scan then takes one core, so hybrid's full-text stage runs beside it
# and concurrent searches do not fight over cores (measured in docs/benchmarks-history.md).
threadpool_limits(limits=1, user_api="blas")

SEMANTIC, HYBRID, FULL_TEXT = 0, 1, 20
STRATEGY_NAMES = {SEMANTIC: "semantic", HYBRID: "hybrid", FULL_TEXT: "full_text"}
RRF_K = 60
BM25_HALF = 5.0
COMMON_SHARE, COMMON_FLOOR = 0.05, 500  # a word in more slices than this is left out of queries
FILTER_OPS = ("eq", "ne", "gt", "ge", "lt", "le", "contains")


@dataclasses.dataclass
class Hit:
    slice: Slice
    document: Document
    dataset: Dataset
    score: float
    scores: dict  # stage -> score (full_text, vector, fused, rerank)
    ranks: dict  # stage -> 1-based rank in that stage


@dataclasses.dataclass
class Result:
    hits: list[Hit]
    strategy: int  # the strategy that ran
    available: list[int]
    words: list[str]
    timings_ms: dict


def available_strategies() -> list[int]:
    """Full-text always; semantic and hybrid once an embedding model is configured."""
    return [FULL_TEXT, SEMANTIC, HYBRID] if embeddings.embedding_model() is not None else [FULL_TEXT]


def _full_text_score(raw: float) -> float:
    if isinstance(db.obj, SqliteDatabase):
        return raw / (raw + BM25_HALF)
    return raw  # ts_rank(..., 33) is already rank / (rank + 1)


def _matches(cell: str, op: str, value) -> bool:
    if op == "contains":
        return str(value).lower() in cell.lower()
    try:
        left, right = float(cell), float(value)
    except (TypeError, ValueError):
        left, right = cell, str(value)
    return (
        {"eq": left == right, "ne": left != right}.get(op)
        if op in ("eq", "ne")
        else (
            cell != ""
            and type(left) is type(right)
            and {"gt": left > right, "ge": left >= right, "lt": left < right, "le": left <= right}[op]
        )
    )


def _row_filter(datasets: list[Dataset], filters: list[dict]):
    """A predicate over slices for table filters; each filter names a column by name or id."""
    if not filters:
        return None
    if any(d.format_type != FORMAT_TABLE for d in datasets):
        raise errors.KNOWLEDGE_INVALID_PARAM("filters: column filters apply to table knowledge bases only")

    def keep(piece: Slice, document: Document) -> bool:
        columns = {c["column_name"]: str(c["id"]) for c in document.table_meta}
        row = piece.meta.get("row", {})
        for item in filters:
            column = columns.get(item["column"], item["column"])
            if column not in row or not _matches(row[column], item.get("op", "eq"), item.get("value")):
                return False
        return True

    return keep


def retrieve(
    datasets: list[Dataset],
    query: str,
    *,
    strategy: int = FULL_TEXT,
    top_k: int = 5,
    min_score: float = 0.0,
    filters: list[dict] | None = None,
    strict: bool = False,
    count_hits: bool = True,
    use_rerank: bool = False,
) -> Result:
    """The best slices for `query`. A strategy that needs an embedding model falls back to
    full-text unless `strict` (the retrieval test asks for exactly what it names); so does a
    rerank without a rerank model."""
    started = time.perf_counter()
    available = available_strategies()
    if strategy not in available:
        if strict:
            raise errors.RETRIEVAL_UNAVAILABLE(
                f"search_strategy {strategy} ({STRATEGY_NAMES.get(strategy, '?')}) needs an embedding model, "
                f"and none is configured; available: {', '.join(map(str, available))}"
            )
        strategy = FULL_TEXT
    reranker = embeddings.rerank_model() if use_rerank else None
    if use_rerank and reranker is None and strict:
        raise errors.RETRIEVAL_UNAVAILABLE("use_rerank: no rerank model is configured")
    keep = _row_filter(datasets, filters or [])
    by_id = {d.id: d for d in datasets}
    timings: dict[str, float] = {}
    candidates = max(top_k * 4, 20) if keep is None else 1000
    lists: dict[str, list[tuple[int, float]]] = {}
    words = _discriminating(textsearch.query_words(query))
    semantic = None
    if strategy in (SEMANTIC, HYBRID) and query.strip():
        # on its own thread: numpy and SQLite both release the GIL, so the two stages overlap
        semantic = _pool().submit(_semantic, list(by_id), query, candidates, timings)
    if strategy in (FULL_TEXT, HYBRID):
        stage = time.perf_counter()
        lists["full_text"] = [
            (i, _full_text_score(raw)) for i, raw in FullTextIndex.search(list(by_id), words, candidates)
        ]
        timings["full_text"] = (time.perf_counter() - stage) * 1000
    if semantic is not None:
        lists["vector"] = semantic.result()
    scored = _fuse(lists, strategy)
    if keep is not None and not words and not lists.get("vector"):  # a pure filter query: rows in order
        scored = [
            (s, {}, {})
            for (s,) in Slice.select(Slice.id)
            .where(Slice.dataset.in_(list(by_id)), Slice.status != SLICE_DISABLED)
            .order_by(Slice.document, Slice.sequence)
            .limit(10_000)
            .tuples()
        ]
    stage = time.perf_counter()
    wanted = max(top_k * 3, 20) if reranker is not None else top_k
    hits = _load(scored, by_id, keep, strategy, wanted)
    timings["load"] = (time.perf_counter() - stage) * 1000
    if reranker is not None and hits and query.strip():
        stage = time.perf_counter()
        hits = _rerank(reranker, query, hits[: max(top_k * 3, 20)])
        timings["rerank"] = (time.perf_counter() - stage) * 1000
    hits = [h for h in hits if h.score >= min_score][:top_k]
    if count_hits and hits:
        _count(hits)
    timings["total"] = (time.perf_counter() - started) * 1000
    return Result(
        hits=hits,
        strategy=strategy,
        available=available,
        words=words,
        timings_ms={k: round(v, 3) for k, v in timings.items()},
    )


def _discriminating(words: list[str]) -> list[str]:
    """The query's words without those that most slices contain: BM25 gives them almost no
    weight, yet each drags its whole posting list into the ranking (at 100,000 slices, one common
    word makes an OR query ten times slower). If every word is common, the two rarest stay."""
    if len(words) <= 1:
        return words
    frequencies = FullTextIndex.document_frequencies(words)
    if not frequencies:
        return words
    limit = max(COMMON_FLOOR, COMMON_SHARE * sum(FullTextIndex.sizes().values()))
    kept = [w for w in words if frequencies.get(w, 0) <= limit]
    return kept or sorted(words, key=lambda w: frequencies.get(w, 0))[:2]


_executor: ThreadPoolExecutor | None = None


def _pool() -> ThreadPoolExecutor:
    global _executor
    if _executor is None:
        _executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="vector-search")
    return _executor


def _semantic(dataset_ids: list[int], query: str, candidates: int, timings: dict) -> list[tuple[int, float]]:
    stage = time.perf_counter()
    model = embeddings.embedding_model()
    vector = _embed_query(model, query)
    timings["embed"] = (time.perf_counter() - stage) * 1000
    stage = time.perf_counter()
    found = [
        (i, max(0.0, score)) for i, score in VectorIndex.search(dataset_ids, model.id, vector, candidates)
    ]
    timings["vector"] = (time.perf_counter() - stage) * 1000
    return found


def _embed_query(model, query: str):
    try:
        return embeddings.embed(model, [query])[0]
    except embeddings.EmbeddingError as exc:
        raise errors.KNOWLEDGE_EMBEDDING_FAILED(f"embedding the query failed: {exc}")


def _fuse(lists: dict[str, list[tuple[int, float]]], strategy: int) -> list[tuple[int, dict, dict]]:
    """Candidates with their score and rank per stage, best first by the strategy's score:
    reciprocal rank fusion for hybrid, normalised so that first in every list scores 1."""
    scores: dict[int, dict] = {}
    ranks: dict[int, dict] = {}
    for stage, items in lists.items():
        for rank, (slice_id, score) in enumerate(items, start=1):
            scores.setdefault(slice_id, {})[stage] = score
            ranks.setdefault(slice_id, {})[stage] = rank
    if strategy == HYBRID:
        best = sum(1 / (RRF_K + 1) for _ in lists) or 1
        for slice_id, stage_ranks in ranks.items():
            scores[slice_id]["fused"] = sum(1 / (RRF_K + r) for r in stage_ranks.values()) / best
        key = "fused"
    else:
        key = "full_text" if strategy == FULL_TEXT else "vector"
    order = sorted(scores, key=lambda i: -scores[i].get(key, 0.0))
    if strategy == HYBRID:
        for rank, slice_id in enumerate(order, start=1):
            ranks[slice_id]["fused"] = rank
    return [(i, scores[i], ranks[i]) for i in order]


def _rerank(model, query: str, hits: list[Hit]) -> list[Hit]:
    try:
        relevance = embeddings.rerank(model, query, [h.slice.content for h in hits])
    except embeddings.EmbeddingError as exc:
        raise errors.KNOWLEDGE_EMBEDDING_FAILED(f"reranking failed: {exc}")
    for hit, score in zip(hits, relevance):
        hit.scores["rerank"] = max(0.0, min(1.0, score))
        hit.score = hit.scores["rerank"]
    hits.sort(key=lambda h: -h.score)
    for rank, hit in enumerate(hits, start=1):
        hit.ranks["rerank"] = rank
    return hits


def _load(scored, by_id: dict, keep, strategy: int, wanted: int) -> list[Hit]:
    """The candidates' rows, best first, until `wanted` usable hits are found: disabled slices and
    documents, and rows the column filters refuse, are passed over. Candidates are read in
    batches of twice what is still wanted, since most are usable."""
    key = {FULL_TEXT: "full_text", SEMANTIC: "vector", HYBRID: "fused"}[strategy]
    hits: list[Hit] = []
    position = 0
    while position < len(scored) and len(hits) < wanted:
        batch = (
            scored[position : position + max(2 * (wanted - len(hits)), 10)]
            if keep is None
            else scored[position:]
        )
        position += len(batch)
        ids = [s for s, _, _ in batch]
        slices = {s.id: s for s in Slice.select().where(Slice.id.in_(ids), Slice.status != SLICE_DISABLED)}
        documents = {
            d.id: d
            for d in Document.select().where(
                Document.id.in_({s.document_id for s in slices.values()}), Document.status == DOC_ENABLED
            )
        }
        for slice_id, scores, ranks in batch:
            piece = slices.get(slice_id)
            document = documents.get(piece.document_id) if piece else None
            if document is None or (keep is not None and not keep(piece, document)):
                continue
            hits.append(
                Hit(
                    slice=piece,
                    document=document,
                    dataset=by_id[piece.dataset_id],
                    score=scores.get(key, 1.0),
                    scores=scores,
                    ranks=ranks,
                )
            )
    return hits


def _count(hits: list[Hit]) -> None:
    """Hit counters are bumped by the task queue: a search never waits for the write lock."""
    count_hits_task([h.slice.id for h in hits], [h.document.id for h in hits])


@queue.task(retries=2, retry_delay=1)
def count_hits_task(slice_ids: list[int], document_ids: list[int]) -> None:
    with write_transaction():
        Slice.update(hit_count=Slice.hit_count + 1).where(Slice.id.in_(slice_ids)).execute()
        for document_id in set(document_ids):
            Document.update(hit_count=Document.hit_count + 1).where(Document.id == document_id).execute()
