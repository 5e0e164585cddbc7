"""Scale benchmark: search + fusion, memory, load time and recall at 10k, 100k and 1M passages; one-file updates.

Usage: python benchmarks/scale.py [--sizes 10000 100000 1000000] [--out benchmarks/results]

Passages are synthesised from real text: each is a run of 2-6 consecutive sentences of the CMRC 2018 trial set, its
vector the normalised mean of those sentences' real USE vectors (plus a little noise) and its keyword
counts the sum of theirs, so search sees realistic vectors and word statistics without encoding a
million texts. The encoder's own cost is measured apart, on real text, and reported per passage and
per query. Each size is built in one process and served (loaded memory-mapped, then queried with the
real CMRC questions through ``retriever.retrieve``) in another, so each peak RSS is that stage's own.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]

DEFAULT_DATA = HERE.parent / "eval" / "data" / "cmrc2018_trial.json"
PER_FILE = 100  # synthetic passages per document file


def rss_mb() -> float:
    """Peak RSS of this process (VmHWM: ru_maxrss would carry the parent's peak over exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rss_split() -> dict:
    """Resident memory now, anonymous (the process's own) and file-backed (memory-mapped index files,
    which the kernel can drop and re-read)."""
    fields = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines() if ":" in line)
    return {k: int(fields[f"Rss{k[4:-3].capitalize()}"].split()[0]) / 1024 for k in ("rss_anon_mb", "rss_file_mb")}


def mapped_rss() -> dict[str, float]:
    """Resident MB per memory-mapped index file (from /proc/self/smaps)."""
    out: dict[str, float] = {}
    name = None
    for line in Path("/proc/self/smaps").read_text().splitlines():
        parts = line.split()
        if len(parts) >= 6 and "-" in parts[0] and "/" in parts[-1]:
            name = Path(parts[-1]).name
        elif len(parts) == 6 and "-" in parts[0]:
            name = None
        elif line.startswith("Rss:") and name and name.endswith((".npy", ".faiss", ".npz")):
            out[name] = out.get(name, 0.0) + int(parts[1]) / 1024
    return {k: round(v, 1) for k, v in out.items() if v >= 1}


# --- material: real sentences, their vectors and term counts, the real questions --------------------------


def material(data: Path, work: Path) -> dict:
    """Encode the real sentences and questions once (cached in ``work``), and time the encoder on real text."""
    from squad import read_squad

    from assistant.encoders.encoder import Encoder
    from assistant.keyword.bm25 import count_terms
    from assistant.keyword.terms import tokenize_many
    from assistant.text.passages import split_sentences

    cache = work / "material.npz"
    if cache.exists():
        return json.loads((work / "material.json").read_text())
    documents, questions = read_squad(data)
    texts = [t.split("\n", 1)[-1] for t in documents.values()]
    sentences = list(dict.fromkeys(s for t in texts for s in split_sentences(t) if len(s) >= 8))
    encoder = Encoder("use-multilingual-v3")
    encoder.encode(["warm up"])
    started = time.perf_counter()
    sentence_vectors = encoder.encode(sentences)
    encode_s = time.perf_counter() - started
    latencies = []
    question_vectors = []
    for q in questions:
        t = time.perf_counter()
        question_vectors.append(encoder.encode([q.question])[0])
        latencies.append(time.perf_counter() - t)
    started = time.perf_counter()
    tokens = tokenize_many(sentences)
    tokenize_s = time.perf_counter() - started
    vocab: dict[str, int] = {}
    counts = count_terms(tokens, vocab)
    np.savez(
        cache,
        sentence_vectors=sentence_vectors,
        question_vectors=np.array(question_vectors, dtype=np.float32),
        counts_data=counts.data,
        counts_indices=counts.indices,
        counts_indptr=counts.indptr,
    )
    chars = sum(map(len, sentences))
    info = {
        "sentences": sentences,
        "vocab": list(vocab),
        "questions": [q.question for q in questions],
        "encode_chars_per_s": chars / encode_s,
        "tokenize_chars_per_s": chars / tokenize_s,
        "query_encode_p50_ms": statistics.median(latencies) * 1000,
    }
    (work / "material.json").write_text(json.dumps(info, ensure_ascii=False))
    return info


