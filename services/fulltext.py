"""The full-text index of knowledge slices: SQLite FTS5 or a PostgreSQL tsvector table, behind one
interface."""

from __future__ import annotations

import sqlite3
import threading
import time

from peewee import SqliteDatabase, fn

from models.db import db
from models.knowledge import Document


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
