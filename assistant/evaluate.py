"""Retrieval quality: hit@k, MRR@10, sentence@1, not-found accuracy and speed on SQuAD/JSONL data or a corpus folder."""

from __future__ import annotations

import json
import logging
import re
import statistics
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .errors import AssistantError, QuestionError
from .keyword import fold
from .search import make_answer, relevant

logger = logging.getLogger(__name__)

KS = (1, 3, 5, 10)
CONFIGS = {"keyword": 0.0, "dense": 1.0}


@dataclass(frozen=True)
class EvalPassage:
    id: str
    title: str
    text: str


@dataclass(frozen=True)
class EvalQuestion:
    """One question; ``passage_id`` is the gold passage when known; no answers means unanswerable."""

    question: str
    answers: tuple[str, ...] = ()
    passage_id: str = ""
    history: tuple[str, ...] = ()


@dataclass
class EvalResult:
    """Scores of one configuration on one question set."""

    name: str
    alpha: float
    questions: int
    answerable: int
    hit: dict[int, float] = field(default_factory=dict)
    mrr10: float = 0.0
    answerable_found: float = 0.0
    # Share of the answerable questions answered (found) whose bold answer sentence holds a gold answer.
    sentence1: float = 0.0
    sentence_questions: int = 0  # its denominator
    unanswerable: int = 0
    unanswerable_correct: float = 0.0
    invalid: int = 0
    qps: float = 0.0
    median_ms: float = 0.0
    build_seconds: float = 0.0
    misses: list[dict] = field(default_factory=list)
    sentence_misses: list[dict] = field(default_factory=list)


def load_questions_jsonl(path: Path) -> list[EvalQuestion]:
    """Lines of ``{"question", "answers", "history"?, "passage_id"?}``."""
    out = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            out.append(
                EvalQuestion(
                    question=row["question"],
                    answers=tuple(row.get("answers") or ()),
                    passage_id=str(row.get("passage_id", "")),
                    history=tuple(row.get("history") or ()),
                )
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise AssistantError(
                f"{path} line {number} is not a question record ({exc}); see README for the format."
            ) from exc
    return out


def load_dataset(path: Path) -> tuple[list[EvalPassage], list[EvalQuestion]]:
    """SQuAD-format JSON (CMRC 2018, DRCD, SQuAD), or a ``*.passages.jsonl`` / ``*.questions.jsonl`` pair."""
    path = Path(path)
    if not path.exists():
        raise AssistantError(f"{path} does not exist; give a SQuAD-format .json or a .questions.jsonl file.")
    if path.suffix == ".json":
        return _load_squad(path)
    name = path.name
    if name.endswith(".questions.jsonl") or name.endswith(".passages.jsonl"):
        stem = name.rsplit(".", 2)[0]
        passages_path = path.with_name(f"{stem}.passages.jsonl")
        questions_path = path.with_name(f"{stem}.questions.jsonl")
        passages = [
            EvalPassage(str(r["id"]), r.get("title", ""), r["text"])
            for r in map(json.loads, passages_path.read_text(encoding="utf-8").splitlines())
        ]
        return passages, load_questions_jsonl(questions_path)
    raise AssistantError(
        f"Cannot tell the format of {path}: use SQuAD .json, a NAME.questions.jsonl beside NAME.passages.jsonl, "
        "or questions.jsonl with --corpus DIR."
    )


def _load_squad(path: Path) -> tuple[list[EvalPassage], list[EvalQuestion]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))["data"]
    except (ValueError, KeyError) as exc:
        raise AssistantError(f"{path} is not SQuAD-format JSON ({exc}).") from exc
    passages, questions = [], []
    for a, article in enumerate(data):
        for p, paragraph in enumerate(article["paragraphs"]):
            pid = str(paragraph.get("id") or f"{article.get('id', a)}-{p}")
            passages.append(EvalPassage(pid, article.get("title", ""), paragraph["context"]))
            for qa in paragraph["qas"]:
                answers = () if qa.get("is_impossible") else tuple(x["text"] for x in qa.get("answers", []))
                questions.append(EvalQuestion(qa["question"], answers, pid))
    return passages, questions


