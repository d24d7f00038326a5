"""IVF lists over knowledge vectors: the nearest rows are found while reading a fraction of
them, searches stay exact until the lists of the current vectors are ready, and edits are seen
at once."""

from __future__ import annotations

import time

import numpy as np
from test_knowledge import add_and_wait, make_dataset, retrieve, slices_of, text_source
from test_local_embeddings import local_model  # noqa: F401  (fixture)

from models.knowledge import Dataset
from services import vector_lists, vectors
from services.vectors import VectorIndex


def clustered(groups: int, per_group: int, dimensions: int, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(groups, dimensions))
    rows = np.repeat(centres, per_group, axis=0) + 0.35 * rng.normal(size=(groups * per_group, dimensions))
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def probed_rows(listed: vector_lists.ListedMatrix, query: np.ndarray) -> int:
    """How many rows a search for `query` reads: the sizes of the lists nearest it."""
    _, lists = listed.index.quantizer.search(
        np.ascontiguousarray(query, dtype=np.float32)[None], listed.index.nprobe
    )
    return sum(listed.index.invlists.list_size(int(i)) for i in lists[0] if i >= 0)


def test_lists_find_the_nearest_rows_reading_a_fraction_of_them():
    matrix = clustered(groups=60, per_group=150, dimensions=48)
    ids = np.arange(len(matrix), dtype=np.int64) + 1000
    trained = vector_lists.train(matrix, vector_lists.list_count(len(matrix)))
    listed = vector_lists.build(ids, matrix, trained)
    assert (listed.index.nlist, listed.index.ntotal, listed.index.nprobe) == (94, len(matrix), 15)
    assert trained.ntotal == 0  # kept empty, to build the next version's lists with
    queries = clustered(groups=60, per_group=2, dimensions=48, seed=1)[::2]
    recalls, read = [], []
    for query in queries:
        exact = ids[np.argsort(-(matrix @ query))[:10]]
        found_ids, scores = listed.search(query, limit=10)
        assert list(scores) == sorted(scores, reverse=True)
        np.testing.assert_allclose(scores, np.sort(matrix[found_ids - 1000] @ query)[::-1], rtol=1e-5)
        recalls.append(len(set(exact.tolist()) & set(found_ids.tolist())) / 10)
        read.append(probed_rows(listed, query) / len(matrix))
    assert np.mean(recalls) >= 0.95, np.mean(recalls)
    assert max(read) < 0.3, max(read)


def test_centroids_are_kept_while_a_knowledge_base_keeps_its_size():
    trained = vector_lists.train(clustered(groups=10, per_group=100, dimensions=8), 100)
    assert vector_lists.still_fits(trained, 10_000)
    assert vector_lists.still_fits(trained, 30_000)
    assert not vector_lists.still_fits(trained, 50_000)
    assert not vector_lists.still_fits(trained, 2_000)
    assert not vector_lists.still_fits(None, 10_000)


TOPICS = [
    "Employees get twenty-five days of paid annual leave.",
    "Replace the printer cartridge when the light blinks.",
    "Visitors park their cars behind building C.",
    "The canteen serves lunch from noon until two.",
    "Expense reports are due by the fifth of each month.",
    "The wifi password changes every Monday.",
    "Fire drills take place twice a year.",
    "Laptops must be locked with a cable in the office.",
    "New hires meet their mentor in the first week.",
    "The gym on the ground floor opens at six.",
]


def wait_for_lists(dataset_id: str, model_id: int) -> None:
    key = (int(dataset_id), model_id)
    deadline = time.monotonic() + 20
    while True:
        version = Dataset.get_by_id(int(dataset_id)).vector_version
        listed = VectorIndex._listed.get(key)
        if listed is not None and listed[0] == version:
            return
        assert time.monotonic() < deadline, "the lists were never built"
        time.sleep(0.05)