def load_material(work: Path):
    import scipy.sparse as sp

    info = json.loads((work / "material.json").read_text())
    z = np.load(work / "material.npz")
    counts = sp.csr_matrix(
        (z["counts_data"], z["counts_indices"], z["counts_indptr"]), shape=(len(info["sentences"]), len(info["vocab"]))
    )
    return info, z["sentence_vectors"], z["question_vectors"], counts


def selection(n: int, pool: int, seed: int = 0):
    """A passages × sentences 0/1 matrix: passage i is a run of 2-6 consecutive real sentences (as a real
    passage is a run of one document's sentences, so vectors keep the topical clusters of real text)."""
    import scipy.sparse as sp

    rng = np.random.default_rng(seed)
    lengths = rng.integers(2, 7, size=n)
    starts = rng.integers(0, pool - 6, size=n)
    indptr = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    indices = (np.repeat(starts - indptr[:-1], lengths) + np.arange(indptr[-1])).astype(np.int32)
    return sp.csr_matrix((np.ones(len(indices), np.float32), indices, indptr), shape=(n, pool))


def synth_vectors(select, sentence_vectors: np.ndarray, out: np.ndarray, *, chunk: int = 100_000) -> None:
    rng = np.random.default_rng(1)
    for start in range(0, select.shape[0], chunk):
        block = select[start : start + chunk] @ sentence_vectors
        block += rng.normal(0, 0.01, block.shape).astype(np.float32)
        block /= np.linalg.norm(block, axis=1, keepdims=True)
        out[start : start + len(block)] = block


class LazyPassages(Sequence):
    """Passages made on demand from the selection matrix: a million Passage objects would not fit the budget."""

    def __init__(self, select, sentences: list[str]):
        self.select, self.sentences = select, sentences

    def __len__(self) -> int:
        return self.select.shape[0]

    def __getitem__(self, i):
        from assistant.records import Passage

        i = int(i)
        row = self.select.indices[self.select.indptr[i] : self.select.indptr[i + 1]]
        source = f"doc{i // PER_FILE:05d}.txt"
        return Passage(source, source, source, i % PER_FILE + 1, "".join(self.sentences[j] for j in row))


class Precomputed:
    """An encoder that returns the questions' vectors computed beforehand (encoder cost is measured apart)."""

    name = "use-multilingual-v3"

    def __init__(self, questions: list[str], vectors: np.ndarray):
        from assistant.keyword.terms import to_simplified

        # a question is also asked in simplified characters (``retriever.dense_text``)
        self.rows = {
            **{to_simplified(q): i for i, q in enumerate(questions)},
            **{q: i for i, q in enumerate(questions)},
        }
        self.vectors = vectors

    def encode(self, texts, *, progress=False):
        return self.vectors[[self.rows[t] for t in texts]]

    def encode_queries(self, texts):
        return self.encode(texts)


# --- stages, each in its own process ------------------------------------------------------------------


