"""An inverted-file (IVF) index over a knowledge base's vectors (faiss's IndexIVFFlat, inner
product on unit vectors): rows grouped by the nearest of about sqrt(n) centroids, so a search
reads the groups nearest the query instead of every row. An exact scan is memory-bound
(100,000 x 384 float32 is 150 MB a query); the groups nearest the query hold most of its
nearest rows, at a small share of the reading."""

from __future__ import annotations

import functools
import logging
import math
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import faiss

MIN_ROWS = 20_000  # below this an exact scan takes a few milliseconds: no lists
PROBE_SHARE = 0.15  # the share of the lists a search reads, nearest first (docs/decisions.md)
TRAIN_ROWS_PER_LIST = 50  # k-means learns from a sample this many times the number of lists


@functools.cache
def _faiss():
    """faiss, loaded when a knowledge base first grows lists (it adds 15 MB to a process)."""
    logging.getLogger("faiss.loader").setLevel(logging.WARNING)  # it reports each CPU variant it tries
    import faiss

    # One thread: a search runs beside the full-text stage on a two-core budget, and a build in
    # the background should not take the cores from searches (see services/retrieval.py on BLAS).
    faiss.omp_set_num_threads(1)
    return faiss


class ListedMatrix:
    def __init__(self, index: faiss.IndexIVFFlat):
        self.index = index

    def search(self, query: np.ndarray, limit: int) -> tuple[np.ndarray, np.ndarray]:
        """(ids, cosine similarities) of the nearest rows found, best first."""
        scores, ids = self.index.search(np.ascontiguousarray(query, dtype=np.float32)[None], limit)
        found = ids[0] >= 0
        return ids[0][found], scores[0][found]


def list_count(rows: int) -> int:
    return max(1, int(math.sqrt(rows)))


def train(matrix: np.ndarray, lists: int, seed: int = 0) -> faiss.IndexIVFFlat:
    """An empty index whose centroids k-means learnt from a sample of the rows."""
    rng = np.random.default_rng(seed)
    sample = matrix[rng.choice(len(matrix), min(len(matrix), lists * TRAIN_ROWS_PER_LIST), replace=False)]
    faiss = _faiss()
    index = faiss.IndexIVFFlat(
        faiss.IndexFlatIP(matrix.shape[1]), matrix.shape[1], lists, faiss.METRIC_INNER_PRODUCT
    )
    index.cp.seed = seed
    index.train(np.ascontiguousarray(sample, dtype=np.float32))
    return index


def build(ids: np.ndarray, matrix: np.ndarray, trained: faiss.IndexIVFFlat) -> ListedMatrix:
    index = _faiss().clone_index(trained)  # the trained one stays empty, for the next build
    index.add_with_ids(
        np.ascontiguousarray(matrix, dtype=np.float32), np.ascontiguousarray(ids, dtype=np.int64)
    )
    index.nprobe = max(1, math.ceil(PROBE_SHARE * index.nlist))
    return ListedMatrix(index)


def save(listed: ListedMatrix, path) -> None:
    _faiss().write_index(listed.index, str(path))


def load(path) -> ListedMatrix:
    """Lists read from their file, memory-mapped: searching them reads the pages it needs."""
    faiss = _faiss()
    index = faiss.read_index(str(path), faiss.IO_FLAG_MMAP | faiss.IO_FLAG_READ_ONLY)
    index.nprobe = max(1, math.ceil(PROBE_SHARE * index.nlist))
    return ListedMatrix(index)


def still_fits(trained: faiss.IndexIVFFlat | None, rows: int) -> bool:
    """Centroids learnt on a knowledge base stay in use while it keeps roughly its size."""
    return trained is not None and list_count(rows) / 2 <= trained.nlist <= list_count(rows) * 2