def test_searches_use_the_lists_once_built_and_see_edits_at_once(alice, local_model, monkeypatch):  # noqa: F811
    monkeypatch.setattr(vector_lists, "MIN_ROWS", 10)
    monkeypatch.setattr(vector_lists, "PROBE_SHARE", 0.3)
    dataset_id = make_dataset(alice)
    (document,) = add_and_wait(
        alice,
        dataset_id,
        [text_source("handbook", "\n\n".join(TOPICS))],
        chunk_strategy={"chunk_type": 1, "separator": "\n\n", "max_tokens": 2000},
    )
    pieces = slices_of(alice, document["document_id"])
    assert len(pieces) == 10
    model_id = int(local_model["id"])

    question = "How much vacation time do staff get?"
    before = retrieve(alice, [dataset_id], question, search_strategy=0, top_k=1)  # exact; starts the build
    wait_for_lists(dataset_id, model_id)
    listed = VectorIndex._listed[(int(dataset_id), model_id)][1]
    assert (listed.index.nlist, listed.index.nprobe, listed.index.ntotal) == (3, 1, 10)
    first_row = VectorIndex._cache[(int(dataset_id), model_id)][2][0]
    assert probed_rows(listed, first_row) < 10  # a search through the lists reads only some of the rows
    after = retrieve(alice, [dataset_id], question, search_strategy=0, top_k=1)
    assert before["slices"][0]["slice_id"] == after["slices"][0]["slice_id"] == pieces[0]["slice_id"]

    edited = alice.post(
        "/api/knowledge/slice/update",
        {"slice_id": pieces[5]["slice_id"], "raw_text": "Submarines dive to the ocean floor."},
    )
    assert edited.status_code == 200, edited.text
    found = retrieve(alice, [dataset_id], "underwater vessels in the deep sea", search_strategy=0, top_k=1)
    assert found["slices"][0]["slice_id"] == pieces[5]["slice_id"]
    wait_for_lists(dataset_id, model_id)
    again = retrieve(alice, [dataset_id], "underwater vessels in the deep sea", search_strategy=0, top_k=1)
    assert again["slices"][0]["slice_id"] == pieces[5]["slice_id"]


def _handbook(alice, local_model) -> tuple[str, tuple[int, int]]:  # noqa: F811
    """A knowledge base of the TOPICS, one slice each: (its id, its vector index's key)."""
    dataset_id = make_dataset(alice)
    add_and_wait(
        alice,
        dataset_id,
        [text_source("handbook", "\n\n".join(TOPICS))],
        chunk_strategy={"chunk_type": 1, "separator": "\n\n", "max_tokens": 2000},
    )
    return dataset_id, (int(dataset_id), int(local_model["id"]))


def test_vectors_and_lists_are_files_mapped_into_memory_and_old_versions_go(
    alice,
    local_model,  # noqa: F811
    monkeypatch,
):
    """A large knowledge base grows no process's own memory: its matrix and lists are files in
    the data directory, memory-mapped; a process that finds them reads no rows from the
    database; an edit's new version replaces the old files."""
    from core.settings import get_settings
    from models.db import db

    monkeypatch.setattr(vector_lists, "MIN_ROWS", 10)
    monkeypatch.setattr(vectors, "MAPPED_FROM_ROWS", 10)
    dataset_id, key = _handbook(alice, local_model)
    retrieve(alice, [dataset_id], "paid leave", search_strategy=0, top_k=1)
    wait_for_lists(dataset_id, key[1])
    version = Dataset.get_by_id(key[0]).vector_version
    folder = get_settings().data_dir / "vectors"
    names = sorted(p.name for p in folder.glob(f"{key[0]}-{key[1]}-*"))
    assert names == [f"{key[0]}-{key[1]}-v{version}.{kind}" for kind in ("f32.npy", "ids.npy", "ivf")]
    _, _, matrix = VectorIndex._cache[key]
    assert isinstance(matrix, np.memmap) and matrix.shape[0] == 10

    # as a new process would: nothing cached, the files serve without a database read of the rows
    monkeypatch.setattr(VectorIndex, "_cache", {})
    monkeypatch.setattr(VectorIndex, "_listed", {})
    statements = []
    original = db.obj.execute_sql
    monkeypatch.setattr(
        db.obj, "execute_sql", lambda sql, *a, **k: statements.append(sql) or original(sql, *a, **k)
    )
    found = retrieve(alice, [dataset_id], "How much vacation time do staff get?", search_strategy=0, top_k=1)
    assert "vacation" in found["slices"][0]["content"] or "leave" in found["slices"][0]["content"]
    # the queue's backfill sweep may run its anti-join meanwhile; the rows' read is what must not happen
    assert not [s for s in statements if "SELECT slice_id, vector FROM kb_slice_vector" in s]
    assert VectorIndex._listed[key][0] == version  # the lists were read from their file, not built

    pieces = slices_of(alice, found["slices"][0]["document_id"])
    edited = alice.post(
        "/api/knowledge/slice/update", {"slice_id": pieces[1]["slice_id"], "raw_text": "Boats."}
    )
    assert edited.status_code == 200, edited.text
    retrieve(alice, [dataset_id], "boats", search_strategy=0, top_k=1)
    newer = Dataset.get_by_id(key[0]).vector_version
    assert newer > version
    assert {p.name.split("-v")[1].split(".")[0] for p in folder.glob(f"{key[0]}-{key[1]}-v*")} == {str(newer)}


