"""Side-by-side benchmark: this assistant, LangChain's FAISS store and txtai's hybrid Embeddings on one corpus.

Usage (benchmark dependencies: pip install torch==2.13.0 && pip install -r benchmarks/requirements.txt):
    python benchmarks/compare.py [--data eval/data/cmrc2018_trial.json] [--runs 3] [--out benchmarks/results]

Every (tool, encoder) runs in a process of its own, in rotating order, ``--runs`` times; figures are
medians over the runs, and each ratio against a peer is the median of the ratios measured in the same round.
Writes ``compare.md`` (tables) and ``compare.json`` (everything, including per-run figures).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]

from squad import prepare  # noqa: E402

DEFAULT_DATA = HERE.parent / "eval" / "data" / "cmrc2018_trial.json"
RUNS = [
    ("assistant", "use"),
    ("assistant-tiers", "use"),  # the command line's default: searchable with USE, then e5-small switched in
    ("langchain", "minilm"),
    ("txtai", "minilm"),
    ("assistant", "minilm"),
    ("langchain", "use"),
    ("txtai", "use"),
    ("assistant-off", "use"),  # the other sentence-vector setting than each encoder's default (``auto``)
    ("assistant-on", "minilm"),
]
# (title, the assistant's run, the peers' runs)
TABLES = [
    ("Each tool's own default encoder", ("assistant", "use"), [("langchain", "minilm"), ("txtai", "minilm")]),
    (
        "The command line's default: USE first, then multilingual-e5-small switched in",
        ("assistant-tiers", "use"),
        [("langchain", "minilm"), ("txtai", "minilm")],
    ),
    ("Same encoder for all: all-MiniLM-L6-v2", ("assistant", "minilm"), [("langchain", "minilm"), ("txtai", "minilm")]),
    ("Same encoder for all: USE multilingual v3", ("assistant", "use"), [("langchain", "use"), ("txtai", "use")]),
]
ENCODERS = {"use": "USE multilingual v3", "minilm": "all-MiniLM-L6-v2"}
NAMES = {
    "assistant": "this assistant",
    "assistant-off": "this assistant, no sentence vectors",
    "assistant-on": "this assistant, sentence vectors on",
    "assistant-tiers": "this assistant, two tiers (USE searchable, then e5-small)",
    "langchain": "LangChain FAISS",
    "txtai": "txtai hybrid",
}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def run_one(tool: str, encoder: str, work: Path) -> dict:
    proc = subprocess.run(
        [sys.executable, str(HERE / "tool_run.py"), tool, encoder, str(work)],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{tool}/{encoder} failed:\n{proc.stderr[-3000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    latencies = result.pop("latencies_s")
    for q in (50, 95, 99):
        result[f"p{q}_ms"] = percentile(latencies, q) * 1000
    result["passages_per_s"] = result["passages"] / result["build_s"]
    return result


def summarise(rounds: list[dict[tuple[str, str], dict]]) -> dict:
    """Medians per (tool, encoder) over the rounds."""
    summary = {}
    for key in rounds[0]:
        rows = [r[key] for r in rounds]
        numeric = [k for k, v in rows[0].items() if isinstance(v, int | float) and not isinstance(v, bool)]
        summary[key] = {k: statistics.median(r[k] for r in rows) for k in numeric}
        summary[key].update({k: v for k, v in rows[0].items() if k not in numeric})
    return summary


def ratio(rounds: list[dict], mine: tuple, peer: tuple, field: str) -> float:
    """Median over the rounds of peer / assistant for ``field`` (how many times better the assistant is)."""
    return statistics.median(r[peer][field] / r[mine][field] for r in rounds)


def spread(rounds: list[dict], mine: tuple, peer: tuple, field: str) -> str:
    """The lowest and highest same-round ratio, to show how much a median ratio moves between rounds."""
    values = [r[peer][field] / r[mine][field] for r in rounds]
    return f"{min(values):.2f}–{max(values):.2f}"


def table(title: str, mine: tuple, peers: list[tuple], summary: dict, rounds: list[dict]) -> str:
    other = [(v, mine[1]) for v in ("assistant-off", "assistant-on") if (v, mine[1]) in summary and "Same" in title]
    keys = [k for k in [mine, *peers] if k in summary] + other
    lines = [
        f"### {title}",
        "",
        "| tool | encoder | build s | passages/s | query p50 ms | p95 ms | p99 ms | peak RSS MB | index MB"
        " | hit@1 | hit@5 | model load s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for key in keys:
        s = summary[key]
        lines.append(
            f"| {NAMES[key[0]]} | {ENCODERS[key[1]]} | {s['build_s']:.1f}"
            + (f" (best index {s['best_s']:.1f})" if "best_s" in s else "")
            + f" | {s['passages_per_s']:.0f} | "
            f"{s['p50_ms']:.1f} | {s['p95_ms']:.1f} | {s['p99_ms']:.1f} | {s['peak_rss_mb']:.0f} | "
            f"{s['index_mb']:.1f} | {s['hit1']:.3f} | {s['hit5']:.3f} | {s['model_load_s']:.1f} |"
        )
    if mine in summary:
        lines.append("")
        for peer in peers:
            if peer in summary:
                lines.append(
                    f"- vs {NAMES[peer[0]]}: build {ratio(rounds, mine, peer, 'build_s'):.1f}× faster, "
                    f"query p50 {ratio(rounds, mine, peer, 'p50_ms'):.1f}× faster, "
                    f"p95 {ratio(rounds, mine, peer, 'p95_ms'):.1f}× faster, "
                    f"hit@1 {summary[mine]['hit1']:.3f} vs {summary[peer]['hit1']:.3f} (medians of same-round ratios)"
                )
                for variant in other:
                    lines.append(
                        f"- {NAMES[variant[0]].removeprefix('this assistant, ')} vs {NAMES[peer[0]]}: build "
                        f"{ratio(rounds, variant, peer, 'build_s'):.1f}× faster, query p50 "
                        f"{ratio(rounds, variant, peer, 'p50_ms'):.1f}× faster, hit@1 {summary[variant]['hit1']:.3f}"
                    )
    return "\n".join(lines)


def targets(summary: dict, rounds: list[dict]) -> list[tuple[str, bool]]:
    """The issue's targets, checked against this run."""
    mine, lc, tx = ("assistant", "use"), ("langchain", "minilm"), ("txtai", "minilm")
    checks = []
    if all(k in summary for k in (mine, lc, tx)):
        checks += [
            (
                f"build ≥ 5× faster than txtai: {ratio(rounds, mine, tx, 'build_s'):.1f}×",
                ratio(rounds, mine, tx, "build_s") >= 5,
            ),
            (
                f"build ≥ 2.5× faster than LangChain: {ratio(rounds, mine, lc, 'build_s'):.1f}×",
                ratio(rounds, mine, lc, "build_s") >= 2.5,
            ),
            (f"query p50 ≤ 5 ms: {summary[mine]['p50_ms']:.1f} ms", summary[mine]["p50_ms"] <= 5),
            (f"query p95 ≤ 15 ms: {summary[mine]['p95_ms']:.1f} ms", summary[mine]["p95_ms"] <= 15),
            (
                f"hit@1 above both: {summary[mine]['hit1']:.3f} vs {summary[lc]['hit1']:.3f} / {summary[tx]['hit1']:.3f}",
                summary[mine]["hit1"] > max(summary[lc]["hit1"], summary[tx]["hit1"]),
            ),
        ]
    tiers = ("assistant-tiers", "use")
    if all(k in summary for k in (tiers, lc, tx)):
        peers_p50 = min(summary[lc]["p50_ms"], summary[tx]["p50_ms"])
        checks += [
            (
                f"two tiers, time to a searchable index ≥ 2.5× faster than LangChain: "
                f"{ratio(rounds, tiers, lc, 'build_s'):.1f}× (best index after {summary[tiers]['best_s']:.1f} s, "
                f"LangChain's build {summary[lc]['build_s']:.1f} s)",
                ratio(rounds, tiers, lc, "build_s") >= 2.5,
            ),
            (
                f"two tiers, searchable ≥ 5× faster than txtai: {ratio(rounds, tiers, tx, 'build_s'):.1f}×",
                ratio(rounds, tiers, tx, "build_s") >= 5,
            ),
            (
                f"two tiers, query p50 on the best index below both: {summary[tiers]['p50_ms']:.1f} ms vs "
                f"{summary[lc]['p50_ms']:.1f} / {summary[tx]['p50_ms']:.1f} ms",
                summary[tiers]["p50_ms"] < peers_p50,
            ),
        ]
    for encoder in ("minilm", "use"):
        mine = ("assistant", encoder)
        for peer in (("langchain", encoder), ("txtai", encoder)):
            if mine in summary and peer in summary:
                b, q = ratio(rounds, mine, peer, "build_s"), ratio(rounds, mine, peer, "p50_ms")
                checks.append(
                    (
                        f"same encoder ({ENCODERS[encoder]}) vs {NAMES[peer[0]]}: build {b:.2f}× "
                        f"(rounds {spread(rounds, mine, peer, 'build_s')}), query {q:.2f}× "
                        f"(rounds {spread(rounds, mine, peer, 'p50_ms')})",
                        b >= 1 and q >= 1,
                    )
                )
    return checks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="a SQuAD-format JSON file")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--out", type=Path, default=HERE / "results")
    parser.add_argument("--only", nargs="*", help="tool/encoder pairs to run, e.g. assistant/use txtai/minilm")
    parser.add_argument("--report", action="store_true", help="only rewrite compare.md from --out's compare.json")
    args = parser.parse_args()
    if args.report:
        saved = json.loads((args.out / "compare.json").read_text())
        rounds = [{tuple(k.split("/")): v for k, v in r.items()} for r in saved["rounds"]]
        print(report(args.out, Path(saved["data"]), saved["sizes"], rounds))
        return
    runs = [tuple(x.split("/")) for x in args.only] if args.only else RUNS
    args.out.mkdir(parents=True, exist_ok=True)
    rounds: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        work = Path(tmp)
        sizes = prepare(args.data, work)
        print(
            f"{sizes['documents']} documents, {sizes['passages']} passages, {sizes['questions']} questions", flush=True
        )
        for n in range(args.runs):
            order = runs[n % len(runs) :] + runs[: n % len(runs)]  # rotate, so no tool always runs first
            results = {}
            for tool, encoder in order:
                started = time.perf_counter()
                results[(tool, encoder)] = run_one(tool, encoder, work)
                r = results[(tool, encoder)]
                print(
                    f"round {n + 1} {tool}/{encoder}: build {r['build_s']:.1f}s p50 {r['p50_ms']:.1f}ms "
                    f"hit@1 {r['hit1']:.3f} ({time.perf_counter() - started:.0f}s)",
                    flush=True,
                )
            rounds.append(results)
    print(report(args.out, args.data, sizes, rounds))


