"""Knowledge on SQLite: ingestion throughput (chunks per second, full-text only and with
embeddings) and retrieval latency (p50, p99) over N chunks, against a plain SQLite FTS5 query
over the same texts in the same run.

    python -m bench.knowledge [--chunks 100000] [--queries 300] [--local-sample 500]

The corpus is generated (seeded): paragraphs of words drawn from a 20,000-word vocabulary with
Zipf frequencies, 100 paragraphs a document, one paragraph a chunk. Embeddings come from a
local server answering the OpenAI embeddings API with 384-dimension hashed vectors, so the
figures are this server's cost, not a model's. Queries are four words of a random chunk.

Vector search is measured twice: scanning every row, then through IVF lists (built and timed
first), with the share of the exact scan's candidates the lists find. With the extra
`local-embeddings`, a sample of the corpus is also ingested with the local model, and the time
it takes to embed a query is measured."""

from __future__ import annotations

import argparse
import hashlib
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bench.harness import ROOT, free_port

DIMENSIONS = 384
CHUNKS_PER_DOCUMENT = 100


def vocabulary(size: int, rng: random.Random) -> list[str]:
    syllables = [c + v for c in "bcdfghjklmnprstvz" for v in "aeiou"] + ["tra", "qui", "stro", "wen", "lox"]
    words: set[str] = set()
    while len(words) < size:
        words.add("".join(rng.choice(syllables) for _ in range(rng.randint(2, 4))))
    return sorted(words)


