"""Hybrid retrieval: dense and keyword candidates, fused scores, re-scored with the passages' best sentences."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..encoders import Encoder, one_blas_thread
from ..keyword import to_simplified, tokenize, top_k
from ..records import Hit
from ..storage import Index
from ..text import CJK
from .conversation import Query
from .settings import DEFAULT_ALPHA, dense_floor, translation_weight

# Passages of the first stage (whole-passage cosine + BM25) re-scored with their sentences' vectors.
RERANK = 30
# Weight of the document prior in the hits' order (``document_prior``): the middle of the plateau (0.1-0.4, same
# hit@1) on the seed's tuning questions asked beside a 10k-passage unrelated upload (``benchmarks/cliff.py``).
DOCUMENT_WEIGHT = 0.2
DOCUMENT_SHRINK = 4  # other passages in its file at which a passage's prior counts half


@dataclass(frozen=True)
class Retrieval:
    """What one query found, with what later stages need of the query: its parts' vectors (None when the
    search used keywords alone) and words, so the answer neither encodes nor tokenizes the question again."""

    query: Query
    hits: tuple[Hit, ...]
    vectors: np.ndarray | None  # one row per part of the query, as the encoder saw it
    words: tuple[tuple[str, ...], ...]  # one tuple per part: the words the keyword index looked up


def fuse(
    dense: np.ndarray,
    keyword: np.ndarray,
    *,
    alpha: float = DEFAULT_ALPHA,
    cross_language: bool = False,
    floor: float = 0.0,
) -> np.ndarray:
    """Weighted sum of cosine similarity (measured from the encoder's ``floor``: ``settings.DENSE_FLOORS``) and
    normalised BM25 (both roughly 0..1); ``alpha`` weighs dense.

    Across languages the keyword side only sees dictionary translations, which cover part of the
    question's words, so its weight is halved there (``alpha`` 0.5 becomes 0.75) unless keywords
    are all there is (``alpha`` 0). ``cross_language`` is one flag for the whole corpus, or one per passage.
    """
    if np.ndim(cross_language):  # one flag per passage (a corpus in both languages)
        alpha = np.where(cross_language, (1.0 + alpha) / 2, alpha) if alpha > 0 else alpha
    elif cross_language and alpha > 0:
        alpha = (1.0 + alpha) / 2
    if floor:
        dense = (dense - floor) / (1.0 - floor)
    return alpha * np.clip(dense, 0.0, 1.0) + (1.0 - alpha) * keyword


def with_best_sentence(index: Index, ids: np.ndarray, query: np.ndarray, whole: np.ndarray) -> np.ndarray:
    """``whole`` (the passages' cosines) averaged with each passage's best sentence cosine: a passage's
    point is often one sentence. A passage without sentence vectors (one that only asks a question)
    keeps its own score."""
    best = best_sentence_scores(index, ids, query)
    return (whole + np.where(np.isnan(best), whole, best)) / 2


def has_sentence_vectors(index: Index) -> bool:
    return index.sentence_vectors is not None and len(index.sentence_vectors) > 0


def best_sentence_scores(index: Index, ids: np.ndarray, query: np.ndarray) -> np.ndarray:
    """The best sentence cosine of each passage of ``ids``; NaN for passages without sentence vectors.

    Only those passages' sentences are read: scanning all of them (3,000 sentences, 6 MB, on a
    500-passage corpus) costs more per query than the rest of the search.
    """
    offsets = index.sentence_vectors.offsets
    first, counts = offsets[ids], offsets[ids + 1] - offsets[ids]
    best = np.full(len(ids), np.nan, dtype=np.float32)
    has = counts > 0
    if not has.any():
        return best
    first, counts = first[has], counts[has]
    starts = np.zeros(len(counts), dtype=np.int64)
    np.cumsum(counts[:-1], out=starts[1:])
    rows = np.repeat(first - starts, counts) + np.arange(int(counts.sum()))
    scores = index.sentence_vectors.scores(rows, query)
    best[has] = np.maximum.reduceat(scores, starts)
    return best


def dense_text(index: Index, question: str) -> str:
    """The question as the encoder should see it: in simplified characters when the corpus is written in
    them (decided when the index was built; the keyword side folds both scripts alike; USE matches 成立 with
    成立 better than with a traditional question's words: 0.65 vs 0.45 on the seed's founding question)."""
    return to_simplified(question) if index.simplified else question


def single_blas_thread(func):
    """Run ``func`` with one BLAS thread: a query multiplies vectors by small matrices, where a second
    BLAS thread only adds waiting (2-3x slower per query on a busy 2-core machine, measured)."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with one_blas_thread():
            return func(*args, **kwargs)

    return wrapper


@single_blas_thread
def retrieve(
    index: Index,
    encoder: Encoder,
    queries: Sequence[str | Query],
    *,
    k: int = 5,
    alpha: float = DEFAULT_ALPHA,
    candidates: int = 100,
    rerank: int = RERANK,
) -> list[Retrieval]:
    """The ``k`` best passages per query, fused score first (the batch form; one query is a batch of one).

    ``k`` and ``alpha`` are taken as checked (``SearchSettings``). A query in another language than the
    corpus (English asked of Chinese documents) is scored by dense similarity, raised where dictionary
    translations of its words match (see ``fuse``).
    """
    queries = [q if isinstance(q, Query) else Query.of(q) for q in queries]
    if not index.passages:
        return [Retrieval(q, (), None, ()) for q in queries]
    texts = [t for q in queries for t in q.parts]
    words = [tuple(tokenize(t)) for t in texts]
    mix = translation_weight(encoder.name) if alpha > 0 else 0.0
    translations = [translation(index, t, w) if mix else "" for t, w in zip(texts, words, strict=True)]
    extra = [dense_text(index, t) for t in translations if t]
    vectors = encoder.encode_queries([dense_text(index, t) for t in texts] + extra) if alpha > 0 and texts else None
    translated: list = [None] * len(texts)
    if vectors is not None and extra:
        rows = iter(vectors[len(texts) :])
        translated = [next(rows) if t else None for t in translations]
        vectors = vectors[: len(texts)]
    dense_ids = index.dense.search(vectors, k=candidates)[0] if vectors is not None else None
    if dense_ids is not None and extra:  # the passages nearest the translations are candidates too
        more = iter(index.dense.search(np.stack([v for v in translated if v is not None]), k=candidates)[0])
        dense_ids = [
            np.concatenate([ids, next(more)]) if t else ids for ids, t in zip(dense_ids, translations, strict=True)
        ]
    results, row = [], 0
    for query in queries:
        parts = range(row, row + len(query.parts))
        row += len(query.parts)
        part_words = tuple(words[r] for r in parts)
        part_vectors = vectors[parts.start : parts.stop] if vectors is not None else None
        part_ids = [dense_ids[r] for r in parts] if dense_ids is not None else None
        hits = _rank(
            index,
            query,
            part_words,
            part_vectors,
            part_ids,
            [translated[r] for r in parts],
            k=k,
            alpha=alpha,
            candidates=candidates,
            rerank=rerank,
            floor=dense_floor(encoder.name),
            mix=mix,
        )
        results.append(Retrieval(query, tuple(hits), part_vectors, part_words))
    return results


def translation(index: Index, text: str, words: Sequence[str]) -> str:
    """``text``'s word-by-word translation (``KeywordIndex.translation``) when some passages are in another
    language than it (every passage of a corpus in one other language; the other language's in a corpus in both);
    else empty."""
    if not words or not (index.keyword.is_foreign(text) or index.keyword.mixed()):
        return ""
    return index.keyword.translation(list(words))


def _with_translation(index: Index, text: str, ids: np.ndarray, own: np.ndarray, translated, mix: float):
    """A part's dense scores with its translation's (``translated``, None for none) mixed in at ``mix`` for the
    passages in the other language than ``text``."""
    if translated is None:
        return own
    other = _in_other_language(index, text, ids) if index.keyword.mixed() else index.keyword.is_foreign(text)
    return np.where(other, (1.0 - mix) * own + mix * translated, own)


def _in_other_language(index: Index, text: str, ids: np.ndarray) -> np.ndarray:
    """Per passage of ``ids`` (a corpus in both languages), whether it is written in another language than ``text``."""
    return index.keyword.chinese_passages()[ids] != bool(CJK.search(text))


def cross_language(index: Index, text: str, ids: np.ndarray):
    """Whether ``text`` is to be fused as another language than the passages ``ids``: one flag for a corpus in
    one language (``KeywordIndex.is_foreign``), one per passage for a corpus in both (``KeywordIndex.mixed``).

    In a corpus in both, a question in the corpus's main language is cross-language for the passages in the
    other language only; a question in the other language stays cross-language for all passages, its own
    language's included, since its words' IDFs come from a corpus mostly in another language, where they are
    all rare (on the seed beside a mostly-English 10k upload, tuning half: e5 hit@1 0.523 -> 0.646, USE 0.400
    -> 0.415; per passage for both kinds of question: e5 0.615, USE 0.308). For ranking only: the calibrated
    "not found" keeps ``is_foreign`` (its ``foreign`` weight, fitted on corpora in one language, lifts an
    unrelated passage of the other language when it is flagged per passage)."""
    foreign = index.keyword.is_foreign(text)
    if foreign or not index.keyword.mixed():
        return foreign
    return _in_other_language(index, text, ids)


def document_prior(index: Index, ids: np.ndarray, vectors, weights, passage_vectors=None) -> np.ndarray | float:
    """How much the rest of each passage's document is about the question: the question's vector and the mean of
    the document's other passages, both measured from the corpus's mean passage vector, the question's normalised,
    their product; shrunk by the evidence, × (n - 1) / (n - 1 + ``DOCUMENT_SHRINK``) for a document of n passages.
    0 for a passage alone in its file and in a corpus of one file.

    A multilingual encoder gives any passage a cosine near its usual level (e5: ~0.85), so among 10,000 unrelated
    passages some reach the answer's; the answer's document, on the question's subject throughout, stands
    out from the corpus's mean where one unrelated passage does not. The passage itself is left out of its
    document's mean, or a short file's prior would count its own cosine a second time (a dense-only bonus that
    tilts the fusion: with it, files of 2-3 passages, DRCD tuning half hit@1 0.960 -> 0.957)."""
    if not DOCUMENT_WEIGHT or vectors is None:
        return 0.0
    means = index.document_means()
    has, own_means, sizes = means.of(ids)
    if not has.any():
        return 0.0
    own = (passage_vectors if passage_vectors is not None else index.vector_rows(ids))[has]
    rest = (own_means * sizes[:, None] - own) / (sizes - 1)[:, None] - means.overall
    shrink = (sizes - 1) / (sizes - 1 + DOCUMENT_SHRINK)
    prior = np.zeros(len(ids), np.float32)
    for vector, weight in zip(vectors, weights, strict=True):
        query = vector - means.overall
        prior[has] += weight * shrink * (rest @ query) / max(float(np.linalg.norm(query)), 1e-6)
    return DOCUMENT_WEIGHT * prior


def _rank(
    index, query: Query, words, vectors, dense_ids, translated, *, k, alpha, candidates, rerank, floor, mix
) -> list[Hit]:
    """One query's ``k`` best passages: candidates of both sides fused with each passage's own cosine, then
    the ``rerank`` best re-scored with their best sentence. ``translated``: per part, its translation's vector
    or None, mixed in at ``mix`` (``settings.translation_weight``)."""
    keyword_parts, pools = [], []
    for part_words in words:
        kw = (
            index.keyword.scores(list(part_words))
            if part_words and alpha < 1
            else np.zeros(len(index.passages), np.float32)
        )
        keyword_parts.append(kw)
        pools.append(top_k(kw, candidates)[0])
    if vectors is not None:
        pools += [ids[ids >= 0] for ids in dense_ids]
    ids = np.unique(np.concatenate(pools)).astype(np.int64)  # sorted
    if len(ids) == 0:
        return []
    fused, dense_total, keyword_total = (np.zeros(len(ids), np.float32) for _ in range(3))
    wholes, translated_wholes = [], []
    passage_vectors = index.vector_rows(ids) if vectors is not None else None  # gathered once for all parts
    for text, weight, vector, kw, other in zip(
        query.parts, query.weights, _or_none(vectors, len(query.parts)), keyword_parts, translated, strict=True
    ):
        foreign = cross_language(index, text, ids)
        dense = passage_vectors @ vector if vector is not None else np.zeros(len(ids), np.float32)
        wholes.append(dense)
        translated_wholes.append(passage_vectors @ other if other is not None else None)
        dense = _with_translation(index, text, ids, dense, translated_wholes[-1], mix)
        fused += weight * fuse(dense, kw[ids], alpha=alpha, cross_language=foreign, floor=floor)
        dense_total += weight * dense
        keyword_total += weight * kw[ids]
    # for the order only (``Hit.document``), one value per candidate
    prior = np.zeros(len(ids), np.float32) + document_prior(index, ids, vectors, query.weights, passage_vectors)
    if vectors is not None and has_sentence_vectors(index):
        # Second stage: the best passages of the first (whole-passage cosine and BM25) are re-scored with
        # their best sentence. Same hit@1 as scoring every sentence of the corpus (0.912 on the CMRC
        # benchmark, rerank 10 to all), at a fraction of the memory read per query.
        top = np.lexsort((ids, -(fused + prior)))[: max(rerank, k)]
        ids, keyword_total, prior = ids[top], keyword_total[top], prior[top]
        fused, dense_total = np.zeros(len(ids), np.float32), np.zeros(len(ids), np.float32)
        parts = zip(
            query.parts, query.weights, vectors, keyword_parts, wholes, translated, translated_wholes, strict=True
        )
        for text, weight, vector, kw, whole, other, other_whole in parts:
            foreign = cross_language(index, text, ids)
            dense = with_best_sentence(index, ids, vector, whole[top])
            if other is not None:
                dense = _with_translation(
                    index, text, ids, dense, with_best_sentence(index, ids, other, other_whole[top]), mix
                )
            fused += weight * fuse(dense, kw[ids], alpha=alpha, cross_language=foreign, floor=floor)
            dense_total += weight * dense
    order = np.lexsort((ids, -(fused + prior)))[:k]
    return [
        Hit(
            passage=index.passages[ids[j]],
            score=float(fused[j]),
            dense_score=float(dense_total[j]),
            keyword_score=float(keyword_total[j]),
            row=int(ids[j]),
            document=float(prior[j]),
        )
        for j in order
    ]


def _or_none(vectors, n: int):
    return list(vectors) if vectors is not None else [None] * n