def build(n: int, work: Path) -> dict:
    """Synthesise ``n`` passages and build, save and check the dense and keyword indexes."""
    import faiss
    import scipy.sparse as sp

    from assistant.dense.faiss_index import DenseIndex, choose_spec
    from assistant.keyword.bm25 import KeywordIndex
    from assistant.storage import IndexSettings
    from assistant.storage.sentences import sentence_files

    info, sentence_vectors, question_vectors, sentence_counts = load_material(work)
    folder = work / f"n{n}"
    folder.mkdir(exist_ok=True)
    select = selection(n, len(info["sentences"]))
    sp.save_npz(folder / "select.npz", select, compressed=False)
    vectors = np.lib.format.open_memmap(folder / "vectors.npy", "w+", np.float32, (n, sentence_vectors.shape[1]))
    synth_vectors(select, sentence_vectors, vectors)
    vectors.flush()
    times = {}
    started = time.perf_counter()
    spec = choose_spec(n)
    dense = DenseIndex.build(vectors, spec=spec)
    times["dense_build_s"] = time.perf_counter() - started
    dense.save(folder / "dense.faiss")
    started = time.perf_counter()
    vocab = {w: i for i, w in enumerate(info["vocab"])}
    keyword = KeywordIndex.from_counts(
        select @ sentence_counts, vocab, segment_rows=IndexSettings().rows_per_segment(n)
    )  # as the store
    times["keyword_build_s"] = time.perf_counter() - started
    shutil.rmtree(folder / "keyword", ignore_errors=True)  # an earlier build's segments would count as on disk
    (folder / "keyword").mkdir()
    keyword.save(folder / "keyword")
    with_sentences = IndexSettings().sentences_wanted()
    for name in ("sentence_vectors.npy", "sentence_offsets.npy", *sentence_files("all")):
        (folder / name).unlink(missing_ok=True)  # left by an earlier build
    started = time.perf_counter()
    if with_sentences:  # as the store keeps them: 8-bit codes, a scale per vector, sentences per passage
        save_sentences(folder, select, sentence_vectors)
    times["sentence_codes_s"] = time.perf_counter() - started
    # Recall@10 against exact search, for the index alone and after the retriever's exact re-scoring of 100.
    exact = faiss.IndexFlatIP(vectors.shape[1])
    for start in range(0, n, 100_000):
        exact.add(np.ascontiguousarray(vectors[start : start + 100_000]))
    _, truth = exact.search(question_vectors, 10)
    del exact
    found, _ = dense.search(question_vectors, k=10)
    wide, _ = dense.search(question_vectors, k=100)
    rescored = []
    for q, ids in zip(question_vectors, wide, strict=True):
        ids = ids[ids >= 0]
        rescored.append(_rescore(vectors, ids, q))
    recall = float(np.mean([len(set(t) & set(f)) / 10 for t, f in zip(truth, found, strict=True)]))
    recall_rescored = float(np.mean([len(set(t) & set(f)) / 10 for t, f in zip(truth, rescored, strict=True)]))
    disk = {p.name: p.stat().st_size for p in folder.rglob("*") if p.is_file() and p.name != "select.npz"}
    return {
        "passages": n,
        "dense": spec.to_dict(),
        "sentence_vectors": with_sentences,
        **times,
        "recall_at_10": recall,
        "recall_at_10_rescored": recall_rescored,
        "index_mb": sum(disk.values()) / 2**20,
        "dense_mb": disk["dense.faiss"] / 2**20,
        "vectors_mb": disk["vectors.npy"] / 2**20,
        "sentences_mb": sum(disk.get(f, 0) for f in sentence_files("all")) / 2**20,
        "build_peak_rss_mb": rss_mb(),
    }


def sentence_block(select, sentence_vectors: np.ndarray, first: int, last: int, *, chunk: int = 20_000):
    """The passages ``first`` to ``last``'s sentences (their real USE vectors) as a ``SentenceBlock``,
    quantized ``chunk`` passages at a time (a million passages' float32 sentence vectors would be 8 GB)."""
    from assistant.storage.sentences import SentenceBlock

    parts = [
        SentenceBlock.of(
            sentence_vectors[select[a : min(a + chunk, last)].indices], np.diff(select[a : min(a + chunk, last)].indptr)
        )
        for a in range(first, last, chunk)
    ]
    return SentenceBlock.joined(parts, sentence_vectors.shape[1])


def save_sentences(folder: Path, select, sentence_vectors: np.ndarray) -> None:
    from assistant.storage.sentences import sentence_files

    n = select.shape[0]
    codes_name, scales_name, counts_name = sentence_files("all")
    codes = np.lib.format.open_memmap(folder / codes_name, "w+", np.int8, (select.nnz, sentence_vectors.shape[1]))
    scales = np.empty(select.nnz, np.float32)
    for a in range(0, n, 100_000):
        block = sentence_block(select, sentence_vectors, a, min(a + 100_000, n))
        rows = slice(select.indptr[a], select.indptr[min(a + 100_000, n)])
        codes[rows], scales[rows] = block.codes, block.scales
    codes.flush()
    np.save(folder / scales_name, scales)
    np.save(folder / counts_name, np.diff(select.indptr).astype(np.int64))


def _rescore(vectors, ids: np.ndarray, q: np.ndarray) -> np.ndarray:
    order = np.sort(ids)
    return order[np.argsort(-(np.asarray(vectors[order]) @ q), kind="stable")][:10]