def report(out: Path, data: Path, sizes: dict, rounds: list[dict]) -> str:
    """Write ``compare.md`` and ``compare.json`` from the rounds' results; returns the Markdown."""
    summary = summarise(rounds)
    checks = targets(summary, rounds)
    header = (
        f"Corpus: {data.name}, {sizes['documents']} documents → {sizes['passages']} passages (the assistant's "
        f"chunking, given to every tool), {sizes['questions']} questions; medians of {len(rounds)} runs; "
        f"{platform.machine()}, {_cores()} cores. Build = texts to a saved, searchable index (encoding included, "
        "model loading not); query = one question in, 5 ranked passages out (encoding included); "
        "hit@k = a passage of the right document containing the answer among the first k."
    )
    body = "\n\n".join(table(t, m, p, summary, rounds) for t, m, p in TABLES)
    checklist = "\n".join(f"- {'✅' if ok else '❌'} {text}" for text, ok in checks)
    markdown = f"{header}\n\n{body}\n\n### Targets\n\n{checklist}\n"
    (out / "compare.md").write_text(markdown)
    (out / "compare.json").write_text(
        json.dumps(
            {
                "data": str(data),
                "sizes": sizes,
                "runs": len(rounds),
                "summary": {f"{t}/{e}": v for (t, e), v in summary.items()},
                "rounds": [{f"{t}/{e}": v for (t, e), v in r.items()} for r in rounds],
                "targets": [{"target": t, "met": ok} for t, ok in checks],
            },
            indent=1,
            ensure_ascii=False,
        )
    )
    return markdown


def _cores() -> int:
    import os

    return os.cpu_count() or 1


if __name__ == "__main__":
    main()
