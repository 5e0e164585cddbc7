"""Build one index, then score both halves of ``eval/splits.py`` on it: the ranking and the answer sentence.

Usage: python eval/halves.py build/splits/cmrc2018_trial --extra build/splits/unanswerable --model multilingual-e5-small
       python eval/halves.py build/splits/seed_dev_questions --corpus seeds --extra build/splits/unanswerable
       python eval/halves.py build/splits/drcd_test --articles 40 --model use-multilingual-v3
Prints (and with --json writes) keyword, dense and hybrid hit@1/5, MRR@10, sentence@1 and not-found accuracy
per half: the ranking ``python -m assistant eval`` scores (the same ``retrieve`` call ``ask`` makes), and the
chat's bold answer sentence over the passages it cites (``evaluate.sentence_holds_answer``).
``--sentences auto`` (the default) takes that step only with USE or an index keeping sentence vectors: another
model without them (e5) encodes every sentence of the cited passages, which made a CMRC run take hours on this
shared machine. ``--sentences on`` takes it anyway, bounded: each sentence is encoded once for the whole run
(kept by text) and ``--sentence-limit N`` asks it of the first N questions of each half only.
``--articles N`` keeps the first N articles' passages and their questions (a smaller corpus, said in the output).
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
from assistant.evaluate import (  # noqa: E402
    CONFIGS,
    load_dataset,
    load_questions_jsonl,
    sentence_holds_answer,
    write_corpus,
)
from assistant.search import (  # noqa: E402
    DEFAULT_ALPHA,
    best_sentences,
    dense_text,
    known_sentence_vectors,
    make_answer,
    relevant,
    retrieve_calibrated,
)
from assistant.search.answer import sentences_of  # noqa: E402
from assistant.search.conversation import make_query  # noqa: E402
from eval.splits import HALVES  # noqa: E402

CONFIG_NAMES = ("keyword", "dense", "hybrid")


def rank(hits, q, gold) -> int | None:
    """The gold document's place among the hits' distinct documents, else the first hit holding an answer."""
    if gold is not None and q.passage_id:
        docs = list(dict.fromkeys(gold.get(h.passage.source, h.passage.source) for h in hits))
        return docs.index(q.passage_id) + 1 if q.passage_id in docs else None
    return next((i for i, h in enumerate(hits, 1) if any(a and a in h.passage.text for a in q.answers)), None)


def answer_sentence(bot, found, question: str, cache: dict) -> str | None:
    """The chat's bold answer sentence for one retrieval (as ``Assistant.ask`` makes it), None when nothing is
    found; ``cache`` keeps the vectors of sentences the index has none for, so each is encoded once a run."""
    hits = relevant(found.hits[: bot.top_k], bot.threshold)
    if not hits:
        return None
    known = known_sentence_vectors(bot.index, hits)
    todo = list(dict.fromkeys(s for h in hits for s in sentences_of(h.passage.text) if s not in known))
    new = [s for s in todo if s not in cache]
    if new:
        cache.update(zip(new, bot.encoder.encode(new), strict=True))
    known.update((s, cache[s]) for s in todo)
    vector = found.vectors[0] if found.vectors is not None else None
    words = found.words[0] if found.words else ()
    hits = best_sentences(hits, dense_text(bot.index, question), bot.encoder, words=words, vector=vector, known=known)
    chosen = make_answer(question, hits, found=True).sentences
    return chosen[0][0] if chosen else ""


def score(bot, questions, alpha: float, gold, *, sentences: int, cache: dict, misses: list | None = None) -> dict:
    """Retrieval scores of one configuration, and sentence@1 over the first ``sentences`` questions; the
    answer sentences without an answer go to ``misses`` when it is given (the tuning half's, to read)."""
    ranks, refused, unanswerable, times, holds = [], 0, 0, [], []
    for n, q in enumerate(questions):
        started = time.perf_counter()
        found = retrieve_calibrated(bot.index, bot.encoder, make_query(q.question, q.history), k=10, alpha=alpha)
        hits = found.hits
        times.append(time.perf_counter() - started)
        if not q.answers and not (gold is not None and q.passage_id):
            unanswerable += 1
            refused += not relevant(hits, bot.threshold)  # the policy ask applies
            continue
        ranks.append(rank(hits, q, gold))
        if n < sentences and q.answers:
            sentence = answer_sentence(bot, found, q.question, cache)
            if sentence is not None:
                holds.append(sentence_holds_answer(sentence, q.answers))
                if misses is not None and not holds[-1]:
                    misses.append({"question": q.question, "answers": list(q.answers), "sentence": sentence})
    n = len(ranks) or 1
    return {
        "sentence@1": sum(holds) / len(holds) if holds else None,
        "sentence_questions": len(holds),
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
    parser.add_argument(
        "--sentences",
        choices=("auto", "on", "off"),
        default="auto",
        help="score the answer sentence: auto = with USE, or when the index keeps sentence vectors",
    )
    parser.add_argument("--sentence-limit", type=int, help="answer sentences for the first N questions of a half")
    parser.add_argument("--configs", nargs="+", default=["keyword", "dense", "hybrid"], choices=CONFIG_NAMES)
    parser.add_argument("--misses", type=Path, help="write the tuning half's answer sentences without an answer here")
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
        with_vectors = bot.index.sentence_vectors_of(0) is not None
        pools = getattr(bot.encoder, "pools_spans", False)  # USE: a sentence costs little to encode
        on = args.sentences == "on" or (args.sentences == "auto" and (with_vectors or pools))
        sentences = (args.sentence_limit or sys.maxsize) if on else 0
        out["sentences"] = {"on": on, "index_sentence_vectors": with_vectors, "limit": args.sentence_limit}
        cache: dict = {}
        print(json.dumps(out), flush=True)
        for h in HALVES:
            questions = halves[h][: args.limit]
            questions += [q for stem in args.extra for q in load_questions_jsonl(Path(f"{stem}-{h}.jsonl"))]
            for config in args.configs:
                alpha = CONFIGS.get(config, DEFAULT_ALPHA)
                misses = [] if args.misses and h == "tune" and config == "hybrid" else None
                row = score(bot, questions, alpha, gold, sentences=sentences, cache=cache, misses=misses)
                if misses is not None:
                    args.misses.write_text("".join(json.dumps(m, ensure_ascii=False) + "\n" for m in misses))
                out["results"][f"{h} {config}"] = {"questions": len(questions), **row}
                print(h, config, json.dumps(row), flush=True)
                if args.json:
                    args.json.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
