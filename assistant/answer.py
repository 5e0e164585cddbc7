"""Stage 7: from hits to an answer: the best sentence of each passage, citations, safe Markdown."""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from .encoder import Encoder
from .passages import split_sentences
from .records import Answer, Hit
from .terms import fold, tokenize

NOT_FOUND = {
    "zh": "抱歉，知识库中没有找到与这个问题相关的内容。",
    "en": "Sorry, nothing in the documents answers this question.",
}
_CJK = re.compile(r"[\u3400-\u9fff]")


def language(text: str) -> str:
    """``zh`` when the text has Chinese characters, else ``en``."""
    return "zh" if _CJK.search(text) else "en"


def best_sentences(hits: Sequence[Hit], query: str, encoder: Encoder | None, *, dense_weight: float = 0.5) -> list[Hit]:
    """Each hit with ``sentence`` set to the sentence of its passage that best matches the query.

    A sentence scores by the share of the query's words it contains plus, when an encoder is
    given, its cosine similarity to the query (which is what matches a question in another language).
    """
    words = set(tokenize(query))
    per_hit = [split_sentences(h.passage.text) or [h.passage.text] for h in hits]
    flat = [s for sentences in per_hit for s in sentences]
    if not flat:
        return list(hits)
    lexical = np.array([_overlap(words, s) for s in flat], dtype=np.float32)
    if encoder is not None and dense_weight > 0:
        vectors = encoder.encode([query, *flat])
        semantic = vectors[1:] @ vectors[0]
        score = dense_weight * semantic + (1 - dense_weight) * lexical
    else:
        score = lexical
    out, cursor = [], 0
    for hit, sentences in zip(hits, per_hit, strict=True):
        best = int(np.argmax(score[cursor : cursor + len(sentences)]))
        out.append(replace(hit, sentence=sentences[best]))
        cursor += len(sentences)
    return out


def _overlap(words: set[str], sentence: str) -> float:
    if not words:
        return 0.0
    folded = fold(sentence)
    return sum(1 for w in words if w in folded) / len(words)


def make_answer(question: str, hits: Sequence[Hit], *, found: bool, search_query: str = "") -> Answer:
    """The extractive answer is the best sentence of the best passage, marked [1]."""
    if not found or not hits:
        return Answer(
            question=question, found=False, answer=NOT_FOUND[language(question)], hits=(), search_query=search_query
        )
    top = hits[0]
    return Answer(
        question=question,
        found=True,
        answer=f"{top.sentence or top.passage.text} [1]",
        hits=tuple(hits),
        search_query=search_query,
    )


_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~])")


def escape_markdown(text: str) -> str:
    """Text that Markdown and HTML both show literally (``<script>`` stays visible text)."""
    return html.escape(_MD_SPECIAL.sub(r"\\\1", text), quote=False)


def unescape_markdown(text: str) -> str:
    """The exact inverse of :func:`escape_markdown` (the chat shows questions escaped and reads them back)."""
    return re.sub(r"\\(.)", r"\1", html.unescape(text), flags=re.S)


def render_markdown(answer: Answer, *, passage_chars: int = 600) -> str:
    """The chat reply: answer, then one card per cited passage with its location and score."""
    if not answer.found:
        return escape_markdown(answer.answer)
    zh = language(answer.question) == "zh"
    lines = [f"**{'回答' if zh else 'Answer'}:** {escape_markdown(answer.answer)}", ""]
    lines.append(f"**{'来源' if zh else 'Sources'}:**")
    for n, hit in enumerate(answer.hits, start=1):
        p = hit.passage
        lines.append("")
        lines.append(
            f"**[{n}]** {escape_markdown(p.title)} · `{_code(p.source)}` · {p.citation} · "
            f"{'相关度' if zh else 'score'} {hit.score:.2f}"
        )
        lines.append("")
        lines.append("> " + _emphasise(p.text[:passage_chars], hit.sentence).replace("\n", "  \n> "))
    return "\n".join(lines)


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
