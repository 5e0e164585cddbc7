"""From hits to an answer: the best sentence of each passage, citations, safe Markdown."""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence
from dataclasses import replace

import numpy as np

from ..encoders import Encoder
from ..keyword import fold, tokenize
from ..records import Answer, Hit
from ..text import CJK, is_question, sentence_vectors_by_text, split_sentences
from .kinds import holds_kind, is_heading, question_kind

NOT_FOUND = {
    "zh": "抱歉，知识库中没有找到与这个问题相关的内容。",
    "en": "Sorry, nothing in the documents answers this question.",
}
_LETTER = re.compile(r"[^\W\d_]")


def language(text: str, default: str = "en") -> str:
    """``zh`` when the text has Chinese characters, ``en`` when it has other letters, else ``default``.

    A question of digits and symbols alone (or a blank one) says nothing about its language, so the
    web page passes its current language as ``default`` and keeps it.
    """
    if CJK.search(text):
        return "zh"
    return "en" if _LETTER.search(text) else default


def known_sentence_vectors(index, hits: Sequence[Hit]) -> dict[str, np.ndarray]:
    """The index's vectors of the hits' sentences, by sentence text (looked up by each hit's row), so that
    choosing each hit's best sentence encodes none of them again; empty when the index keeps none."""
    known = {}
    for hit in hits:
        vectors = index.sentence_vectors_of(hit.row)
        if vectors is not None:
            known.update(sentence_vectors_by_text(hit.passage, vectors))
    return known


def best_sentences(
    hits: Sequence[Hit],
    query: str,
    encoder: Encoder | None,
    *,
    words: Sequence[str] | None = None,
    vector: np.ndarray | None = None,
    dense_weight: float = 0.5,
    join: float = 0.9,
    known: Mapping[str, np.ndarray] | None = None,
    kind_bonus: float | None = None,
    rarity: float = 2.0,
) -> list[Hit]:
    """Each hit with ``sentence`` set to the sentence of its passage that best matches the query.

    A sentence scores by the share of the query's words it contains (a word weighs ``df ** -rarity`` when ``df``
    of the passage's sentences hold it: the passage's topic, named everywhere, does not tell which sentence
    answers) plus, when an encoder is given, its cosine similarity to the query (which is what matches a question
    in another language). A question asking for a count, a date, a place or a person (``kinds.question_kind``)
    adds ``kind_bonus`` (default ``ANSWER_KIND_BONUS``) to each sentence stating such a fact, and the next
    sentence joins the best when it states one and the best does not. A heading-like line (``3.2 年假``) is the
    answer only when the passage has nothing else.
    A question inside a document (an interviewer's) counts half: it resembles the user's question
    without answering it. A neighbouring sentence joins the best when it scores at least ``join``
    times as much and contains as many of the question's words (or none match, as across languages,
    where similarity alone is too coarse to choose between neighbours), so ``sentence`` may hold two.
    ``words`` and ``vector`` are the query's, as retrieval already has them (``Retrieval``): then the query
    is neither tokenized nor encoded again. ``known`` holds vectors the index already has for some sentences
    (by text): only the others are encoded.
    """
    words = set(tokenize(query) if words is None else words)
    per_hit = [sentences_of(h.passage.text) for h in hits]
    flat = [s for sentences in per_hit for s in sentences]
    if not flat:
        return list(hits)
    folded = [fold(s) for s in flat]
    lexical = np.concatenate([_overlaps(words, folded[span], rarity) for span in _spans(per_hit)])
    if encoder is not None and dense_weight > 0:
        known = known or {}
        todo = list(dict.fromkeys(s for s in flat if s not in known))
        if vector is None:  # retrieval used keywords alone: the question is encoded here, as a query
            vector = encoder.encode_queries([query])[0]
        encoded = encoder.encode(todo) if todo else np.zeros((0, len(vector)), np.float32)
        vector_of = {**known, **dict(zip(todo, encoded, strict=True))}
        semantic = np.array([vector_of[s] @ vector for s in flat], dtype=np.float32)
        score = dense_weight * semantic + (1 - dense_weight) * lexical
    else:
        score = lexical
    asks = np.array([is_question(s) for s in flat])
    score = np.where(asks, score * 0.5, score)
    heading = np.array([is_heading(s) for s in flat])
    kind = question_kind(query)
    # "how many …?" is answered by the sentence with the number in it, "who …?" by the one with a name
    states = ~(asks | heading)
    holds = np.array(
        [kind is not None and ok and holds_kind(kind, s, f) for s, f, ok in zip(flat, folded, states, strict=True)]
    )
    score = score + (ANSWER_KIND_BONUS if kind_bonus is None else kind_bonus) * holds
    out, cursor = [], 0
    for hit, sentences in zip(hits, per_hit, strict=True):
        span = slice(cursor, cursor + len(sentences))
        cursor += len(sentences)
        first, last, best_score = _choose(sentences, score[span], lexical[span], heading[span], holds[span], join)
        out.append(replace(hit, sentence=_span(hit.passage.text, sentences, first, last), sentence_score=best_score))
    return out


