"""Knowledge bases (datasets), their documents and slices (chunks), and the full-text index of
the slices: SQLite FTS5 or a PostgreSQL tsvector table, behind one interface."""

from __future__ import annotations

import sqlite3
import threading
import time

import numpy as np
from peewee import (
    BigIntegerField,
    BlobField,
    CharField,
    ForeignKeyField,
    IntegerField,
    Model,
    SqliteDatabase,
    TextField,
    fn,
)

from models import vector_lists
from models.base import BaseModel, JsonField
from models.db import db
from models.files import StoredFile
from models.identity import Space, User

FORMAT_TEXT, FORMAT_TABLE, FORMAT_IMAGE = 0, 1, 2

DATASET_READY = 1

DOC_PROCESSING, DOC_ENABLED, DOC_DISABLED, DOC_RESEGMENTING, DOC_FAILED = 0, 1, 2, 4, 9
SOURCE_LOCAL_FILE, SOURCE_WEB, SOURCE_CUSTOM = 0, 1, 2

SLICE_INDEXED, SLICE_DISABLED = 1, 9


class Dataset(BaseModel):
    space = ForeignKeyField(Space, backref="datasets", on_delete="CASCADE")
    creator = ForeignKeyField(User, on_delete="CASCADE")
    name = CharField(max_length=100)
    description = TextField(default="")
    icon_uri = CharField(max_length=255, default="")
    format_type = IntegerField(default=FORMAT_TEXT)
    status = IntegerField(default=DATASET_READY)
    chunk_strategy = JsonField(default=dict)  # the strategy later documents reuse
    project_id = BigIntegerField(null=True)
    vector_version = BigIntegerField(default=0)  # bumped when its vectors change (caches reload)

    class Meta:
        table_name = "kb_dataset"
        indexes = ((("space", "name"), True),)


class Document(BaseModel):
    dataset = ForeignKeyField(Dataset, backref="documents", on_delete="CASCADE")
    creator = ForeignKeyField(User, on_delete="CASCADE")
    name = CharField(max_length=255)
    file = ForeignKeyField(StoredFile, null=True, on_delete="SET NULL")
    source_type = IntegerField(default=SOURCE_LOCAL_FILE)
    web_url = TextField(default="")
    file_type = CharField(max_length=20, default="")
    size = BigIntegerField(default=0)
    char_count = BigIntegerField(default=0)
    slice_count = IntegerField(default=0)
    hit_count = IntegerField(default=0)
    status = IntegerField(default=DOC_PROCESSING)
    status_reason = TextField(default="")
    progress = IntegerField(default=0)
    chunk_strategy = JsonField(default=dict)
    parsing_strategy = JsonField(default=dict)
    table_meta = JsonField(default=list)
    caption = TextField(default="")
    update_rule = JsonField(default=dict)  # web documents: update_type, update_interval (hours)
    worker_id = BigIntegerField(null=True)  # the WorkerInstance processing it (None: queued)
    attempts = IntegerField(default=0)  # processing runs started, crashes included

    class Meta:
        table_name = "kb_document"
        indexes = ((("dataset", "status"), False),)


class Slice(BaseModel):
    document = ForeignKeyField(Document, backref="slices", on_delete="CASCADE")
    dataset = ForeignKeyField(Dataset, on_delete="CASCADE")
    sequence = IntegerField()  # 1-based position in the document
    content = TextField()
    status = IntegerField(default=SLICE_INDEXED)
    char_count = IntegerField(default=0)
    hit_count = IntegerField(default=0)
    meta = JsonField(default=dict)  # heading_path, page, row (table cells by column id)

    class Meta:
        table_name = "kb_slice"
        indexes = ((("document", "sequence"), False),)


