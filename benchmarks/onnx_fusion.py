"""e5-small's questions through ONNX Runtime: the graph as torch exports it against the fused one the assistant uses.

Usage: python benchmarks/onnx_fusion.py [--questions 100] [--rounds 5]
Writes benchmarks/results/onnx_fusion.{md,json}. Both sessions live in one process with the same options as the
assistant's (two threads, spinning); each round times every question once per variant, variants alternating, so
the machine's load falls on both alike. Reported: each variant's median ms per question per round, the median of
the per-round ratios, and the smallest cosine between the two variants' vectors.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DATA = ROOT / "eval" / "data" / "cmrc2018_trial.json"
RESULTS = ROOT / "benchmarks" / "results"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--questions", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    import numpy as np

    from assistant.encoders import Encoder
    from assistant.encoders.onnx_queries import FILE, export, query_encoder
    from assistant.evaluate import load_dataset

    _, qs = load_dataset(DATA)
    questions = [q.question for q in qs[:: max(1, len(qs) // args.questions)]][: args.questions]
    model = Encoder("multilingual-e5-small").model
    reference = model.encode  # torch: the session is checked against it on its check question
    variants = {}
    with tempfile.TemporaryDirectory() as work:
        for name, fused in (("as exported", False), ("fused (the assistant's)", True)):
            folder = Path(work) / name.split()[0]
            export(model[0], folder / FILE, fused=fused)  # where query_encoder looks for it
            session = query_encoder(model, folder, lambda t: reference(t, prompt="", normalize_embeddings=True))
            if session is None:
                raise SystemExit(f"no ONNX session for the {name} graph (see the log)")
            variants[name] = session
        vectors = {name: v.encode(questions, prompt="query: ") for name, v in variants.items()}
    a, b = vectors.values()
    least = float(min((a * b).sum(axis=1)))
    times: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(args.rounds):
        for name, session in variants.items():
            each = []
            for q in questions:
                start = time.perf_counter()
                session.encode([q], prompt="query: ")
                each.append(time.perf_counter() - start)
            times[name].append(statistics.median(each) * 1000)
    names = list(variants)
    ratio = statistics.median(x / y for x, y in zip(times[names[0]], times[names[1]], strict=True))
    result = {
        "questions": len(questions),
        "rounds": args.rounds,
        "ms_per_question_per_round": times,
        "median_ms": {n: statistics.median(t) for n, t in times.items()},
        "speedup_fused": ratio,
        "least_cosine": least,
        "tokens_median": float(np.median([len(model.tokenizer("query: " + q)["input_ids"]) for q in questions])),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "onnx_fusion.json").write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    lines = [
        f"{len(questions)} CMRC trial questions (median {result['tokens_median']:.0f} e5 tokens), one at a time, "
        f"{args.rounds} alternating rounds, two threads; ms = median per question in a round.",
        "",
        "| graph | median ms | rounds (ms) |",
        "|---|---|---|",
    ]
    for n, t in times.items():
        lines.append(f"| {n} | {statistics.median(t):.2f} | {', '.join(f'{x:.2f}' for x in t)} |")
    lines += [
        "",
        f"Fused is {ratio:.2f}× as fast (median of the rounds' ratios); least cosine between the two: {least:.6f}.",
    ]
    (RESULTS / "onnx_fusion.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
