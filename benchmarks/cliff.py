"""Seed quality with a large upload: the seed questions asked of the seed alone and of the seed beside ~70k
unrelated passages in the same index (issue 19: sentence-level re-scoring must not switch off with size).

Usage: python benchmarks/cliff.py [--passages 70000] [--tree DIR ...] [--build-once] [--reuse] [--model M]
       [--questions dev|all|tune|heldout] [--out benchmarks/results]

The upload is made from real text (CMRC 2018 trial and SQuAD dev contexts): each paragraph is a run
of 2-5 consecutive sentences of one context, starting anywhere in it, so it repeats real sentences in new
passages. Each ``--tree`` (a checkout of the assistant; default this one) is measured in the same run, each
stage in a fresh process: ``build`` (index the corpus; build time, peak RSS, index size on disk) and
``serve`` (load the saved index and ask the seed questions: hit@1 and hit@5 over the answerable ones, the share of
them answered and of the unanswerable ones refused, query time median, peak RSS).
``--build-once`` builds each corpus with the first tree only and serves every tree from that index (for trees
that differ in how they search, not in what they store); ``--reuse`` serves the indexes an earlier run in the same
``--work`` built (with the same upload and model). ``--questions tune`` / ``heldout`` ask the
questions of one half (``eval/splits.py``) of the user-style sets (dev, extra, more).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
DATA = Path("/work/shared/data")
# DRCD (traditional characters) is left out: it would change the corpus's script, and so how questions are encoded
SOURCES = ("cmrc2018_trial.json", "squad_v1.1_dev.dev1000.json")
QUESTIONS = (REPO / "eval" / "data" / "seed_dev_questions.jsonl", REPO / "eval" / "seed_extra.jsonl")
# ``--questions all``: with the 130 user-style ones (95 answerable) and the tuning ones, for a steadier figure
ALL_QUESTIONS = (*QUESTIONS, REPO / "eval" / "seed_more.jsonl", REPO / "eval" / "seed_tune.jsonl")
# ``--questions tune`` / ``heldout``: one half of the user-style sets (``seed_tune.jsonl`` is all tuning)
USER_QUESTIONS = ALL_QUESTIONS[:3]
PER_FILE = 1000  # paragraphs per upload file


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def make_upload(folder: Path, passages: int, data: Path = DATA, seed: int = 0) -> int:
    """Write ~``passages`` paragraphs of real, reshuffled text into ``folder``; the number written."""
    sys.path[:0] = [str(HERE), str(REPO)]
    from squad import read_squad

    from assistant.text.passages import split_sentences

    contexts = []
    for name in SOURCES:
        if (data / name).exists():
            documents, _ = read_squad(data / name)
            contexts += [split_sentences(t.split("\n", 1)[-1]) for t in documents.values()]
    contexts = [c for c in contexts if len(c) >= 2]
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    written = 0
    for number in range(-(-passages // PER_FILE)):
        paragraphs = []
        for _ in range(min(PER_FILE, passages - written)):
            sentences = rng.choice(contexts)
            start = rng.randrange(len(sentences) - 1)
            text = ""
            for s in sentences[start : start + rng.randint(2, 5)]:
                if len(text) + len(s) > 380:
                    break
                text += s if not text or "\u4e00" <= s[0] <= "\u9fff" else " " + s
            paragraphs.append(text or sentences[start][:380])
        (folder / f"upload-{number:03d}.txt").write_text("\n\n".join(paragraphs) + "\n", encoding="utf-8")
        written += len(paragraphs)
    return written


def build(corpus: Path, index: Path) -> dict:
    from assistant.api import Assistant

    started = time.perf_counter()
    bot = Assistant(corpus, index_root=index)
    bot.refresh()
    seconds = time.perf_counter() - started
    manifest = bot.index.manifest
    disk = sum(p.stat().st_size for p in index.rglob("*") if p.is_file())
    return {
        "build_s": seconds,
        "passages": manifest.get("passages"),
        "sentences": manifest.get("sentences"),
        "index_mb": disk / 2**20,
        "build_peak_rss_mb": rss_mb(),
    }


def serve(corpus: Path, index: Path) -> dict:
    from assistant.api import Assistant
    from assistant.evaluate import evaluate

    questions = seed_questions(os.environ.get("CLIFF_QUESTIONS", "dev"))  # hit@k over the answerable ones
    bot = Assistant(corpus, index_root=index)
    started = time.perf_counter()
    bot.refresh()
    load_s = time.perf_counter() - started
    evaluate(bot, questions, name="warm-up", alpha=0.5, progress=False)  # a server that has been answering
    result = evaluate(bot, questions, name="hybrid", alpha=0.5, progress=False)
    return {
        "load_s": load_s,
        "hit@1": result.hit[1],
        "hit@5": result.hit[5],
        "query_median_ms": result.median_ms,
        "answered": result.answerable_found,
        "refused": result.unanswerable_correct,
        "unanswerable": result.unanswerable,
        "serve_peak_rss_mb": rss_mb(),
        "misses": [f"{m['question']} -> {m['top']}" for m in result.misses],
    }


def seed_questions(which: str):
    """The seed questions of ``--questions``: ``dev``, ``all``, or one half (``tune``, ``heldout``) of the user-style sets."""
    from assistant.evaluate import load_questions_jsonl

    if which in ("dev", "all"):
        return [q for path in (QUESTIONS if which == "dev" else ALL_QUESTIONS) for q in load_questions_jsonl(path)]
    sys.path.insert(0, str(REPO))
    from eval.splits import question_half

    return [
        q
        for path in USER_QUESTIONS
        for q in load_questions_jsonl(path)
        if question_half(q.question, q.history) == which
    ]


def stage(name: str, tree: Path, corpus: Path, index: Path) -> dict:
    """Run one stage with the assistant of ``tree`` in a fresh process."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    proc = subprocess.run(
        [sys.executable, __file__, "--stage", name, "--corpus", str(corpus), "--index", str(index)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tree,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{name} with {tree} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--passages", type=int, default=70_000)
    parser.add_argument("--tree", type=Path, action="append", help="an assistant checkout to measure (repeatable)")
    parser.add_argument("--work", type=Path, default=Path("/tmp/assistant-cliff"))
    parser.add_argument("--out", type=Path, default=HERE / "results")
    parser.add_argument("--model", help="the encoder (default: the assistant's default, one tier)")
    parser.add_argument(
        "--questions", choices=["dev", "all", "tune", "heldout"], default="dev", help="which seed questions (see above)"
    )
    parser.add_argument("--build-once", action="store_true", help="build with the first tree, serve every tree")
    parser.add_argument("--reuse", action="store_true", help="serve the indexes an earlier run in --work built")
    parser.add_argument("--stage", choices=["build", "serve"], help=argparse.SUPPRESS)
    parser.add_argument("--corpus", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--index", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.stage:
        print(json.dumps({"build": build, "serve": serve}[args.stage](args.corpus, args.index)))
        return
    if args.model:
        os.environ["ASSISTANT_MODEL"] = args.model  # the stages' processes inherit it
    os.environ["CLIFF_QUESTIONS"] = args.questions
    tag = "-".join(x for x in (args.model, None if args.questions == "dev" else f"{args.questions}-questions") if x)
    trees = args.tree or [REPO]
    print(
        json.dumps(
            run(trees, args.work, args.passages, args.out, tag=tag, build_once=args.build_once, reuse=args.reuse)
        )
    )


def run(
    trees, work: Path, passages: int, out: Path | None, tag: str = "", build_once: bool = False, reuse: bool = False
) -> dict:
    """Both corpora, each tree: build then serve; results written to ``out/cliff[-tag].json`` and ``.md``."""
    seeds, large = work / "seeds", work / "seeds-large"
    done = large / ".complete"
    if not done.exists() or done.read_text().strip() != str(passages):  # none yet, or one of another size
        shutil.rmtree(work, ignore_errors=True)
        for folder in (seeds, large):
            shutil.copytree(REPO / "seeds", folder)
        made = make_upload(large / "upload", passages)
        (large / ".complete").write_text(str(made))
    rows, built = [], {}
    for tree in trees:
        for corpus in (seeds, large):
            builder = trees[0] if build_once else tree
            index = work / "index" / f"{Path(builder).resolve().name}-{corpus.name}"
            row = {"tree": str(tree), "corpus": corpus.name}
            record = index.parent / f"{index.name}.build.json"  # the build's figures, for ``--reuse``
            if builder == tree and not (reuse and record.exists()):
                shutil.rmtree(index, ignore_errors=True)
                record.unlink(missing_ok=True)
                built[corpus.name] = stage("build", Path(tree), corpus, index)
                record.write_text(json.dumps(built[corpus.name]))
            elif builder == tree:
                built[corpus.name] = json.loads(record.read_text())
            row.update(built[corpus.name])
            row.update(stage("serve", Path(tree), corpus, index))
            rows.append(row)
            print(json.dumps(row), file=sys.stderr, flush=True)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        name = f"cliff-{tag}" if tag else "cliff"
        (out / f"{name}.json").write_text(json.dumps(rows, indent=1, ensure_ascii=False))
        lines = [
            "| tree | corpus | passages | sentence vectors | hit@1 | hit@5 | answered | refused | query median ms | build s"
            " | build peak RSS MB | serve peak RSS MB | on disk MB |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for r in rows:
            lines.append(
                f"| {Path(r['tree']).name} | {r['corpus']} | {r['passages']:,} | {r['sentences']:,} | {r['hit@1']:.3f} "
                f"| {r['hit@5']:.3f} | {_share(r, 'answered')} | {_share(r, 'refused')} | {r['query_median_ms']:.1f} | {r['build_s']:.1f} | {r['build_peak_rss_mb']:.0f} "
                f"| {r['serve_peak_rss_mb']:.0f} | {r['index_mb']:.1f} |"
            )
        (out / f"{name}.md").write_text("\n".join(lines) + "\n")
    return {"rows": rows}


def _share(row: dict, key: str) -> str:
    """A share for the table; '-' in rows of runs before it was measured (or no unanswerable question)."""
    if row.get(key) is None or (key == "refused" and not row.get("unanswerable")):
        return "-"
    return f"{row[key]:.3f}"


if __name__ == "__main__":
    main()
