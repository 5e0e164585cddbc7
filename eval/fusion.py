"""Sweep the fusion's dense weight and the dense side's floor per encoder, on the tuning halves only.

Usage:
    python eval/fusion.py --model multilingual-e5-small --sets seed cmrc squad --articles 20

A model whose cosines all sit high (e5: unrelated passages ~0.75, the right one ~0.85) weighs little against
BM25 in ``fuse`` unless its cosine is first stretched: ``(cos - floor) / (1 - floor)`` (``DENSE_FLOORS``,
``assistant/search/settings.py``). For each (alpha, floor)
this prints hit@1 / MRR@10 of every set's tuning half, asked through ``Assistant.ask`` at threshold 0 (ranking
only, with follow-ups), and their unweighted mean. The held-out halves are not asked.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from assistant.evaluate import _rank  # noqa: E402
from assistant.search import settings  # noqa: E402
from eval.report import SETS, seed_set, wikipedia_set  # noqa: E402
from eval.splits import HALVES  # noqa: E402

SEED_TUNE = ROOT / "eval" / "seed_tune.jsonl"


def tuning_questions(name: str, folder: Path, articles: int | None):
    from assistant.evaluate import load_questions_jsonl

    if name == "seed":
        answerable, _ = seed_set()[HALVES[0]]
        return ROOT / "seeds", None, answerable + [q for q in load_questions_jsonl(SEED_TUNE) if q.answers]
    gold, halves, _ = wikipedia_set(SETS[name][1], folder, articles=articles, unanswerable=0)
    return folder, gold, halves[HALVES[0]][0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--sets", nargs="+", default=["seed", "cmrc"], choices=list(SETS))
    parser.add_argument("--articles", type=int, help="only the first N articles of each Wikipedia set")
    parser.add_argument("--alphas", type=float, nargs="+", default=[0.3, 0.5, 0.7])
    parser.add_argument("--floors", type=float, nargs="+", default=[0.0, 0.5, 0.6, 0.7])
    parser.add_argument("--index-dir", type=Path, help="keep the indexes here (default: a temporary folder)")
    args = parser.parse_args()
    from assistant.api import Assistant
    from assistant.encoders.encoder import model_id

    name_of_model, floors = model_id(args.model), dict(settings.DENSE_FLOORS)
    with tempfile.TemporaryDirectory(prefix="assistant-fusion-") as tmp:
        root = args.index_dir or Path(tmp) / "index"
        bots = {}
        for name in args.sets:
            folder, gold, questions = tuning_questions(name, Path(tmp) / name, args.articles)
            bot = Assistant(folder, model=args.model, index_root=root, progress=False)
            bot.refresh()
            bots[name] = (bot, gold, questions)
            print(f"{name}: {len(questions)} tuning questions, {len(bot.index.passages)} passages", flush=True)
        print("| alpha | floor | " + " | ".join(f"{n} hit@1 | {n} MRR" for n in bots) + " | mean hit@1 |")
        print("|---|---|" + "---|---|" * len(bots) + "---|")
        for floor in args.floors:
            settings.DENSE_FLOORS[name_of_model] = floor
            for alpha in args.alphas:
                cells, hits = [], []
                for bot, gold, questions in bots.values():
                    ranks = []
                    for q in questions:
                        answer = bot.ask(q.question, q.history, top_k=10, alpha=alpha, threshold=0.0)
                        ranks.append(_rank(answer.hits, q, gold))
                    hit1 = sum(r == 1 for r in ranks) / len(ranks)
                    mrr = sum(1 / r for r in ranks if r) / len(ranks)
                    cells += [f"{hit1:.3f}", f"{mrr:.3f}"]
                    hits.append(hit1)
                print(f"| {alpha} | {floor} | " + " | ".join(cells) + f" | {np.mean(hits):.3f} |", flush=True)
        settings.DENSE_FLOORS.clear()
        settings.DENSE_FLOORS.update(floors)


if __name__ == "__main__":
    main()
