"""Vector search over knowledge slices: per knowledge base matrices memory-mapped from files in
the data directory (small ones in memory), IVF lists beside the large ones (services/vector_lists.py),
on disk too."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import numpy as np
from peewee import SqliteDatabase

from core.fs import private_dir
from core.settings import get_settings
from models.db import db
from models.knowledge import Dataset, SliceVector
from services import vector_lists

# A smaller matrix (under 1.5 MB at 384 dimensions) stays in memory, read from the rows: files
# for it would be two writes on every edit, for memory that does not matter.
MAPPED_FROM_ROWS = 1_000


def _files(key: tuple[int, int]) -> Path:
    return private_dir(get_settings().data_dir / "vectors") / f"{key[0]}-{key[1]}"


def _write(path: Path, write) -> None:
    """`write(path)` to a file of its own first: readers see the whole file or none of it."""
    # hidden from _drop_other_versions; the suffix kept, as np.save adds ".npy" to a name without
    partial = path.with_name(f".{path.stem}.{os.getpid()}.{threading.get_ident()}{path.suffix}")
    try:
        write(partial)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    partial.replace(path)


class _RowsChanged(Exception):
    """The rows counted are not the rows read (a write came between the two statements)."""


_ROWS = "FROM kb_slice_vector WHERE dataset_id = {p} AND model_id = {p}"
BATCH_ROWS = 2048


def _row_batches(key: tuple[int, int]):
    """The (slice_id, vector) rows of a knowledge base and model, a batch at a time: fetched at
    once, 100,000 rows of 384 dimensions left some 180 MB in the reading process's heap."""
    select = "SELECT slice_id, vector " + _ROWS.format(p=db.obj.param)
    if isinstance(db.obj, SqliteDatabase):  # its cursor steps through the rows as they are fetched
        cursor = db.execute_sql(select, key)
        while batch := cursor.fetchmany(BATCH_ROWS):
            yield batch
        return
    # psycopg2's cursor would fetch every row first; a server-side cursor hands them out in batches
    db.execute_sql("DECLARE vector_rows NO SCROLL CURSOR FOR " + select, key)
    try:
        while batch := db.execute_sql(f"FETCH {BATCH_ROWS} FROM vector_rows").fetchall():
            yield batch
    finally:
        db.execute_sql("CLOSE vector_rows")


def _drop_other_versions(key: tuple[int, int], version: int) -> None:
    stem = _files(key)
    for old in stem.parent.glob(f"{stem.name}-v*"):
        if not old.name.startswith(f"{stem.name}-v{version}."):
            old.unlink(missing_ok=True)  # a process still mapping it keeps its pages until it lets go


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
        """The ids and vectors of a version, memory-mapped: the pages are the file's, shared by
        the processes that search it and given back by the kernel when memory is short, so a
        large knowledge base does not grow any process's own memory."""
        cached = cls._cache.get(key)
        if cached is not None and cached[0] == version:
            return cached[1], cached[2]
        stem = _files(key)
        ids_path, matrix_path = Path(f"{stem}-v{version}.ids.npy"), Path(f"{stem}-v{version}.f32.npy")
        found = ids_path.exists() and matrix_path.exists()
        if found or cls._write_files(key, ids_path, matrix_path):
            ids = np.load(ids_path, mmap_mode="r", allow_pickle=False)
            matrix = np.load(matrix_path, mmap_mode="r", allow_pickle=False)
        else:  # a small one, or one that changed while it was read (its next version is mapped)
            ids, matrix = cls._read_rows(key)
        if not found:
            _drop_other_versions(key, version)
        with cls._lock:
            cls._cache[key] = (version, ids, matrix)
        return ids, matrix

    @staticmethod
    def _write_files(key: tuple[int, int], ids_path: Path, matrix_path: Path) -> bool:
        """Write a large knowledge base's rows to its version's files, a batch at a time, so that
        the whole matrix is never in this process's memory; False for a small one, or when the
        rows changed between being counted and being read."""
        with db.atomic():  # one snapshot for the count and the rows, where the database gives one
            count, longest, shortest = db.execute_sql(
                "SELECT COUNT(*), MAX(LENGTH(vector)), MIN(LENGTH(vector)) " + _ROWS.format(p=db.obj.param),
                key,
            ).fetchone()
            if count < MAPPED_FROM_ROWS or longest != shortest:
                return False
            dimensions = longest // 4
            ids = np.empty(count, np.int64)

            def fill(path: Path) -> None:
                matrix = np.lib.format.open_memmap(path, "w+", np.float32, (count, dimensions))
                at = 0
                for batch in _row_batches(key):  # read to the end: the cursor closes there
                    end = at + len(batch)
                    if end <= count:
                        ids[at:end] = [row[0] for row in batch]
                        vectors = np.frombuffer(b"".join(bytes(row[1]) for row in batch), np.float32)
                        matrix[at:end] = vectors.reshape(len(batch), dimensions)
                    at = end
                if at != count:
                    raise _RowsChanged
                matrix.flush()

            try:
                _write(matrix_path, fill)
            except _RowsChanged:
                return False
        _write(ids_path, lambda path: np.save(path, ids, allow_pickle=False))
        return True

    @staticmethod
    def _read_rows(key: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
        rows = db.execute_sql("SELECT slice_id, vector " + _ROWS.format(p=db.obj.param), key).fetchall()
        ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        blob = b"".join(bytes(r[1]) for r in rows)
        matrix = (
            np.frombuffer(blob, dtype=np.float32).reshape(len(rows), -1)
            if rows
            else np.zeros((0, 1), np.float32)
        )
        return ids, matrix

    @classmethod
    def _lists(
        cls, key: tuple[int, int], version: int, ids: np.ndarray, matrix: np.ndarray
    ) -> vector_lists.ListedMatrix | None:
        """The IVF lists of this version of the matrix, or None while they are being built."""
        listed = cls._listed.get(key)
        if listed is not None and listed[0] == version:
            return listed[1]
        built = Path(f"{_files(key)}-v{version}.ivf")
        if built.exists():  # another process built them
            found = vector_lists.load(built)
            with cls._lock:
                cls._listed[key] = (version, found)
            return found
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
            built = Path(f"{_files(key)}-v{version}.ivf")
            _write(built, lambda path: vector_lists.save(vector_lists.build(ids, matrix, trained), path))
            listed = vector_lists.load(built)  # the lists built in memory are let go
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
