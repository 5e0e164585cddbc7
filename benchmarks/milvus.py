"""Milvus benchmark: the same questions through the local store (FAISS + BM25) and Milvus Lite at 10k (100k) passages.

Usage: python benchmarks/milvus.py [--sizes 10000 100000] [--queries 300] [--out benchmarks/results]

Passages are synthesised from the CMRC 2018 trial set as in ``scale.py`` (runs of real sentences, vectors the mean
of their real USE vectors); the questions are the real CMRC questions, encoded beforehand, so query times exclude
encoding. Measured per size: upsert throughput into Milvus Lite (batches of 500, as the store writes), loading the
collection back into an ``Index`` (passages, vectors, BM25 built in memory), query p50/p95 of the whole
``retrieve`` (dense + keyword + fusion) through each store, and recall@10 of Milvus's index against exact search.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]

from scale import DEFAULT_DATA, LazyPassages, Precomputed, load_material, material, selection, synth_vectors  # noqa: E402


def timed_queries(index, encoder, questions: list[str]) -> tuple[float, float]:
    """p50 and p95 (ms) of one ``retrieve`` per question."""
    from assistant.search.retriever import retrieve

    retrieve(index, encoder, questions[:5])  # warm up: dictionaries, first gRPC call
    times = []
    for q in questions:
        started = time.perf_counter()
        retrieve(index, encoder, [q], k=5)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), float(np.percentile(times, 95))


def run(n: int, work: Path, queries: int) -> dict:
    from assistant.dense import DenseIndex
    from assistant.keyword import KeywordIndex
    from assistant.storage.milvus import load_milvus_index, passage_fields
    from assistant.storage.milvus_client import MilvusStore, Names, passage_id
    from assistant.storage.versions import Index
    from assistant.text import keyword_text

    info, sentence_vectors, question_vectors, _ = load_material(work)
    select = selection(n, len(info["sentences"]))
    vectors = np.zeros((n, sentence_vectors.shape[1]), np.float32)
    synth_vectors(select, sentence_vectors, vectors)
    lazy = LazyPassages(select, info["sentences"])
    passages = [lazy[i] for i in range(n)]
    questions = info["questions"][:queries]
    encoder = Precomputed(info["questions"], question_vectors)
    encoder.dimension = vectors.shape[1]

    # the local store, in memory as it is when loaded: exact FAISS and BM25 over the same passages
    started = time.perf_counter()
    local = Index(
        passages=passages,
        dense=DenseIndex.build(vectors, kind="flat"),
        keyword=KeywordIndex.build([keyword_text(p) for p in passages]),
        manifest={},
        folder=work,
        vectors=vectors,
    )
    local_build = time.perf_counter() - started

    folder = Path(tempfile.mkdtemp(prefix="milvus-bench-", dir=work))
    store = MilvusStore(str(folder / "bench.db"))
    names = Names(f"bench_{n}")
    store.drop(names)
    store.create(names, vectors.shape[1])
    rows = [
        {"id": passage_id(p), "vector": v.tolist(), "position": i % 100, **passage_fields(p)}
        for i, (p, v) in enumerate(zip(passages, vectors, strict=True))
    ]
    started = time.perf_counter()
    store.upsert(names.passages, rows)
    store.flush(names.passages)
    insert_s = time.perf_counter() - started
    started = time.perf_counter()
    milvus = load_milvus_index(store, names, encoder, str(folder / "bench.db"))
    load_s = time.perf_counter() - started

    exact, _ = local.dense.search(question_vectors[:queries], k=10)
    found, _ = milvus.dense.search(question_vectors[:queries], k=10)
    # the two indexes number rows alike only if Milvus's load order is the local order: compare passages
    truth = [{passage_id(passages[i]) for i in row} for row in exact]
    got = [{milvus.dense.ids[i] for i in row if i >= 0} for row in found]
    recall = float(np.mean([len(t & g) / 10 for t, g in zip(truth, got, strict=True)]))

    local_p50, local_p95 = timed_queries(local, encoder, questions)
    milvus_p50, milvus_p95 = timed_queries(milvus, encoder, questions)
    store.drop(names)
    store.close()
    return {
        "passages": n,
        "queries": len(questions),
        "local_build_s": round(local_build, 2),
        "milvus_insert_rows_per_s": round(n / insert_s),
        "milvus_load_s": round(load_s, 2),
        "local_query_p50_ms": round(local_p50, 1),
        "local_query_p95_ms": round(local_p95, 1),
        "milvus_query_p50_ms": round(milvus_p50, 1),
        "milvus_query_p95_ms": round(milvus_p95, 1),
        "milvus_recall_at_10": round(recall, 4),
    }


def table(rows: list[dict]) -> str:
    head = list(rows[0])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(str(r[h]) for h in head) + " |" for r in rows]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000])
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "assistant-bench-milvus")
    parser.add_argument("--out", type=Path, default=HERE / "results")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    material(args.data, args.work)
    rows = []
    for n in args.sizes:
        rows.append(run(n, args.work, args.queries))
        print(json.dumps(rows[-1]), flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "milvus.json").write_text(json.dumps(rows, indent=1))
    print(table(rows))


if __name__ == "__main__":
    main()