def write_corpus(passages: Sequence[EvalPassage], folder: Path) -> dict[str, str]:
    """One Markdown file per passage (title as heading); returns file name → passage id."""
    folder.mkdir(parents=True, exist_ok=True)
    names = {}
    for i, p in enumerate(passages):
        name = f"{i:06d}.md"
        title = p.title.replace("\n", " ").strip() or p.id
        (folder / name).write_text(f"# {title}\n\n{p.text.strip()}\n", encoding="utf-8")
        names[name] = p.id
    return names


def evaluate(
    bot,
    questions: Sequence[EvalQuestion],
    *,
    name: str = "hybrid",
    alpha: float | None = None,
    gold_of_source: dict[str, str] | None = None,
    progress: bool = True,
    depth: int = 10,
) -> EvalResult:
    """Ask every question through ``bot.ask`` (the chat's pipeline) and score the ranking.

    With ``gold_of_source`` a hit is a passage from the gold document (ranked by distinct documents);
    otherwise a hit is a passage containing one of the answer strings.
    """
    from tqdm import tqdm

    alpha = bot.alpha if alpha is None else alpha
    ranks: list[int | None] = []
    found_answerable, correct_unanswerable, unanswerable = 0, 0, 0
    sentences: list[bool] = []  # per answered question with answer strings: its answer sentence holds one
    misses, sentence_misses = [], []
    latencies = []
    invalid = 0
    for q in tqdm(questions, desc=f"eval {name}", disable=not progress, unit="q", leave=False):
        started = time.perf_counter()
        try:
            answer = bot.ask(q.question, q.history, top_k=depth, alpha=alpha, threshold=0.0)
        except QuestionError as exc:
            logger.warning("Skipped question %r: %s", q.question[:40], exc)
            invalid += 1
            continue
        latencies.append(time.perf_counter() - started)
        found = bool(relevant(answer.hits, bot.threshold))  # the policy ask applies, on the whole ranking
        if not q.answers and not (gold_of_source and q.passage_id):
            unanswerable += 1
            correct_unanswerable += not found
            continue
        found_answerable += found
        if found and q.answers:
            sentence = chat_sentence(bot, answer)
            sentences.append(sentence_holds_answer(sentence, q.answers))
            if not sentences[-1] and len(sentence_misses) < 50:
                sentence_misses.append({"question": q.question, "answers": list(q.answers), "sentence": sentence})
        rank = _rank(answer.hits, q, gold_of_source)
        ranks.append(rank)
        if rank != 1 and len(misses) < 50:
            misses.append(
                {
                    "question": q.question,
                    "rank": rank,
                    "top": answer.hits[0].passage.citation if answer.hits else None,
                    "top_text": answer.hits[0].passage.text[:80] if answer.hits else "",
                }
            )
    answerable = len(ranks)
    result = EvalResult(
        name=name,
        alpha=alpha,
        questions=len(questions) - invalid,
        answerable=answerable,
        unanswerable=unanswerable,
        misses=misses,
        sentence_misses=sentence_misses,
        invalid=invalid,
    )
    if answerable:
        result.hit = {k: sum(1 for r in ranks if r and r <= k) / answerable for k in KS}
        result.mrr10 = sum(1 / r for r in ranks if r and r <= 10) / answerable
        result.answerable_found = found_answerable / answerable
        result.sentence1 = sum(sentences) / len(sentences) if sentences else 0.0
        result.sentence_questions = len(sentences)
    if unanswerable:
        result.unanswerable_correct = correct_unanswerable / unanswerable
    result.qps = len(latencies) / sum(latencies) if latencies else 0.0
    result.median_ms = statistics.median(latencies) * 1000 if latencies else 0.0
    return result