def corpus(chunks: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    words = vocabulary(20_000, rng)
    weights = [1 / (rank + 1) for rank in range(len(words))]
    texts = []
    for _ in range(chunks):
        sentence = rng.choices(words, weights, k=rng.randint(50, 90))
        texts.append(" ".join(sentence).capitalize() + ".")
    return texts


def hashed_vectors(texts: list[str]) -> np.ndarray:
    out = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
    for row, text in enumerate(texts):
        for word in text.lower().split():
            digest = hashlib.blake2b(word.encode(), digest_size=4).digest()
            out[row, int.from_bytes(digest[:2], "little") % DIMENSIONS] += 1.0 if digest[2] & 1 else -1.0
    return out


class EmbeddingServer:
    """The OpenAI embeddings API on a loopback port, on a thread."""

    def __init__(self):
        async def embeddings(request: Request):
            payload = await request.json()
            vectors = hashed_vectors(payload["input"])
            rows = ",".join(
                f'{{"object":"embedding","index":{i},"embedding":[{",".join(map(str, v.tolist()))}]}}'
                for i, v in enumerate(vectors)
            )
            return Response(f'{{"object":"list","data":[{rows}]}}', media_type="application/json")

        self.port = free_port()
        config = uvicorn.Config(
            Starlette(routes=[Route("/v1/embeddings", embeddings, methods=["POST"])]),
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="off",
        )
        self.server = uvicorn.Server(config)
        threading.Thread(target=self.server.run, daemon=True).start()
        while not self.server.started:
            time.sleep(0.02)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def plain_fts5(path: Path, texts: list[str]) -> sqlite3.Connection:
    """The baseline: the same texts in a bare FTS5 table (default tokenizer), nothing else."""
    connection = sqlite3.connect(path)
    connection.execute("CREATE VIRTUAL TABLE plain USING fts5(body)")
    connection.executemany("INSERT INTO plain(rowid, body) VALUES (?, ?)", enumerate(texts, start=1))
    connection.commit()
    return connection


def open_data_dir(data_dir: Path):
    """Settings for the bench's SQLite data directory, in use, and its database bound."""
    from core.settings import Settings, use_settings
    from models.db import init_db

    settings = use_settings(
        Settings.from_env(
            {},
            data_dir=data_dir,
            database_url=f"sqlite:///{data_dir / 'bench.db'}",
            admin_email="bench@example.com",
            admin_password="bench-password-1",
            argon2_time_cost=1,
            argon2_memory_cost=1024,
            task_workers=0,
            log_level="WARNING",
            outbound_allow=("127.0.0.1",),
        ).with_secret()
    )  # the local embedding server
    init_db(settings.database_url)
    return settings


def prepare():
    """A fresh SQLite data directory, migrated, with the bench user: (directory, user, space)."""
    from models.db import migrate

    data_dir = Path(tempfile.mkdtemp(prefix="cozeplus-bench-knowledge-"))
    settings = open_data_dir(data_dir)
    migrate()
    from models.identity import User
    from services import accounts, tasks

    accounts.ensure_admin(settings)
    tasks.configure(settings)
    user = User.by_email("bench@example.com")
    return data_dir, user, user.personal_space()


def use_embeddings(base_url: str, model_name: str, dimensions: int, api_key: str = ""):
    """Register an embedding model behind an endpoint and make it the one knowledge uses."""
    return _use_model(
        {"model_name": model_name, "base_url": base_url, "api_key": api_key, "dimensions": dimensions}
    )


def use_local_embeddings(model_name: str = "all-MiniLM-L6-v2"):
    """The same with a model that runs in this process (the extra `local-embeddings`)."""
    return _use_model({"model_name": model_name, "protocol": "local"})


def _use_model(fields: dict):
    from services import embeddings, model_registry

    model = model_registry.create(name=f"bench {fields['model_name']}", kind="embedding", **fields)
    embeddings.save_config(embedding_model_id=str(model.id))
    return model


def memory() -> str:
    """This process's own memory (anonymous pages) and the file pages it maps, in MB: vectors
    are memory-mapped files, so they belong to the second (the kernel's to give back)."""
    status = dict(
        line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines() if ":" in line
    )
    anon, mapped = (int(status[k].split()[0]) / 1024 for k in ("RssAnon", "RssFile"))
    return f"own {anon:,.0f} MB, mapped files {mapped:,.0f} MB"


def a_process_that_finds_the_files(data_dir: Path, dataset_id: int, model_id: int, queries: int) -> None:
    """Run find_files in a new process: what another worker, or the server after a restart, holds."""
    done = subprocess.run(
        [sys.executable, "-m", "bench.knowledge", "--find-files", str(data_dir)]
        + ["--dataset", str(dataset_id), "--model", str(model_id), "--queries", str(queries)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    print(done.stdout.rstrip())


def find_files(data_dir: Path, dataset_id: int, model_id: int, queries: int) -> None:
    """Search the vectors another process wrote: this one maps their files and reads no rows."""
    open_data_dir(data_dir)
    from services.vectors import VectorIndex

    vectors = np.random.default_rng(3).standard_normal((queries, DIMENSIONS), dtype=np.float32)
    print(f"a second process, at start: {memory()}")
    for vector in vectors:
        VectorIndex.search([dataset_id], model_id, vector, 20, exact=True)
    print(f"a second process, after exact scans of every vector: {memory()}")
    for vector in vectors:
        VectorIndex.search([dataset_id], model_id, vector, 20)
    print(f"a second process, after searches through the IVF lists: {memory()}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--chunks", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--local-sample", type=int, default=500, help="chunks ingested with the local model")
    parser.add_argument("--find-files", type=Path, help=argparse.SUPPRESS)  # find_files, in a new process
    parser.add_argument("--dataset", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--model", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.find_files:
        return find_files(args.find_files, args.dataset, args.model, args.queries)

    data_dir, user, space = prepare()
    from models.knowledge import Dataset, Document, Slice
    from services import datasets, documents, embeddings, ingestion, local_models, retrieval

    texts = corpus(args.chunks)
    print(f"corpus: {len(texts)} chunks, {sum(map(len, texts)) / 1e6:.1f} MB of text")
    dataset = datasets.create_dataset(user, space.id, "bench")
    strategy = {"chunk_type": 1, "separator": "\n\n", "max_tokens": 5000, "overlap": 0}
    created = []
    for start in range(0, len(texts), CHUNKS_PER_DOCUMENT * 50):  # 50 documents a request
        bases = [
            {
                "name": f"doc{i}",
                "source_info": {"custom_content": "\n\n".join(texts[i : i + CHUNKS_PER_DOCUMENT])},
            }
            for i in range(start, min(start + CHUNKS_PER_DOCUMENT * 50, len(texts)), CHUNKS_PER_DOCUMENT)
        ]
        created += documents.create_documents(user, dataset.id, bases, chunk_strategy=strategy)
    started = time.perf_counter()
    for document in created:
        ingestion.process_document(document.id)
    full_text_seconds = time.perf_counter() - started
    stored = Slice.select().where(Slice.dataset == dataset.id).count()
    failed = Document.select().where(Document.dataset == dataset.id, Document.status != 1).count()
    assert stored == len(texts) and failed == 0, (stored, failed)
    print(
        f"ingestion, full-text only: {stored / full_text_seconds:,.0f} chunks/s ({full_text_seconds:.1f} s)"
    )

    server = EmbeddingServer()
    use_embeddings(server.base_url, "hashed-384", DIMENSIONS)
    started = time.perf_counter()
    embedded = ingestion.embed_missing(batch=512)
    embed_seconds = time.perf_counter() - started
    print(
        f"ingestion, embeddings added: {embedded / embed_seconds:,.0f} chunks/s ({embed_seconds:.1f} s); "
        f"together {stored / (full_text_seconds + embed_seconds):,.0f} chunks/s"
    )

    baseline = plain_fts5(data_dir / "plain.db", texts)
    rng = random.Random(11)
    picks = [rng.randrange(len(texts)) for _ in range(args.queries)]
    queries = [" ".join(rng.sample(texts[i].rstrip(".").lower().split(), 4)) for i in picks]
    from services import vector_lists
    from services.vectors import VectorIndex

    min_rows, vector_lists.MIN_ROWS = vector_lists.MIN_ROWS, len(texts) + 1  # exact scans first
    before_vectors = memory()
    model = embeddings.embedding_model()
    key, version = (dataset.id, model.id), Dataset.get_by_id(dataset.id).vector_version
    VectorIndex._matrix(key, version)  # read from the rows, written to files and mapped
    after_loading = memory()

    def plain(query: str):
        terms = " OR ".join(f'"{w}"' for w in query.split())
        return baseline.execute(
            "SELECT rowid, bm25(plain) FROM plain WHERE plain MATCH ? ORDER BY rank LIMIT 5", (terms,)
        ).fetchall()

    def ours(strategy_id):
        return lambda q: retrieval.retrieve([dataset], q, strategy=strategy_id, top_k=5, count_hits=False)

    results = {}
    runs = {
        "plain FTS5 (baseline)": plain,
        "full-text": ours(retrieval.FULL_TEXT),
        "semantic, exact scan": ours(retrieval.SEMANTIC),
        "hybrid, exact scan": ours(retrieval.HYBRID),
    }
    measure(runs, queries, results)
    exact_hits = sanity(dataset, queries, picks, texts)

    vector_lists.MIN_ROWS = min_rows
    ids, matrix = VectorIndex._matrix(key, version)
    started = time.perf_counter()
    VectorIndex._build_lists(key, version, ids, matrix)
    print(
        f"IVF lists: {VectorIndex._listed[key][1].index.nlist} lists built in "
        f"{time.perf_counter() - started:.1f} s "
        "(k-means and assignment; in the server, a background thread builds them)"
    )
    after_exact = memory()
    measure(
        {"semantic, IVF lists": ours(retrieval.SEMANTIC), "hybrid, IVF lists": ours(retrieval.HYBRID)},
        queries,
        results,
    )
    print(f"memory before the vectors were loaded: {before_vectors}")
    print(f"memory after the vectors were read from the rows into files: {after_loading}")
    print(f"memory after exact scans of every vector: {after_exact}")
    print(f"memory after the IVF lists were built and searched: {memory()}")
    a_process_that_finds_the_files(data_dir, dataset.id, model.id, len(queries))
    found = []
    for query in queries:
        vector = embeddings.embed(model, [query])[0]
        exact = {i for i, _ in VectorIndex.search([dataset.id], model.id, vector, 20, exact=True)}
        found.append(
            len(exact & {i for i, _ in VectorIndex.search([dataset.id], model.id, vector, 20)}) / len(exact)
        )
    base = results["plain FTS5 (baseline)"][0]
    print(f"retrieval over {stored:,} chunks, {len(queries)} queries, top 5:")
    for name, (p50, p99) in results.items():
        print(f"  {name:24s} p50 {p50:7.2f} ms   p99 {p99:7.2f} ms   p50 ratio to baseline {p50 / base:5.2f}")
    print(f"IVF recall: the lists find {statistics.mean(found):.3f} of the exact scan's 20 nearest (mean)")
    print(
        f"sanity: hybrid finds the chunk a query was drawn from in its top 5 for {exact_hits}/{len(queries)} "
        f"queries scanning every vector, {sanity(dataset, queries, picks, texts)} through the lists"
    )
    server.server.should_exit = True
    if args.local_sample and local_models.installed("all-MiniLM-L6-v2"):
        local_model(user, space, texts[: args.local_sample], queries)


def measure(runs: dict, queries: list[str], results: dict) -> None:
    for name, run in runs.items():
        samples = []
        for query in queries:
            started = time.perf_counter()
            run(query)
            samples.append((time.perf_counter() - started) * 1000)
        results[name] = percentiles(samples)


def sanity(dataset, queries: list[str], picks: list[int], texts: list[str]) -> int:
    from services import retrieval

    return sum(
        any(
            h.slice.content == texts[i]
            for h in retrieval.retrieve(
                [dataset], q, strategy=retrieval.HYBRID, top_k=5, count_hits=False
            ).hits
        )
        for q, i in zip(queries, picks)
    )


def local_model(user, space, texts: list[str], queries: list[str]) -> None:
    """Ingestion with all-MiniLM-L6-v2 run in this process, and its cost per query."""
    from services import datasets, documents, embeddings, ingestion

    model = use_local_embeddings()
    dataset = datasets.create_dataset(user, space.id, "bench local model")
    bases = [
        {
            "name": f"local{i}",
            "source_info": {"custom_content": "\n\n".join(texts[i : i + CHUNKS_PER_DOCUMENT])},
        }
        for i in range(0, len(texts), CHUNKS_PER_DOCUMENT)
    ]
    strategy = {"chunk_type": 1, "separator": "\n\n", "max_tokens": 5000, "overlap": 0}
    created = documents.create_documents(user, dataset.id, bases, chunk_strategy=strategy)
    embeddings.embed(model, ["warm up"])
    started = time.perf_counter()
    for document in created:
        ingestion.process_document(document.id)
    seconds = time.perf_counter() - started
    print(
        f"ingestion with all-MiniLM-L6-v2 run locally: {len(texts) / seconds:,.0f} chunks/s "
        f"({len(texts):,} chunks of {statistics.mean(map(len, texts)):.0f} characters, {seconds:.1f} s)"
    )
    samples = []
    for query in queries:
        started = time.perf_counter()
        embeddings.embed(model, [query])
        samples.append((time.perf_counter() - started) * 1000)
    p50, p99 = percentiles(samples)
    print(f"embedding a query with it: p50 {p50:.2f} ms, p99 {p99:.2f} ms")


if __name__ == "__main__":
    main()