class FullTextIndex:
    """The searchable text of enabled slices, by slice id, scoped by dataset.

    SQLite: an FTS5 table whose `scope` column holds the dataset as a token, so a search within
    some datasets intersects posting lists instead of filtering after ranking. PostgreSQL: a
    table with a tsvector column under a GIN index. Callers pass text already segmented into
    space-separated words (Chinese needs that; see services/textsearch.py)."""

    @staticmethod
    def _sqlite() -> bool:
        return isinstance(db.obj, SqliteDatabase)

    @classmethod
    def add(cls, rows: list[tuple[int, int, str]]) -> None:
        """Index (slice id, dataset id, segmented text) rows, replacing earlier text."""
        if not rows:
            return
        with db.atomic():  # one transaction; PostgreSQL's raw cursor needs one to commit
            cls.remove([r[0] for r in rows])
            if cls._sqlite():
                db.obj.cursor().executemany(
                    "INSERT INTO kb_slice_fts(rowid, body, scope) VALUES (?, ?, ?)",
                    [(sid, text, f"d{dataset}") for sid, dataset, text in rows],
                )
            else:
                db.obj.cursor().executemany(
                    "INSERT INTO kb_slice_tsv(slice_id, dataset_id, body) "
                    "VALUES (%s, %s, to_tsvector('english', %s))",
                    rows,
                )

    @classmethod
    def remove(cls, slice_ids: list[int]) -> None:
        for start in range(0, len(slice_ids), 500):
            part = slice_ids[start : start + 500]
            marks = ", ".join([db.obj.param] * len(part))
            table, key = ("kb_slice_fts", "rowid") if cls._sqlite() else ("kb_slice_tsv", "slice_id")
            db.execute_sql(f"DELETE FROM {table} WHERE {key} IN ({marks})", part)

    @classmethod
    def remove_datasets(cls, dataset_ids: list[int]) -> None:
        """SQLite only: FTS5 rows have no foreign key, while PostgreSQL's cascade with the slices."""
        if cls._sqlite():
            for dataset in dataset_ids:
                db.execute_sql("DELETE FROM kb_slice_fts WHERE scope MATCH ?", (f"d{dataset}",))

    _frequencies: dict[str, tuple[float, int]] = {}
    FREQUENCY_TTL, FREQUENCY_CACHE = 60.0, 50_000

    @classmethod
    def document_frequencies(cls, words: list[str]) -> dict[str, int]:
        """How many indexed slices hold each word's term, its porter stem (SQLite; empty on
        PostgreSQL). FTS5's
        vocabulary table seeks a term for = (it scans for IN), but counting reads the term's
        whole posting list, so the common words, the costly ones, are remembered for a minute."""
        if not cls._sqlite():
            return {}
        found, now = {}, time.monotonic()
        stems = None
        for word in words:
            cached = cls._frequencies.get(word)
            if cached is not None and now - cached[0] < cls.FREQUENCY_TTL:
                found[word] = cached[1]
                continue
            stems = stems or _fts_terms(words)
            row = (
                db.execute_sql("SELECT doc FROM kb_slice_fts_vocab WHERE term = ?", (stems[word],)).fetchone()
                if stems[word]
                else None
            )
            found[word] = row[0] if row else 0
            if len(cls._frequencies) >= cls.FREQUENCY_CACHE:
                cls._frequencies.clear()
            cls._frequencies[word] = (now, found[word])
        return found

    _sizes: tuple[float, dict[int, int]] = (float("-inf"), {})
    SIZES_TTL = 30.0
    UNSCOPED_SHARE = 1 / 3

    @classmethod
    def sizes(cls) -> dict[int, int]:
        """Slices per knowledge base (from their documents' counts), remembered for half a minute."""
        checked, sizes = cls._sizes
        if time.monotonic() - checked > cls.SIZES_TTL:
            sizes = {
                d: int(n or 0)
                for d, n in Document.select(Document.dataset, fn.SUM(Document.slice_count))
                .group_by(Document.dataset)
                .tuples()
            }
            cls._sizes = (time.monotonic(), sizes)
        return sizes

    @classmethod
    def search(cls, dataset_ids: list[int], words: list[str], limit: int) -> list[tuple[int, float]]:
        """(slice id, score) of the best matches for any of `words`, best first; the score is
        BM25 (SQLite) or ts_rank, length-normalised and mapped to rank/(rank+1) (PostgreSQL); higher
        is better."""
        if not words or not dataset_ids:
            return []
        if cls._sqlite():
            terms = " OR ".join('"' + w.replace('"', '""') + '"' for w in words)
            sizes = cls.sizes()
            if sum(sizes.get(d, 0) for d in dataset_ids) >= cls.UNSCOPED_SHARE * sum(sizes.values()):
                # Knowledge bases holding much of the index: ranking every match and dropping the
                # others' rows by primary key costs less than intersecting with their long scope
                # posting lists, which BM25 then also walks (19 ms against 7 at 100,000 slices).
                marks = ", ".join("?" * len(dataset_ids))
                rows = db.execute_sql(
                    "SELECT f.rowid, -bm25(kb_slice_fts, 1.0, 0.0) FROM kb_slice_fts f "
                    "JOIN kb_slice s ON s.id = f.rowid WHERE kb_slice_fts MATCH ? "
                    f"AND s.dataset_id IN ({marks}) "
                    "ORDER BY rank LIMIT ?",
                    (f"body:({terms})", *dataset_ids, limit),
                ).fetchall()
            else:
                scopes = " OR ".join(f"d{d}" for d in dataset_ids)
                rows = db.execute_sql(
                    "SELECT rowid, -bm25(kb_slice_fts, 1.0, 0.0) FROM kb_slice_fts "
                    "WHERE kb_slice_fts MATCH ? ORDER BY rank LIMIT ?",
                    (f"body:({terms}) AND scope:({scopes})", limit),
                ).fetchall()
        else:
            query = " | ".join("'" + w.replace("'", "''").replace("\\", "") + "'" for w in words)
            marks = ", ".join(["%s"] * len(dataset_ids))
            rows = db.execute_sql(
                "SELECT slice_id, ts_rank(body, q, 33) AS score "
                "FROM kb_slice_tsv, to_tsquery('english', %s) q "
                f"WHERE dataset_id IN ({marks}) AND body @@ q ORDER BY score DESC LIMIT %s",
                [query, *dataset_ids, limit],
            ).fetchall()
        return [(int(r[0]), float(r[1])) for r in rows]


