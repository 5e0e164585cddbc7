"""Stage 6: hybrid retrieval: dense and keyword candidates, fused scores, follow-ups, "not found"."""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence

import numpy as np

from ..encoders import Encoder, one_blas_thread
from ..errors import QuestionError
from ..keyword import to_simplified, tokenize, top_k, traditional_share
from ..records import Hit
from ..storage import Index
from .conversation import CONTROL, Query

DEFAULT_ALPHA = 0.5
DEFAULT_THRESHOLD = 0.2
MAX_TOP_K = 50
MAX_QUESTION_CHARS = 2000
# Passages of the first stage (whole-passage cosine + BM25) re-scored with their sentences' vectors.
RERANK = 30

_WORD_CHAR = re.compile(r"[^\W_]")  # a letter, digit or CJK character


def clean_question(question: str) -> str:
    """Strip control characters and surrounding space; refuse empty or over-long questions."""
    if question is None:
        raise QuestionError("The question is missing. Type a question, e.g. 世界互联网大会国际组织是什么时候成立的?")
    if not isinstance(question, str):
        raise QuestionError(f"The question must be text; got {type(question).__name__}.")
    text = CONTROL.sub(" ", question).strip()
    if not text:
        raise QuestionError("The question is empty. Type a question, e.g. 世界互联网大会国际组织是什么时候成立的?")
    if len(text) > MAX_QUESTION_CHARS:
        raise QuestionError(f"The question is {len(text)} characters long; shorten it to at most {MAX_QUESTION_CHARS}.")
    if not _WORD_CHAR.search(text):
        raise QuestionError("The question has no words, only symbols; ask in words, e.g. 乌镇峰会是什么时候开始的?")
    return text


def check_top_k(k: int) -> int:
    if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= MAX_TOP_K:
        raise QuestionError(f"The number of passages must be a whole number from 1 to {MAX_TOP_K}; got {k!r}.")
    return k


def fuse(
    dense: np.ndarray, keyword: np.ndarray, *, alpha: float = DEFAULT_ALPHA, cross_language: bool = False
) -> np.ndarray:
    """Weighted sum of cosine similarity and normalised BM25 (both roughly 0..1); ``alpha`` weighs dense.

    Across languages the keyword side only sees dictionary translations, which cover part of the
    question's words, so its weight is halved there (``alpha`` 0.5 becomes 0.75) unless keywords
    are all there is (``alpha`` 0).
    """
    if cross_language and alpha > 0:
        alpha = (1.0 + alpha) / 2
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
    offsets = index.sentence_offsets
    first, counts = offsets[ids], offsets[ids + 1] - offsets[ids]
    best = np.full(len(ids), np.nan, dtype=np.float32)
    has = counts > 0
    if not has.any():
        return best
    first, counts = first[has], counts[has]
    starts = np.zeros(len(counts), dtype=np.int64)
    np.cumsum(counts[:-1], out=starts[1:])
    rows = np.repeat(first - starts, counts) + np.arange(int(counts.sum()))
    scores = index.sentence_vectors[rows] @ query
    best[has] = np.maximum.reduceat(scores, starts)
    return best


def dense_text(index: Index, question: str) -> str:
    """The question as the encoder should see it: in simplified characters when the corpus is written in
    them (the keyword side folds both scripts alike; USE matches 成立 with 成立 better than with a
    traditional question's words: 0.65 vs 0.45 on the seed interview's founding question)."""
    if index.simplified is None:
        step = max(1, len(index.passages) // 200)
        sample = "".join(index.passages[i].text for i in range(0, len(index.passages), step))
        index.simplified = traditional_share(sample) < 0.05
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
) -> list[list[Hit]]:
    """The ``k`` best passages per query, fused score first (the batch form; one query is a batch of one).

    A query in another language than the corpus (English asked of Chinese documents) is scored by
    dense similarity, raised where dictionary translations of its words match (see ``fuse``).
    """
    if not 0.0 <= alpha <= 1.0:
        raise QuestionError(f"The keyword/dense balance must be between 0 and 1; got {alpha!r}.")
    check_top_k(k)
    queries = [q if isinstance(q, Query) else Query.of(q) for q in queries]
    if not queries or not index.passages:
        return [[] for _ in queries]
    texts = [t for q in queries for t in q.parts]
    vectors = encoder.encode_queries([dense_text(index, t) for t in texts]) if alpha > 0 else None
    dense_ids, _ = index.dense.search(vectors, k=candidates) if vectors is not None else (None, None)
    results, row = [], 0
    for query in queries:
        n = len(query.parts)
        part_rows = range(row, row + n)
        row += n
        keyword_parts, pools = [], []
        for text in query.parts:
            words = tokenize(text) if alpha < 1 else []
            kw = index.keyword.scores(words) if words else np.zeros(len(index.passages), np.float32)
            keyword_parts.append((kw, index.keyword.is_foreign(text)))
            pools.append(top_k(kw, candidates)[0])
        if vectors is not None:
            pools += [dense_ids[r][dense_ids[r] >= 0] for r in part_rows]
        ids = np.unique(np.concatenate(pools)).astype(np.int64)  # sorted
        if len(ids) == 0:
            results.append([])
            continue
        fused = np.zeros(len(ids), np.float32)
        dense_total = np.zeros(len(ids), np.float32)
        keyword_total = np.zeros(len(ids), np.float32)
        wholes = []
        passage_vectors = index.vector_rows(ids) if vectors is not None else None  # gathered once for all parts
        for weight_, r, (kw, foreign) in zip(query.weights, part_rows, keyword_parts, strict=True):
            dense = passage_vectors @ vectors[r] if passage_vectors is not None else np.zeros(len(ids), np.float32)
            wholes.append(dense)
            fused += weight_ * fuse(dense, kw[ids], alpha=alpha, cross_language=foreign)
            dense_total += weight_ * dense
            keyword_total += weight_ * kw[ids]
        if vectors is not None and has_sentence_vectors(index):
            # Second stage: the best passages of the first (whole-passage cosine and BM25) are re-scored with
            # their best sentence. Same hit@1 as scoring every sentence of the corpus (0.912 on the CMRC
            # benchmark, rerank 10 to all), at a fraction of the memory read per query.
            top = np.lexsort((ids, -fused))[: max(rerank, k)]
            ids, fused, dense_total, keyword_total = ids[top], fused[top], dense_total[top], keyword_total[top]
            fused[:] = 0
            dense_total[:] = 0
            for weight_, r, (kw, foreign), whole in zip(query.weights, part_rows, keyword_parts, wholes, strict=True):
                dense = with_best_sentence(index, ids, vectors[r], whole[top])
                fused += weight_ * fuse(dense, kw[ids], alpha=alpha, cross_language=foreign)
                dense_total += weight_ * dense
        order = np.lexsort((ids, -fused))[:k]
        results.append(
            [
                Hit(
                    passage=index.passages[ids[j]],
                    score=float(fused[j]),
                    dense_score=float(dense_total[j]),
                    keyword_score=float(keyword_total[j]),
                )
                for j in order
            ]
        )
    return results
