"""Build one index, then evaluate both halves of ``eval/splits.py`` on it (what two ``eval`` runs give, built once).

Usage: python eval/halves.py build/splits/cmrc2018_trial --extra build/splits/unanswerable --model multilingual-e5-small
       python eval/halves.py build/splits/drcd_test --articles 250 --limit 300 --model use-multilingual-v3
Prints (and with --json writes) keyword, dense and hybrid results per half. ``--articles N`` keeps the
passages of the file's first N articles and their questions (a smaller corpus, said in the output).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from assistant.api import Assistant  # noqa: E402
from assistant.evaluate import CONFIGS, evaluate, load_dataset, load_questions_jsonl, write_corpus  # noqa: E402
from eval.splits import HALVES  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("stem", help="build/splits/NAME (NAME-tune.* and NAME-heldout.* beside it)")
    parser.add_argument("--extra", help="build/splits/NAME of more questions (e.g. unanswerable ones), per half")
    parser.add_argument("--model")
    parser.add_argument("--articles", type=int, help="only the first N articles' passages and questions")
    parser.add_argument("--limit", type=int, help="only the first N questions of each half (a random sample)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    halves = {h: load_dataset(Path(f"{args.stem}-{h}.questions.jsonl")) for h in HALVES}
    passages = halves["tune"][0]
    if args.articles:
        articles = list(dict.fromkeys(p.id.rsplit("-", 1)[0] for p in passages))[: args.articles]
        passages = [p for p in passages if p.id.rsplit("-", 1)[0] in set(articles)]
    kept = {p.id for p in passages}
    out = {"data": args.stem, "model": args.model, "passages": len(passages), "results": {}}
    with tempfile.TemporaryDirectory(prefix="assistant-halves-") as tmp:
        gold = write_corpus(passages, Path(tmp) / "corpus")
        bot = Assistant(Path(tmp) / "corpus", model=args.model, index_root=Path(tmp) / "index", progress=False)
        bot.load_models()
        started = time.perf_counter()
        bot.refresh()
        out["build_seconds"] = time.perf_counter() - started
        for h in HALVES:
            questions = [q for q in halves[h][1] if q.passage_id in kept][: args.limit]
            if args.extra:
                questions += load_questions_jsonl(Path(f"{args.extra}-{h}.jsonl"))
            for config in ("keyword", "dense", "hybrid"):
                result = evaluate(
                    bot, questions, name=config, alpha=CONFIGS.get(config), gold_of_source=gold, progress=False
                )
                row = {k: v for k, v in asdict(result).items() if k != "misses"}
                out["results"][f"{h} {config}"] = row
                print(h, config, json.dumps(row), flush=True)
                if args.json:
                    args.json.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