def _choose(sentences, own, words_in, heading, holds, join: float) -> tuple[int, int, float]:
    """The first and last sentence of a passage's answer and its score: the best sentence that is not a heading
    (unless all are), with the next one when the question's kind of fact is there and not in the best, or a
    neighbour that scores nearly as well (``join``) with as many of the question's words."""
    eligible = own if heading.all() else np.where(heading, -np.inf, own)
    best = int(np.argmax(eligible))
    first = last = best
    after = best + 1
    if after < len(sentences) and holds[after] and not holds[best]:
        if len(sentences[best]) + len(sentences[after]) <= 320:
            return best, after, float(own[best])
    neighbours = [i for i in (best - 1, best + 1) if 0 <= i < len(sentences) and not heading[i]]
    if neighbours and own[best] > 0:
        other = max(neighbours, key=lambda i: own[i])
        close = own[other] >= join * own[best] and words_in[other] >= words_in[best]
        if close and len(sentences[other]) + len(sentences[best]) <= 320:
            first, last = min(best, other), max(best, other)
    return first, last, float(own[best])


# How much a sentence stating the kind of fact the question asks for gains (scores are about 0..1).
ANSWER_KIND_BONUS = 0.1


def sentences_of(text: str) -> list[str]:
    """The sentences of a passage; a line break also ends one (a heading, a byline)."""
    return [s for line in text.split("\n") for s in split_sentences(line)] or [text]


def _span(text: str, sentences: list[str], first: int, last: int) -> str:
    """The stretch of ``text`` from sentence ``first`` to sentence ``last``, exactly as it is written."""
    cursor = 0
    starts = []
    for sentence in sentences[: last + 1]:
        at = text.find(sentence, cursor)
        if at < 0:
            return sentences[first]
        starts.append(at)
        cursor = at + len(sentence)
    return text[starts[first] : cursor]


def _spans(per_hit: list[list[str]]) -> list[slice]:
    """Where each hit's sentences are in the flat list of all of them."""
    out, cursor = [], 0
    for sentences in per_hit:
        out.append(slice(cursor, cursor + len(sentences)))
        cursor += len(sentences)
    return out


def _overlaps(words: set[str], folded: list[str], rarity: float) -> np.ndarray:
    """Weighted share of the question's words in each sentence of one passage (sentences given folded).

    A word in ``df`` of the passage's sentences weighs ``df ** -rarity``: the passage's topic, named in most
    of its sentences, says less about which one answers than a word only one sentence has.
    """
    if not words or not folded:
        return np.zeros(len(folded), dtype=np.float32)
    held = np.array([[w in f for w in words] for f in folded], dtype=np.float32)
    weight = np.maximum(held.sum(axis=0), 1.0) ** -rarity
    return (held @ weight / weight.sum()).astype(np.float32)


def answer_sentences(
    hits: Sequence[Hit], *, max_sentences: int = 2, support: float = 0.85, max_chars: int = 240
) -> list[tuple[str, tuple[int, ...]]]:
    """The sentences of the extractive answer, each with the numbers (1-based) of the hits that say it.

    The first is the best sentence of the best hit that is not itself a question; another hit's
    sentence joins when it is nearly as well supported (``support`` times the first's passage and
    sentence scores) and says something new; a hit whose sentence repeats a chosen one adds its number.
    """
    lead: list[tuple[str, list[int]]] = []
    first: Hit | None = None
    for n, hit in enumerate(hits, start=1):
        sentence = (hit.sentence or hit.passage.text).strip()
        same = next((markers for chosen, markers in lead if _same_sentence(chosen, sentence)), None)
        if same is not None:
            same.append(n)
            continue
        if len(lead) >= max_sentences or is_question(sentence):
            continue
        if first is not None:
            weaker = hit.score < support * first.score or hit.sentence_score < support * first.sentence_score
            if weaker or sum(len(s) for s, _ in lead) + len(sentence) > max_chars:
                continue
        lead.append((sentence, [n]))
        first = first or hit
    if not lead and hits:  # every candidate is a question: still quote the best one
        lead.append(((hits[0].sentence or hits[0].passage.text).strip(), [1]))
    return [(sentence, tuple(markers)) for sentence, markers in lead]


def _same_sentence(a: str, b: str) -> bool:
    a, b = _squash(a), _squash(b)
    shorter, longer = sorted((a, b), key=len)
    return bool(shorter) and (shorter == longer or (len(shorter) >= 10 and shorter in longer))