def chat_sentence(bot, answer) -> str:
    """The bold answer sentence the chat would show for ``answer`` (asked with more hits and no threshold):
    the first of ``make_answer``'s sentences over the hits the chat cites (each hit's sentence is its own)."""
    hits = relevant(answer.hits[: bot.top_k], bot.threshold)
    chosen = make_answer(answer.question, hits, found=bool(hits)).sentences
    return chosen[0][0] if chosen else ""


def sentence_holds_answer(sentence: str, answers: Sequence[str]) -> bool:
    """Whether one of ``answers`` is in ``sentence``, both compared as ``normal_text`` makes them."""
    text = normal_text(sentence)
    return any(normal_text(a) and normal_text(a) in text for a in answers)


def normal_text(text: str) -> str:
    """Text compared for sentence@1: NFKC (full-width → half-width), lower case, traditional → simplified
    Chinese (the keyword side's ``fold``), and no whitespace at all (an answer wrapped across a line still
    matches; Chinese has no spaces to lose)."""
    return re.sub(r"\s+", "", fold(text))


def _rank(hits, q: EvalQuestion, gold_of_source: dict[str, str] | None) -> int | None:
    if gold_of_source is not None and q.passage_id:
        seen: list[str] = []
        for h in hits:
            doc = gold_of_source.get(h.passage.source, h.passage.source)
            if doc not in seen:
                seen.append(doc)
            if doc == q.passage_id:
                return len(seen)
        return None
    for i, h in enumerate(hits, start=1):
        if any(a and a in h.passage.text for a in q.answers):
            return i
    return None


def run_eval(
    data: Path,
    *,
    corpus: Path | None = None,
    extra_questions: Sequence[Path] = (),
    model: str | None = None,
    configs: Sequence[str] = ("hybrid",),
    limit: int | None = None,
    progress: bool = True,
    **settings,
) -> list[EvalResult]:
    """Index the data (or open ``corpus``), then evaluate each configuration on the same index."""
    from .api import Assistant
    from .search import DEFAULT_ALPHA

    with tempfile.TemporaryDirectory(prefix="assistant-eval-") as tmp:
        if corpus is not None:
            questions = load_questions_jsonl(data)
            gold = None
            folder = Path(corpus)
        else:
            passages, questions = load_dataset(data)
            folder = Path(tmp) / "corpus"
            gold = write_corpus(passages, folder)
        for extra in extra_questions:
            questions += load_questions_jsonl(extra)
        if limit:
            questions = questions[:limit]
        bot = Assistant(folder, model=model, index_root=Path(tmp) / "index", progress=progress, **settings)
        started = time.perf_counter()
        bot.refresh()
        build = time.perf_counter() - started
        results = []
        for config in configs:
            alpha = CONFIGS.get(config, settings.get("alpha", DEFAULT_ALPHA))
            result = evaluate(bot, questions, name=config, alpha=alpha, gold_of_source=gold, progress=progress)
            result.build_seconds = build
            results.append(result)
        return results


def markdown_table(results: Sequence[EvalResult], dataset: str) -> str:
    """One row per configuration."""
    lines = [
        "| dataset | config | questions | hit@1 | hit@3 | hit@5 | hit@10 | MRR@10 | sentence@1 | answerable found "
        "| unanswerable correct | q/s | index build s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        hit = [f"{r.hit.get(k, 0):.3f}" for k in KS]
        unans = f"{r.unanswerable_correct:.2f} ({r.unanswerable})" if r.unanswerable else "–"
        lines.append(
            f"| {dataset} | {r.name} | {r.questions} | {' | '.join(hit)} | {r.mrr10:.3f} | {r.sentence1:.3f} | {r.answerable_found:.3f} "
            f"| {unans} | {r.qps:.1f} | {r.build_seconds:.1f} |"
        )
    return "\n".join(lines)


def to_json(results: Sequence[EvalResult]) -> list[dict]:
    out = []
    for r in results:
        row = asdict(r)
        out.append({**row, "hit": {f"hit@{k}": v for k, v in r.hit.items()}, "sentence@1": row.pop("sentence1")})
    return out