# The tokenizer of kb_slice_fts (migration 0007), on a private in-memory table: it tells which term
# FTS5 stores for a word ("policies" is "polici"), for lookups in the vocabulary table.
_TOKENIZER = "porter unicode61 remove_diacritics 2"
_terms_db: sqlite3.Connection | None = None
_terms_lock = threading.Lock()


def _fts_terms(words: list[str]) -> dict[str, str | None]:
    """Each word's term as kb_slice_fts indexes it; None for a word that makes no term or several
    (a phrase such as "e-mail" is rarer than its terms, so no single count stands for it)."""
    global _terms_db
    with _terms_lock:
        if _terms_db is None:
            _terms_db = sqlite3.connect(":memory:", check_same_thread=False)
            _terms_db.execute(f"CREATE VIRTUAL TABLE words USING fts5(body, tokenize = '{_TOKENIZER}')")
            _terms_db.execute("CREATE VIRTUAL TABLE terms USING fts5vocab(words, 'instance')")
        _terms_db.execute("DELETE FROM words")
        _terms_db.executemany("INSERT INTO words(rowid, body) VALUES (?, ?)", enumerate(words))
        rows = _terms_db.execute("SELECT doc, min(term), count(*) FROM terms GROUP BY doc").fetchall()
    single = {doc: term for doc, term, count in rows if count == 1}
    return {word: single.get(index) for index, word in enumerate(words)}


class SliceVector(Model):
    """One slice's embedding (float32, unit length) by the model that made it."""

    slice = ForeignKeyField(Slice, primary_key=True, on_delete="CASCADE")
    dataset_id = BigIntegerField(index=True)
    model_id = BigIntegerField()
    vector = BlobField()

    class Meta:
        database = db
        table_name = "kb_slice_vector"


