"""Split evaluation questions into a tuning half and a held-out half, the same way on every machine.

Usage: python eval/splits.py /work/shared/data/drcd_test.json eval/data/seed_dev_questions.jsonl --out build/splits

A question goes to the held-out half when the first byte of sha256(SEED, its id — else its text and its
passage's id) is odd, so the split depends on nothing but the question (not on the file's order or on
which other questions are there). Tune only on the ``-tune`` files; report both.

- A SQuAD-format ``NAME.json`` becomes ``NAME-tune`` and ``NAME-heldout``, each a
  ``.passages.jsonl`` (every passage, so both halves search the same corpus) and a ``.questions.jsonl``
  whose questions are in hash order: ``python -m assistant eval … --limit N`` then takes a random sample.
- A questions ``NAME.jsonl`` (asked of a ``--corpus`` folder) becomes ``NAME-tune.jsonl`` and ``NAME-heldout.jsonl``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

SEED = "assistant-eval-split-1"
HALVES = ("tune", "heldout")


def key(question: str, qid: str = "", passage_id: str = "") -> bytes:
    """The question's place in the split (its half and its order within the half)."""
    ident = qid or f"{passage_id}\0{question}"
    return hashlib.sha256(f"{SEED}\0{ident}".encode()).digest()


def half(question: str, qid: str = "", passage_id: str = "") -> str:
    return HALVES[key(question, qid, passage_id)[0] & 1]


def question_half(question: str, history=()) -> str:
    """The half of a questions-file record: the history is part of a follow-up's identity (the same words
    after another question differ)."""
    return half(question, passage_id=json.dumps(list(history or [])))


def split_squad(path: Path, out: Path) -> dict[str, int]:
    data = json.loads(path.read_text(encoding="utf-8"))["data"]
    passages, questions = [], {h: [] for h in HALVES}
    for a, article in enumerate(data):
        for p, paragraph in enumerate(article["paragraphs"]):
            pid = str(paragraph.get("id") or f"{article.get('id', a)}-{p}")
            passages.append({"id": pid, "title": article.get("title", ""), "text": paragraph["context"]})
            for qa in paragraph["qas"]:
                answers = [] if qa.get("is_impossible") else [x["text"] for x in qa.get("answers", [])]
                row = {"question": qa["question"], "answers": answers, "passage_id": pid}
                ident = (qa["question"], str(qa.get("id", "")), pid)
                questions[half(*ident)].append((key(*ident), row))
    counts = {}
    for name in HALVES:
        stem = f"{path.stem}-{name}"
        _write_jsonl(out / f"{stem}.passages.jsonl", passages)
        _write_jsonl(out / f"{stem}.questions.jsonl", [row for _, row in sorted(questions[name], key=lambda x: x[0])])
        counts[stem] = len(questions[name])
    return counts


def split_jsonl(path: Path, out: Path) -> dict[str, int]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    counts = {}
    for name in HALVES:
        mine = [r for r in rows if question_half(r["question"], r.get("history")) == name]
        _write_jsonl(out / f"{path.stem}-{name}.jsonl", mine)
        counts[f"{path.stem}-{name}"] = len(mine)
    return counts


def _write_jsonl(path: Path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", type=Path, nargs="+", help="SQuAD-format .json or questions .jsonl")
    parser.add_argument("--out", type=Path, required=True, help="folder for the halves")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for path in args.files:
        counts = split_squad(path, args.out) if path.suffix == ".json" else split_jsonl(path, args.out)
        print(", ".join(f"{stem}: {n} questions" for stem, n in counts.items()))


if __name__ == "__main__":
    main()