def test_a_small_knowledge_base_stays_in_memory_without_files(alice, local_model):  # noqa: F811
    """Under vectors.MAPPED_FROM_ROWS rows, files would cost two writes per edit for memory that
    does not matter: the matrix is read from the rows and kept in memory."""
    from core.settings import get_settings

    dataset_id, key = _handbook(alice, local_model)
    found = retrieve(alice, [dataset_id], "How much vacation time do staff get?", search_strategy=0, top_k=1)
    assert "vacation" in found["slices"][0]["content"] or "leave" in found["slices"][0]["content"]
    _, ids, matrix = VectorIndex._cache[key]
    assert len(ids) == len(TOPICS) < vectors.MAPPED_FROM_ROWS and not isinstance(matrix, np.memmap)
    assert not list((get_settings().data_dir / "vectors").glob(f"{key[0]}-{key[1]}-*"))


def test_a_large_matrix_is_written_a_batch_at_a_time_and_not_when_rows_change_meanwhile(
    alice,
    local_model,  # noqa: F811
    monkeypatch,
):
    """The rows go to the file in batches (the whole matrix is never in memory); if the rows read
    are not the rows counted, no file is left, not even a partial one, and the rows serve from
    memory."""
    from core.settings import get_settings

    monkeypatch.setattr(vectors, "MAPPED_FROM_ROWS", 10)
    monkeypatch.setattr(vectors, "BATCH_ROWS", 3)
    dataset_id, key = _handbook(alice, local_model)
    version = Dataset.get_by_id(key[0]).vector_version
    expected_ids, expected = VectorIndex._read_rows(key)
    batches = []
    original = vectors._row_batches
    monkeypatch.setattr(vectors, "_row_batches", lambda k: (batches.append(len(b)) or b for b in original(k)))
    ids, matrix = VectorIndex._matrix(key, version)
    assert batches == [3, 3, 3, 1] and isinstance(matrix, np.memmap)
    assert ids.tolist() == expected_ids.tolist() and np.array_equal(np.asarray(matrix), expected)

    def one_more(k):
        yield from original(k)
        yield [(999, expected[0].tobytes())]  # a row inserted after the count

    monkeypatch.setattr(vectors, "_row_batches", one_more)
    monkeypatch.setattr(VectorIndex, "_cache", {})
    folder = get_settings().data_dir / "vectors"
    for path in folder.glob(f"*{key[0]}-{key[1]}-*"):
        path.unlink()
    ids, matrix = VectorIndex._matrix(key, version)
    assert not isinstance(matrix, np.memmap) and ids.tolist() == expected_ids.tolist()
    assert not list(folder.glob(f"*{key[0]}-{key[1]}-*"))