class VectorIndex:
    """Cosine search over a knowledge base's slice vectors.

    Neither sqlite-vec (this Python's sqlite3 cannot load extensions) nor pgvector (not packaged
    for this Debian) is available, so vectors live in a plain table on both databases and each
    process keeps a float32 matrix per knowledge base and model, reloaded when the knowledge
    base's `vector_version` moves (docs/decisions.md). Small matrices are scanned whole; from
    vector_lists.MIN_ROWS rows on, a background thread builds IVF lists (faiss) beside the
    matrix, and searches read only the lists nearest the query once those of the current
    version are ready."""

    _cache: dict[tuple[int, int], tuple[int, np.ndarray, np.ndarray]] = {}
    _listed: dict[tuple[int, int], tuple[int, vector_lists.ListedMatrix]] = {}
    _trained: dict[tuple[int, int], object] = {}  # empty faiss indexes whose centroids are learnt
    _building: set[tuple[int, int]] = set()
    _lock = threading.Lock()

    @classmethod
    def add(cls, rows: list[tuple[int, int, int, np.ndarray]]) -> None:
        """(slice id, dataset id, model id, vector) rows, replacing earlier vectors."""
        if not rows:
            return
        with db.atomic():
            ids = [r[0] for r in rows]
            for start in range(0, len(ids), 500):
                SliceVector.delete().where(SliceVector.slice.in_(ids[start : start + 500])).execute()
            for start in range(0, len(rows), 500):
                SliceVector.insert_many(
                    [
                        (s, d, m, np.asarray(v, dtype=np.float32).tobytes())
                        for s, d, m, v in rows[start : start + 500]
                    ],
                    fields=[
                        SliceVector.slice,
                        SliceVector.dataset_id,
                        SliceVector.model_id,
                        SliceVector.vector,
                    ],
                ).execute()
            cls.touch({r[1] for r in rows})

    @staticmethod
    def touch(dataset_ids) -> None:
        """Mark knowledge bases' vectors as changed (call in the transaction that changed them)."""
        if dataset_ids:
            Dataset.update(vector_version=Dataset.vector_version + 1).where(
                Dataset.id.in_(list(dataset_ids))
            ).execute()

    @classmethod
    def _matrix(cls, key: tuple[int, int], version: int) -> tuple[np.ndarray, np.ndarray]:
        cached = cls._cache.get(key)
        if cached is not None and cached[0] == version:
            return cached[1], cached[2]
        rows = db.execute_sql(
            "SELECT slice_id, vector FROM kb_slice_vector WHERE dataset_id = "
            f"{db.obj.param} AND model_id = {db.obj.param}",
            key,
        ).fetchall()
        ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        blob = b"".join(bytes(r[1]) for r in rows)
        matrix = (
            np.frombuffer(blob, dtype=np.float32).reshape(len(rows), -1)
            if rows
            else np.zeros((0, 1), np.float32)
        )
        with cls._lock:
            cls._cache[key] = (version, ids, matrix)
        return ids, matrix

    @classmethod
    def _lists(
        cls, key: tuple[int, int], version: int, ids: np.ndarray, matrix: np.ndarray
    ) -> vector_lists.ListedMatrix | None:
        """The IVF lists of this version of the matrix, or None while they are being built."""
        listed = cls._listed.get(key)
        if listed is not None and listed[0] == version:
            return listed[1]
        with cls._lock:
            if key in cls._building:
                return None
            cls._building.add(key)
        threading.Thread(
            target=cls._build_lists, args=(key, version, ids, matrix), daemon=True, name="vector-lists"
        ).start()
        return None

    @classmethod
    def _build_lists(cls, key, version: int, ids: np.ndarray, matrix: np.ndarray) -> None:
        try:
            trained = cls._trained.get(key)
            if not vector_lists.still_fits(trained, len(ids)):
                trained = vector_lists.train(matrix, vector_lists.list_count(len(ids)))
            listed = vector_lists.build(ids, matrix, trained)
            with cls._lock:
                cls._trained[key] = trained
                cls._listed[key] = (version, listed)
        finally:
            with cls._lock:
                cls._building.discard(key)

    @classmethod
    def search(
        cls, dataset_ids: list[int], model_id: int, query: np.ndarray, limit: int, exact: bool = False
    ) -> list[tuple[int, float]]:
        """(slice id, cosine similarity) of the nearest slices, best first; `exact` scans every
        row even where lists are ready (to measure their recall)."""
        versions = dict(
            Dataset.select(Dataset.id, Dataset.vector_version).where(Dataset.id.in_(dataset_ids)).tuples()
        )
        found_ids, found_scores = [], []
        for dataset_id, version in versions.items():
            key = (dataset_id, model_id)
            ids, matrix = cls._matrix(key, version)
            if not len(ids) or matrix.shape[1] != query.shape[0]:
                continue
            listed = cls._lists(key, version, ids, matrix) if len(ids) >= vector_lists.MIN_ROWS else None
            if listed is not None and not exact:
                ids, scores = listed.search(query, limit)
            else:
                scores = matrix @ query
                take = min(limit, len(ids))
                best = np.argpartition(-scores, take - 1)[:take]
                ids, scores = ids[best], scores[best]
            found_ids.append(ids)
            found_scores.append(scores)
        if not found_ids:
            return []
        ids, scores = np.concatenate(found_ids), np.concatenate(found_scores)
        order = np.argsort(-scores)[:limit]
        return [(int(ids[i]), float(scores[i])) for i in order]
