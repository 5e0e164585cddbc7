"""Development aid: build the CMRC trial index once, then sweep fusion weights and the not-found threshold.

Usage: python eval/tune.py eval/data/cmrc2018_trial.json --questions eval/unanswerable.jsonl
Prints hit@1/hit@5/MRR per alpha and, for the default alpha, how many answerable questions and how
many unanswerable ones each threshold keeps. Tune on the trial data only.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from assistant.api import Assistant  # noqa: E402
from assistant.evaluate import load_dataset, load_questions_jsonl, write_corpus  # noqa: E402
from assistant.search.conversation import make_query  # noqa: E402
from assistant.search.retriever import retrieve  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("data", type=Path)
    parser.add_argument("--questions", type=Path, action="append", default=[])
    parser.add_argument("--alphas", default="0,0.3,0.4,0.5,0.6,0.7,1")
    args = parser.parse_args()
    passages, questions = load_dataset(args.data)
    questions = [q for q in questions if q.question.strip()]
    extra = [q for path in args.questions for q in load_questions_jsonl(path)]
    with tempfile.TemporaryDirectory() as tmp:
        gold = write_corpus(passages, Path(tmp) / "c")
        bot = Assistant(Path(tmp) / "c", index_root=Path(tmp) / "i")
        bot.refresh()
        for alpha in [float(a) for a in args.alphas.split(",")]:
            ranks, tops = [], []
            for q in questions:
                hits = retrieve(bot.index, bot.encoder, [make_query(q.question, q.history)], k=10, alpha=alpha)[0].hits
                docs = list(dict.fromkeys(gold[h.passage.source] for h in hits))
                ranks.append(docs.index(q.passage_id) + 1 if q.passage_id in docs else None)
                tops.append(hits[0].score if hits else 0.0)
            extra_tops = []
            for q in extra:
                hits = retrieve(bot.index, bot.encoder, [make_query(q.question, q.history)], k=1, alpha=alpha)[0].hits
                extra_tops.append(hits[0].score if hits else 0.0)
            n = len(ranks)
            h1 = sum(r == 1 for r in ranks) / n
            h5 = sum(bool(r and r <= 5) for r in ranks) / n
            mrr = sum(1 / r for r in ranks if r) / n
            print(f"alpha={alpha:.2f} hit@1={h1:.4f} hit@5={h5:.4f} mrr={mrr:.4f}")
            tops, extra_tops = np.array(tops), np.array(extra_tops)
            for t in (0.1, 0.15, 0.2, 0.25, 0.3, 0.35):
                kept = (tops >= t).mean()
                rejected = (extra_tops < t).mean() if len(extra_tops) else float("nan")
                print(f"   threshold {t:.2f}: answerable found {kept:.3f}  unanswerable rejected {rejected:.3f}")
            if len(extra_tops):
                print(f"   unanswerable top scores: max {extra_tops.max():.3f} p90 {np.quantile(extra_tops, 0.9):.3f}")
                print(f"   answerable top scores: p01 {np.quantile(tops, 0.01):.3f} p05 {np.quantile(tops, 0.05):.3f}")


if __name__ == "__main__":
    main()
