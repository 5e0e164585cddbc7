"""A SQuAD-format file as a benchmark corpus: one document file per context, the passages, the questions.

Every tool indexes the same passages: the assistant reads the document files and chunks them itself,
and the peers get exactly the passages its chunker makes (title + text), so hit@k compares like with like.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass(frozen=True)
class Question:
    """A question, its answer strings, and the document (context) that answers it."""

    question: str
    answers: tuple[str, ...]
    source: str


def read_squad(path: Path) -> tuple[dict[str, str], list[Question]]:
    """``{file name: "title\\ncontext"}`` and the questions of a SQuAD-format JSON file."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    documents: dict[str, str] = {}
    questions: list[Question] = []
    for n, article in enumerate(data["data"]):
        for m, paragraph in enumerate(article["paragraphs"]):
            name = f"{paragraph.get('id') or f'{n:05d}-{m:03d}'}.txt"
            title = article.get("title", "").strip()
            documents[name] = f"{title}\n{paragraph['context'].strip()}\n" if title else paragraph["context"]
            for qa in paragraph["qas"]:
                answers = tuple(dict.fromkeys(a["text"] for a in qa.get("answers", []) if a["text"].strip()))
                if answers and qa["question"].strip():
                    questions.append(Question(qa["question"], answers, name))
    return documents, questions


def prepare(path: Path, work: Path) -> dict:
    """Write ``corpus/`` (one file per context), ``passages.jsonl`` and ``questions.jsonl`` under ``work``."""
    from assistant.storage.build import CHUNKING
    from assistant.text.documents import read_document
    from assistant.text.passages import make_passages

    documents, questions = read_squad(path)
    corpus = work / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    for name, text in documents.items():
        (corpus / name).write_text(text, encoding="utf-8")
    passages = []
    for name in sorted(documents):
        doc = read_document(corpus / name, root=corpus)
        for p in make_passages(doc, **CHUNKING):
            passages.append({"source": p.source, "title": p.title, "text": p.text})
    _write_jsonl(work / "passages.jsonl", passages)
    _write_jsonl(work / "questions.jsonl", [asdict(q) for q in questions])
    return {"documents": len(documents), "passages": len(passages), "questions": len(questions)}


def load(work: Path) -> tuple[list[dict], list[Question]]:
    """The passages and questions written by :func:`prepare`."""
    passages = _read_jsonl(work / "passages.jsonl")
    questions = [
        Question(q["question"], tuple(q["answers"]), q["source"]) for q in _read_jsonl(work / "questions.jsonl")
    ]
    return passages, questions


def gold_rows(passages: list[dict], question: Question) -> set[int]:
    """Passages that answer: those of the right document containing an answer (or, if the answer
    was cut by chunking, any passage of that document)."""
    own = [i for i, p in enumerate(passages) if p["source"] == question.source]
    with_answer = {i for i in own if any(a in passages[i]["text"] for a in question.answers)}
    return with_answer or set(own)


def hits_at(ranked: list[list[int]], gold: list[set[int]], k: int) -> float:
    """Share of questions with an answering passage among the first ``k`` results."""
    return sum(bool(set(r[:k]) & g) for r, g in zip(ranked, gold, strict=True)) / max(1, len(gold))


def _write_jsonl(path: Path, rows: list[dict]) -> None:
    with open(path, "w", encoding="utf-8") as out:
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")


def _read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]