def serve(n: int, work: Path) -> dict:
    """Load the saved indexes memory-mapped and answer the real questions through ``retrieve``."""
    import scipy.sparse as sp

    from assistant.dense.faiss_index import DenseIndex
    from assistant.keyword.bm25 import KeywordIndex
    from assistant.search.retriever import retrieve
    from assistant.storage.sentences import SentenceBlock, SentenceVectors, sentence_files
    from assistant.storage.versions import Index, open_vectors

    info = json.loads((work / "material.json").read_text())
    question_vectors = np.load(work / "material.npz")["question_vectors"]
    spec = json.loads((work / f"n{n}.build.json").read_text())["dense"]
    folder = work / f"n{n}"
    base_rss = rss_mb()
    started = time.perf_counter()
    select = sp.load_npz(folder / "select.npz")
    dense = DenseIndex.load(folder / "dense.faiss", spec["kind"], spec["params"], mmap=True)
    keyword = KeywordIndex.load(folder / "keyword", mmap=True)
    vectors = open_vectors(folder / "vectors.npy")
    if (folder / sentence_files("all")[0]).exists():
        sentences = SentenceVectors.load(folder, ["all"], vectors.shape[1])
    else:
        sentences = SentenceVectors([SentenceBlock.empty(n, vectors.shape[1])], vectors.shape[1])
    index = Index(
        passages=LazyPassages(select, info["sentences"]),
        dense=dense,
        keyword=keyword,
        manifest={},
        folder=folder,
        vectors=vectors,
        sentence_vectors=sentences,
    )
    load_s = time.perf_counter() - started
    encoder = Precomputed(info["questions"], question_vectors)
    questions = info["questions"]
    # Two passes over the questions: the first reads the index's pages from disk when the OS has dropped
    # them (at 1M, p50 33 ms once after other work had evicted the 3 GB index, 10 ms warm); the second is
    # a server that has been answering. Both are reported.
    passes = []
    for _ in range(2):
        latencies = []
        for q in questions:
            t = time.perf_counter()
            retrieve(index, encoder, [q], k=5)
            latencies.append(time.perf_counter() - t)
        passes.append(sorted(latencies))
    first, latencies = passes
    return {
        "load_s": load_s,
        "first_pass_p50_ms": first[len(first) // 2] * 1000,
        "query_p50_ms": latencies[len(latencies) // 2] * 1000,
        "query_p95_ms": latencies[int(0.95 * (len(latencies) - 1))] * 1000,
        "query_p99_ms": latencies[int(0.99 * (len(latencies) - 1))] * 1000,
        "serve_peak_rss_mb": rss_mb(),
        "serve_rss_over_python_mb": rss_mb() - base_rss,
        **rss_split(),
        "mapped_rss_mb": mapped_rss(),
    }


def update(n: int, work: Path, data: Path) -> dict:
    """A saved ``n``-passage index of ``n / PER_FILE`` files; time adding one real document through ``open_index``."""

    from squad import read_squad

    from assistant.dense.faiss_index import DenseIndex
    from assistant.encoders.encoder import Encoder
    from assistant.keyword.bm25 import KeywordIndex
    from assistant.keyword.terms import tokenize
    from assistant.storage import IndexSettings, versions
    from assistant.storage import build as store
    from assistant.storage.changes import corpus_files, file_state
    from assistant.storage.sentences import SentenceVectors
    from assistant.text import CHUNKING

    info, sentence_vectors, _, sentence_counts = load_material(work)
    root = work / f"update{n}"
    shutil.rmtree(root, ignore_errors=True)
    corpus = root / "corpus"
    corpus.mkdir(parents=True)
    select = selection(n, len(info["sentences"]), seed=2)
    passages = list(LazyPassages(select, info["sentences"]))
    for start in range(0, n, PER_FILE):
        (corpus / passages[start].source).write_text("\n".join(p.text for p in passages[start : start + PER_FILE]))
    vectors = np.empty((n, sentence_vectors.shape[1]), np.float32)
    synth_vectors(select, sentence_vectors, vectors)
    encoder = Encoder("use-multilingual-v3")
    state, _ = file_state(corpus_files(corpus), corpus, None)
    vocab = {w: i for i, w in enumerate(info["vocab"])}
    keyword = KeywordIndex.from_counts(
        select @ sentence_counts, vocab, segment_rows=IndexSettings().rows_per_segment(n)
    )
    dense = DenseIndex.build(vectors)
    manifest = {
        "format_version": versions.FORMAT_VERSION,
        "model": encoder.name,
        "dimension": vectors.shape[1],
        "corpus": str(corpus.resolve()),
        "files": {s: {k: v for k, v in e.items() if k not in ("path", "root")} for s, e in state.items()},
        "skipped": {},
        "passages": n,
        "sentences": select.nnz,
        "sentence_vectors": True,
        "chunking": CHUNKING,
        "dense": {"kind": dense.kind, "metric": "inner_product", "params": dense.params},
        "keyword": {},
    }
    index = versions.Index(
        passages=passages,
        dense=dense,
        keyword=keyword,
        manifest=manifest,
        folder=Path(),
        vectors=[vectors[s.start : s.start + s.rows] for s in keyword.segments],  # segments, as the store has them
        sentence_vectors=SentenceVectors(
            [sentence_block(select, sentence_vectors, s.start, s.start + s.rows) for s in keyword.segments],
            vectors.shape[1],
        ),
    )
    versions._save(index, store.index_folder(corpus, encoder.name, root / "index"))
    del index, passages, vectors, keyword, dense
    encoder.encode(["warm up"])
    tokenize("预热")  # a server has its tokenizer and its dictionaries loaded
    started = time.perf_counter()
    loaded = store.open_index(corpus, encoder, root=root / "index")
    load_s = time.perf_counter() - started
    documents, _ = read_squad(data)
    name, text = next(iter(documents.items()))
    (corpus / f"zz-new-{name}").write_text(text)
    started = time.perf_counter()
    updated = store.open_index(corpus, encoder, root=root / "index", current=loaded)  # as Assistant.refresh does
    add_s = time.perf_counter() - started
    (corpus / f"zz-new-{name}").unlink()
    started = time.perf_counter()
    removed = store.open_index(corpus, encoder, root=root / "index", current=updated)
    delete_s = time.perf_counter() - started
    middle = corpus / f"doc{n // PER_FILE // 2:05d}.txt"  # a file of the original build, in a middle segment
    middle.write_text(middle.read_text() + "\n" + text.splitlines()[-1])
    started = time.perf_counter()
    changed = store.open_index(corpus, encoder, root=root / "index", current=removed)
    change_s = time.perf_counter() - started
    middle.unlink()
    started = time.perf_counter()
    store.open_index(corpus, encoder, root=root / "index", current=changed)
    delete_original_s = time.perf_counter() - started
    return {
        "passages": n,
        "dense": updated.manifest["dense"],
        "load_saved_s": load_s,
        "add_one_file_s": add_s,
        "encoded_passages": updated.encoded,
        "passages_after_add": len(updated.passages),
        "delete_one_file_s": delete_s,
        "passages_after_delete": len(removed.passages),
        "change_original_file_s": change_s,
        "encoded_after_change": changed.encoded,
        "delete_original_file_s": delete_original_s,
        "segments": len(changed.segments),
        "loaded_passages": len(loaded.passages),
    }


def stage(name: str, n: int, work: Path, data: Path, reuse: bool = False) -> dict:
    """Run one stage in a fresh Python process and return its JSON (or the saved one, with ``reuse``)."""
    saved = work / f"n{n}.{name}.json"
    if reuse and saved.exists():
        return json.loads(saved.read_text())
    proc = subprocess.run(
        [sys.executable, __file__, "--stage", name, "--n", str(n), "--work", str(work), "--data", str(data)],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{name} {n} failed:\n{proc.stderr[-3000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    (work / f"n{n}.{name}.json").write_text(json.dumps(result))
    return result


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = [r["passages"] for r in rows]
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    axes[0].plot(sizes, [r["query_p50_ms"] for r in rows], "o-", label="p50")
    axes[0].plot(sizes, [r["query_p95_ms"] for r in rows], "s--", label="p95")
    axes[0].set_title("search + fusion per query (ms)")
    axes[1].plot(sizes, [r["serve_peak_rss_mb"] for r in rows], "o-", label="serving (mmap)")
    axes[1].plot(sizes, [r["build_peak_rss_mb"] for r in rows], "s--", label="building")
    axes[1].set_title("peak RSS (MB)")
    axes[2].plot(sizes, [r["dense_build_s"] + r["keyword_build_s"] for r in rows], "o-", label="index build")
    axes[2].plot(sizes, [r["encode_estimate_s"] for r in rows], "s--", label="encoding (estimated)")
    axes[2].set_title("build time (s)")
    for ax in axes:
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("passages")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--update-size", type=int, default=100_000)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--work", type=Path, default=Path("/tmp/assistant-scale"))
    parser.add_argument("--out", type=Path, default=HERE / "results")
    parser.add_argument(
        "--cliff",
        type=int,
        default=70_000,
        metavar="PASSAGES",
        help="also ask the seed questions of the seed beside an upload of this many real passages (cliff.py; 0: skip)",
    )
    parser.add_argument("--reuse", action="store_true", help="reuse the results of stages already run in --work")
    parser.add_argument("--stage", choices=["build", "serve", "update"], help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    if args.stage:
        functions = {"build": build, "serve": serve, "update": lambda n, w: update(n, w, args.data)}
        print(json.dumps(functions[args.stage](args.n, args.work)))
        return
    info = material(args.data, args.work)
    chars_per_passage = 4 * statistics.mean(map(len, info["sentences"]))  # 4 sentences on average
    rows = []
    for n in args.sizes:
        row = {
            **stage("build", n, args.work, args.data, args.reuse),
            **stage("serve", n, args.work, args.data, args.reuse),
        }
        encoded = 1  # sentence vectors, where kept, are pooled from the passage's own forward pass
        row["encode_estimate_s"] = n * encoded * chars_per_passage / info["encode_chars_per_s"]
        row["tokenize_estimate_s"] = n * chars_per_passage / info["tokenize_chars_per_s"]
        rows.append(row)
        print(json.dumps(row), flush=True)
    upd = stage("update", args.update_size, args.work, args.data, args.reuse) if args.update_size else None
    if args.cliff:
        import cliff

        cliff.run([HERE.parent], args.work / "cliff", args.cliff, args.out)  # writes cliff.md and cliff.json
    args.out.mkdir(parents=True, exist_ok=True)
    plot(rows, args.out / "scale.png")
    lines = [
        "| passages | dense index | sentence vectors | recall@10 (index / after re-scoring) | query p50 / p95 / p99 ms"
        " | first pass p50 ms | load s (mmap) | serving peak RSS MB | index build s (dense + keyword) | build peak RSS MB | on disk MB"
        " | encoding estimate s | tokenizing estimate s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        params = ", ".join(f"{k}={v}" for k, v in r["dense"]["params"].items())
        lines.append(
            f"| {r['passages']:,} | {r['dense']['kind']}{f' ({params})' if params else ''} | "
            f"{'yes' if r['sentence_vectors'] else 'no'} | {r['recall_at_10']:.3f} / {r['recall_at_10_rescored']:.3f} | "
            f"{r['query_p50_ms']:.1f} / {r['query_p95_ms']:.1f} / {r['query_p99_ms']:.1f} | "
            f"{r.get('first_pass_p50_ms', float('nan')):.1f} | {r['load_s']:.2f} | "
            f"{r['serve_peak_rss_mb']:.0f} | {r['dense_build_s']:.1f} + {r['keyword_build_s']:.1f} | "
            f"{r['build_peak_rss_mb']:.0f} | {r['index_mb']:.0f} | {r['encode_estimate_s']:.0f} | "
            f"{r['tokenize_estimate_s']:.0f} |"
        )
    notes = [
        "",
        f"Encoder on real text (USE multilingual v3): {info['encode_chars_per_s']:.0f} characters/s when building, "
        f"{info['query_encode_p50_ms']:.1f} ms per question (p50); tokenization (jieba-rs words, OpenCC folding) {info['tokenize_chars_per_s']:.0f} "
        "characters/s. Estimates: passages of ~4 sentences, each encoded once (sentence vectors come from the same pass). "
        "Query figures: the second of two passes over the 1,000 questions (a server that has been answering); "
        "the first pass may read the index from disk.",
    ]
    if upd:
        notes.append(
            f"Update of a saved {upd['passages']:,}-passage index ({upd['dense']['kind']}): loading it "
            f"{upd['load_saved_s']:.2f} s; adding one document ({upd['encoded_passages']} passages encoded) "
            f"{upd['add_one_file_s']:.2f} s; deleting it again {upd['delete_one_file_s']:.2f} s; changing a file of "
            f"the original build ({upd['encoded_after_change']} passages encoded) {upd['change_original_file_s']:.2f} s; "
            f"deleting that file {upd['delete_original_file_s']:.2f} s ({upd['segments']} segments)."
        )
    if args.cliff:
        notes += ["", f"The seed questions with and without {args.cliff:,} uploaded passages (`cliff.py`):", ""]
        notes += (args.out / "cliff.md").read_text().splitlines()
    markdown = "\n".join(lines + notes) + "\n"
    (args.out / "scale.md").write_text(markdown)
    (args.out / "scale.json").write_text(
        json.dumps(
            {
                "rows": rows,
                "update": upd,
                "material": {k: v for k, v in info.items() if k not in ("sentences", "vocab", "questions")},
            },
            indent=1,
        )
    )
    print(markdown)


if __name__ == "__main__":
    main()
