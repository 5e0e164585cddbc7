"""What the indexes see of a passage: the encoder's text and the sentences that get vectors of their own,
the keyword index's text, and English glosses of metadata fields."""

from __future__ import annotations

import re

import numpy as np

from ..records import Passage
from .rules import is_question, split_sentences, weight


def embed_text(passage: Passage) -> str:
    """What the encoder sees: the text (the title is shared by all passages and adds no contrast),
    with English glosses of metadata fields so that "When was it published?" finds 发布时间:…"""
    return passage.text + metadata_glosses(passage.text)


def sentence_spans(passage: Passage) -> list[tuple[int, int]]:
    """Where in ``passage.text`` the sentences that get their own vector are (start, end characters).

    Questions inside documents (an interviewer's 记者:…?) are left out: they resemble the user's
    question without answering it. A passage of one sentence needs none.
    """
    sentences = split_sentences(passage.text)
    if len(sentences) < 2:
        return []
    spans, cursor = [], 0
    for sentence in sentences:
        start = passage.text.find(sentence, cursor)
        if start < 0:  # re-joined around an abbreviation with other spacing: no vector of its own
            continue
        cursor = start + len(sentence)
        if weight(sentence) >= 4 and not is_question(sentence):
            spans.append((start, cursor))
    return spans


def passage_sentences(passage: Passage) -> list[str]:
    """The sentences of a passage that get their own vector (see :func:`sentence_spans`)."""
    return [passage.text[a:b] for a, b in sentence_spans(passage)]


def keyword_text(passage: Passage) -> str:
    """What the keyword index sees: title, text and metadata glosses."""
    return passage.title + "\n" + passage.text + metadata_glosses(passage.text)


# Field labels of Chinese news and document headers, glossed in English (cross-language questions
# about a document's metadata have no other way to match these words).
METADATA_LABELS = {
    "发布时间": "published on, publication date",
    "发布日期": "published on, publication date",
    "发表时间": "published on",
    "出版日期": "published on",
    "更新时间": "updated on",
    "日期": "date",
    "来源": "source",
    "出处": "source",
    "作者": "author, written by, writer",
    "记者": "reporter",
    "责任编辑": "editor",
    "编辑": "editor",
    "摄影": "photographer",
    "通讯员": "correspondent",
}
_METADATA = re.compile(
    "(" + "|".join(sorted(METADATA_LABELS, key=len, reverse=True)) + r")[:：\s]\s*([^\s:：【】]{1,40})"
)


def metadata_glosses(text: str) -> str:
    """``\n(published on, publication date: 2024-11-23)``-style glosses of labelled fields, or ``""``."""
    glosses = [f"{METADATA_LABELS[label]}: {value}" for label, value in _METADATA.findall(text)]
    return "\n(" + "; ".join(glosses) + ")" if glosses else ""


def sentence_vectors_by_text(passage: Passage, vectors: np.ndarray) -> dict[str, np.ndarray]:
    """The passage's stored sentence vectors keyed by sentence text; empty when their number does not match
    :func:`sentence_spans` (an index built with other rules)."""
    spans = sentence_spans(passage)
    if len(spans) != len(vectors):
        return {}
    return {passage.text[a:b]: np.asarray(v) for (a, b), v in zip(spans, vectors, strict=True)}


def encoder_jobs(passages: dict[str, list[Passage]], spans: dict[str, list[list]]) -> dict[str, list[tuple]]:
    """What the encoder gets per file: each passage's text with its sentences' spans."""
    return {s: [(embed_text(p), tuple(sp)) for p, sp in zip(ps, spans[s], strict=True)] for s, ps in passages.items()}


def split_rows(rows: np.ndarray, spans: list[list]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Encoded rows (each passage, then its sentences) as passage vectors, sentence vectors and sentences per passage."""
    counts = np.array([len(s) for s in spans], dtype=np.int64)
    whole = np.concatenate([[0], np.cumsum(counts + 1)[:-1]]).astype(np.int64)
    sentence = np.ones(len(rows), dtype=bool)
    sentence[whole] = False
    return rows[whole], rows[sentence], counts


def stack_rows(blocks: list[np.ndarray], dimension: int) -> np.ndarray:
    blocks = [b for b in blocks if len(b)]
    return (
        np.ascontiguousarray(np.concatenate(blocks), dtype=np.float32)
        if blocks
        else np.zeros((0, dimension), np.float32)
    )