def _squash(text: str) -> str:
    return re.sub(r"[\W_]+", "", fold(text))


def uncited(answer: Answer) -> list[int]:
    """Numbers of the answer's hits that no answer sentence cites (shown as "see also")."""
    return list(answer.see_also)


def markers(numbers: Sequence[int]) -> str:
    return "".join(f"[{n}]" for n in numbers)


def make_answer(
    question: str, hits: Sequence[Hit], *, found: bool, search_query: str = "", terms: Sequence[str] = ()
) -> Answer:
    """The extractive answer: the best-supported sentence(s), each followed by its markers, e.g. ``… [1][3]``.

    The sentences, their markers and the hits they leave uncited are chosen here, once; renderers read them
    from the answer. ``terms`` are the question's words (retrieval's), kept for highlighting.
    """
    terms = tuple(terms)
    if not found or not hits:
        return Answer(
            question=question,
            found=False,
            answer=NOT_FOUND[language(question)],
            hits=(),
            search_query=search_query,
            terms=terms,
        )
    sentences = tuple(answer_sentences(hits))
    cited = {n for _, numbers in sentences for n in numbers}
    return Answer(
        question=question,
        found=True,
        answer=" ".join(f"{sentence} {markers(numbers)}" for sentence, numbers in sentences),
        hits=tuple(hits),
        search_query=search_query,
        sentences=sentences,
        see_also=tuple(n for n in range(1, len(hits) + 1) if n not in cited),
        terms=terms,
    )


LABELS = {
    "zh": {
        "answer": "回答",
        "sources": "来源",
        "score": "相关度",
        "match": "匹配度",
        "see_also": "另见",
        "question": "问题",
    },
    "en": {
        "answer": "Answer",
        "sources": "Sources",
        "score": "score",
        "match": "match",
        "see_also": "See also",
        "question": "Question",
    },
}

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~$])")


def escape_markdown(text: str) -> str:
    """Text that Markdown and HTML both show literally (``<script>`` stays visible text)."""
    return html.escape(_MD_SPECIAL.sub(r"\\\1", text), quote=False)


def render_markdown(answer: Answer, *, passage_chars: int = 600) -> str:
    """The answer as Markdown: the answer with its markers, then one quoted passage per citation."""
    if not answer.found:
        return escape_markdown(answer.answer)
    words = LABELS[language(answer.question)]
    lead = " ".join(f"{escape_markdown(s)} {markers(ns)}" for s, ns in answer.sentences)
    lines = [f"**{words['answer']}:** {lead}"]
    if more := uncited(answer):
        lines[0] += f" ({words['see_also']} {' '.join(markers([n]) for n in more)})"
    lines += ["", f"**{words['sources']}:**"]
    for n, hit in enumerate(answer.hits, start=1):
        p = hit.passage
        lines.append("")
        lines.append(
            f"**[{n}]** {escape_markdown(p.title)} · `{_code(p.source)}` · {p.citation} · "
            f"{words['score']} {hit.score:.2f}"
        )
        lines.append("")
        lines.append("> " + _emphasise(_clip(p.text, passage_chars), hit.sentence).replace("\n", "  \n> "))
    return "\n".join(lines)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit].rstrip() + "…"


def _code(text: str) -> str:
    """A file name fit for a code span: no backtick to close it, no line break or control character to end it."""
    return re.sub(r"[\x00-\x1f\x7f-\x9f]", " ", text.replace("`", "'"))


def _emphasise(text: str, sentence: str) -> str:
    """Escape the passage and put the best sentence in bold.

    ``<strong>`` rather than ``**``: CommonMark does not close ``**`` after 。 when a Chinese
    character follows, and the escaped text can contain no tag of its own.
    """
    if sentence and sentence in text:
        before, _, after = text.partition(sentence)
        return f"{escape_markdown(before)}<strong>{escape_markdown(sentence)}</strong>{escape_markdown(after)}"
    return escape_markdown(text)


def render_text(answer: Answer) -> str:
    """Plain-text form of an answer for the terminal."""
    if not answer.found:
        return answer.answer
    lines = [answer.answer, ""]
    for n, hit in enumerate(answer.hits, start=1):
        p = hit.passage
        lines.append(f"[{n}] {p.title} · {p.source} · {p.citation} · score {hit.score:.2f}")
        lines.append(f"    {p.text}")
    return "\n".join(lines)


def render_conversation(turns: Sequence[tuple[str, str]], *, when: str = "") -> str:
    """A chat as one Markdown document: each question as a heading, then its reply (from ``render_markdown``)."""
    lines = ["# 对话记录 · Conversation" + (f" ({when})" if when else ""), ""]
    for n, (question, reply) in enumerate(turns, start=1):
        lines += [f"## {n}. {escape_markdown(question)}", "", reply, ""]
    return "\n".join(lines)
