"""Build one index, then score both halves of ``eval/splits.py`` on it: retrieval only, no answer sentence.

Usage: python eval/halves.py build/splits/cmrc2018_trial --extra build/splits/unanswerable --model multilingual-e5-small
       python eval/halves.py build/splits/seed_dev_questions --corpus seeds --extra build/splits/unanswerable
       python eval/halves.py build/splits/drcd_test --articles 40 --model use-multilingual-v3
Prints (and with --json writes) keyword, dense and hybrid hit@1/5, MRR@10 and not-found accuracy per
half: the ranking ``python -m assistant eval`` scores (the same ``retrieve`` call ``ask`` makes), without
the answer-sentence step, which with a model that has no sentence vectors (e5) encodes every sentence of
the ten hits for each question and made a CMRC run take hours on this shared machine. ``--articles N``
keeps the first N articles' passages and their questions (a smaller corpus, said in the output).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from assistant.api import Assistant  # noqa: E402
from assistant.evaluate import CONFIGS, load_dataset, load_questions_jsonl, write_corpus  # noqa: E402
from assistant.search import DEFAULT_ALPHA, relevant, retrieve_calibrated  # noqa: E402
from assistant.search.conversation import make_query  # noqa: E402
from eval.splits import HALVES  # noqa: E402


def rank(hits, q, gold) -> int | None:
    """The gold document's place among the hits' distinct documents, else the first hit holding an answer."""
    if gold is not None and q.passage_id:
        docs = list(dict.fromkeys(gold.get(h.passage.source, h.passage.source) for h in hits))
        return docs.index(q.passage_id) + 1 if q.passage_id in docs else None
    return next((i for i, h in enumerate(hits, 1) if any(a and a in h.passage.text for a in q.answers)), None)


def score(bot, questions, alpha: float, gold) -> dict:
    ranks, refused, unanswerable, times = [], 0, 0, []
    for q in questions:
        started = time.perf_counter()
        query = make_query(q.question, q.history)
        hits = retrieve_calibrated(bot.index, bot.encoder, query, k=10, alpha=alpha).hits
        times.append(time.perf_counter() - started)
        if not q.answers and not (gold is not None and q.passage_id):
            unanswerable += 1
            refused += not relevant(hits, bot.threshold)  # the policy ask applies
            continue
        ranks.append(rank(hits, q, gold))
    n = len(ranks) or 1
    return {
        "answerable": len(ranks),
        "hit@1": sum(r == 1 for r in ranks) / n,
        "hit@5": sum(bool(r and r <= 5) for r in ranks) / n,
        "mrr10": sum(1 / r for r in ranks if r) / n,
        "unanswerable": unanswerable,
        "unanswerable_correct": refused / unanswerable if unanswerable else None,
        "median_ms": 1000 * statistics.median(times),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("stem", help="build/splits/NAME (NAME-tune.* and NAME-heldout.* beside it)")
    parser.add_argument("--corpus", type=Path, help="documents folder the NAME-HALF.jsonl questions are asked of")
    parser.add_argument("--extra", action="append", default=[], help="build/splits/NAME of more questions, per half")
    parser.add_argument("--model")
    parser.add_argument("--articles", type=int, help="only the first N articles' passages and questions")
    parser.add_argument("--limit", type=int, help="only the first N questions of each half (a random sample)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    out = {"data": args.stem, "model": args.model, "results": {}}
    with tempfile.TemporaryDirectory(prefix="assistant-halves-") as tmp:
        if args.corpus:
            halves = {h: load_questions_jsonl(Path(f"{args.stem}-{h}.jsonl")) for h in HALVES}
            folder, gold = args.corpus, None
        else:
            loaded = {h: load_dataset(Path(f"{args.stem}-{h}.questions.jsonl")) for h in HALVES}
            passages = loaded["tune"][0]
            if args.articles:
                articles = set(list(dict.fromkeys(p.id.rsplit("-", 1)[0] for p in passages))[: args.articles])
                passages = [p for p in passages if p.id.rsplit("-", 1)[0] in articles]
            kept = {p.id for p in passages}
            halves = {h: [q for q in loaded[h][1] if q.passage_id in kept] for h in HALVES}
            folder = Path(tmp) / "corpus"
            gold = write_corpus(passages, folder)
            out["contexts"] = len(passages)
        bot = Assistant(folder, model=args.model, index_root=Path(tmp) / "index", progress=False)
        bot.load_models()
        started = time.perf_counter()
        bot.refresh()
        out["build_seconds"] = time.perf_counter() - started
        out["passages"] = len(bot.index.passages)
        print(json.dumps(out), flush=True)
        for h in HALVES:
            questions = halves[h][: args.limit]
            questions += [q for stem in args.extra for q in load_questions_jsonl(Path(f"{stem}-{h}.jsonl"))]
            for config in ("keyword", "dense", "hybrid"):
                row = score(bot, questions, CONFIGS.get(config, DEFAULT_ALPHA), gold)
                out["results"][f"{h} {config}"] = {"questions": len(questions), **row}
                print(h, config, json.dumps(row), flush=True)
                if args.json:
                    args.json.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
