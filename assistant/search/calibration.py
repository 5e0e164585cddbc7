"""Calibrated "not found": each hit's probability that it answers the question, from a few explainable features.

A logistic regression per encoder (coefficients in ``calibration.json``, fitted by ``eval/calibrate.py`` on the
tuning halves only) over features that mean the same on any corpus: how far the passage stands out from the
question's other candidates (the corpus's usual scores for it), on each side, and how much of the question's
weighted words it holds, next to its raw scores and whether the question is in another language or a follow-up.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from ..keyword import tokenize
from ..records import Hit
from .retriever import retrieve

# Hits a question's features are computed over: its best passages, whatever the number of cards shown.
POOL = 10
FEATURES = (
    "score",  # fused score
    "dense",  # dense cosine (raw: means something else per encoder)
    "keyword",  # normalised BM25: share of the question's idf mass matched
    "score_margin",  # fused score minus the median of the other pooled hits' fused scores
    "dense_margin",  # dense cosine minus the median of the other pooled hits' cosines
    "keyword_margin",  # keyword score minus the median of the other pooled hits' keyword scores
    "coverage",  # idf-weighted share of the question's words (or their translations) the passage holds
    "agree",  # 1 when this passage is both the pool's dense-best and its keyword-best
    "foreign",  # the question is in another language than the corpus
    "follow_up",  # the question was searched with the previous one as context
)
CALIBRATION = Path(__file__).with_name("calibration.json")
FALLBACK = "default"


def features(
    hits: Sequence[Hit], words: Sequence[str], *, idf, groups, foreign: bool, follow_up: bool, unknown: float = 0.0
) -> np.ndarray:
    """One row of ``FEATURES`` per hit (the pool's hits, best first).

    Args:
        words: the question's words, as the keyword index looked them up (a follow-up's with its context's).
        idf: a corpus word's idf, None for a word no passage holds (``KeywordIndex.idf``).
        groups: each question word with its corpus translations (``KeywordIndex.groups``).
        unknown: the weight of a word no passage holds (``KeywordIndex.unknown_idf``): it counts fully against
            every passage, as on the keyword side ("明天杭州会下雪吗" is not covered by a passage naming 杭州).
    """
    n = len(hits)
    if not n:
        return np.zeros((0, len(FEATURES)))
    sides = np.array([[h.score, h.dense_score, h.keyword_score] for h in hits], dtype=np.float64)
    pool = sides[:POOL]  # hits past the pool (more cards asked for) are compared with the pool
    margins, agree = np.zeros_like(sides), np.zeros(n)
    for j in range(n):
        others = np.delete(pool, j, axis=0) if j < POOL else pool
        margins[j] = sides[j] - (np.median(others, axis=0) if len(others) else 0.0)
        best = others.max(axis=0) if len(others) else np.zeros(3)
        agree[j] = float(sides[j, 1] >= best[1] and sides[j, 2] >= best[2] and sides[j, 2] > 0)
    weighted = _weighted_groups(words, idf, groups, unknown)
    coverage = [_coverage(h.passage.text, weighted) for h in hits]
    flags = np.tile([float(foreign), float(follow_up)], (n, 1))
    return np.column_stack([sides, margins, coverage, agree, flags])


def _weighted_groups(words, idf, groups, unknown: float) -> list[tuple[float, set[str]]]:
    """The question's word groups with their weight: the idf of the group's rarest member the corpus holds, else
    ``unknown``."""
    out = []
    for group in groups(list(words)):
        known = [w for w in group if idf(w) is not None]
        if not known and group[0].startswith("~"):
            continue  # a bigram across two words, there to mend segmentation: no content word of its own
        weight = max((idf(w) for w in known), default=unknown)
        if weight > 0:
            out.append((weight, set(known)))
    return out


def _coverage(text: str, weighted: list[tuple[float, set[str]]]) -> float:
    total = sum(w for w, _ in weighted)
    if total <= 0:
        return 0.0
    present = set(tokenize(text))
    return sum(w for w, group in weighted if group & present) / total


@functools.cache
def _models() -> dict:
    return json.loads(CALIBRATION.read_text(encoding="utf-8"))["models"]


def model_for(encoder_name: str) -> dict:
    """The encoder's fitted model, else the fallback (fitted on features that do not depend on the encoder's
    cosine level)."""
    models = _models()
    return models.get(Path(encoder_name).name, models.get(encoder_name, models[FALLBACK]))


def probabilities(rows: np.ndarray, model: dict) -> np.ndarray:
    """The logistic regression's probability for each row of ``FEATURES``."""
    weights = np.array([model["weights"].get(name, 0.0) for name in FEATURES])
    z = rows @ weights + model["intercept"]
    return 1.0 / (1.0 + np.exp(-np.clip(z, -30, 30)))


def calibrate(hits: Sequence[Hit], words: Sequence[str], *, keyword, foreign: bool, follow_up: bool, encoder_name: str):
    """``hits`` with their ``confidence`` set: the probability that each answers the question.

    ``hits`` should be the question's ``POOL`` best (fewer only when the corpus has fewer): the features compare
    each with the others.
    """
    rows = features(
        hits,
        words,
        idf=keyword.idf,
        groups=keyword.groups,
        foreign=foreign,
        follow_up=follow_up,
        unknown=keyword.unknown_idf(),
    )
    probs = probabilities(rows, model_for(encoder_name)) if len(rows) else []
    return [replace(h, confidence=float(p)) for h, p in zip(hits, probs, strict=True)]


def calibrated(found, index, encoder_name: str) -> list[Hit]:
    """A ``Retrieval``'s hits with their ``confidence`` (see ``calibrate``), as ``Assistant.ask`` computes them."""
    query = found.query
    return calibrate(
        found.hits,
        found.words[-1] if found.words else (),  # a follow-up's words with its context's (its last part)
        keyword=index.keyword,
        foreign=index.keyword.is_foreign(query.parts[0]),
        follow_up=len(query.parts) > 1,
        encoder_name=encoder_name,
    )


def retrieve_calibrated(index, encoder, query, *, k: int, alpha: float):
    """One query's ``Retrieval`` with at least ``POOL`` hits (cut to ``k`` after ``relevant``), their
    ``confidence`` set (the call ``Assistant.ask`` makes)."""
    [found] = retrieve(index, encoder, [query], k=max(k, POOL), alpha=alpha)
    return replace(found, hits=tuple(calibrated(found, index, encoder.name)))
