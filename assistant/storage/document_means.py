"""Each document's mean passage vector, for the retriever's document prior (``search.retriever.document_prior``).

Computed once per loaded index version, in blocks of ``BLOCK`` rows read from the (memory-mapped) vectors, so the
pass's memory is one block whatever the corpus's size; a block's passages are summed by document in one sparse
product (a million in-memory vectors of 512 dimensions: 0.5 s on this 2-core machine). Documents of two passages or
more get a row, the largest first, at most ``MAX_DOCUMENTS`` (the table's memory stays fixed: 20,000 rows of 512
float32, 39 MB, however many files a corpus has); a corpus of one file gets none (nothing to tell apart).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
from scipy import sparse

logger = logging.getLogger(__name__)

BLOCK = 16_384  # rows read at a time
MIN_PASSAGES = 2  # a file of one passage has no rest to speak for it
MAX_DOCUMENTS = 20_000


@dataclass(frozen=True)
class DocumentMeans:
    """The corpus's mean passage vector and, per document with a row, its mean passage vector and size."""

    overall: np.ndarray  # (dim,) the mean of all passage vectors
    row_of: np.ndarray  # int32 per passage: its document's row of ``means``, -1 for a document without one
    means: np.ndarray  # (documents, dim) float32
    sizes: np.ndarray  # (documents,) passages per document

    def of(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """For passages ``ids``: which have a document row, and those rows' means and sizes."""
        rows = self.row_of[ids]
        has = rows >= 0
        return has, self.means[rows[has]], self.sizes[rows[has]]


def document_means(codes: np.ndarray, stretches: Callable[[int], Iterable[np.ndarray]]) -> DocumentMeans:
    """The means of the documents that ``codes`` (each passage's file number) describes; ``stretches(rows)``
    yields the passage vectors in row order, at most ``rows`` at a time (``Index.vector_stretches``)."""
    n = len(codes)
    counts = np.bincount(codes) if n else np.zeros(0, np.int64)
    kept = np.flatnonzero(counts >= MIN_PASSAGES) if np.count_nonzero(counts) > 1 else np.zeros(0, np.int64)
    kept = kept[np.argsort(-counts[kept], kind="stable")[:MAX_DOCUMENTS]]
    if not len(kept):  # one file, or only short ones: no prior, and no pass over the vectors
        return _none(n)
    doc_row = np.full(len(counts), -1, np.int32)
    doc_row[kept] = np.arange(len(kept), dtype=np.int32)
    row_of = doc_row[codes]
    sums, total, start = None, None, 0
    for vectors in stretches(BLOCK):
        if sums is None:
            sums, total = np.zeros((len(kept), vectors.shape[1])), np.zeros(vectors.shape[1])
        rows = row_of[start : start + len(vectors)]
        start += len(vectors)
        total += vectors.sum(axis=0)
        mine = np.flatnonzero(rows >= 0)
        if len(mine):
            owners, which = np.unique(rows[mine], return_inverse=True)
            members = sparse.csr_matrix(  # one row per document in this stretch, a 1 for each of its passages
                (np.ones(len(mine), np.float32), (which, mine)), shape=(len(owners), len(vectors))
            )
            sums[owners] += members @ vectors
    if start != n:  # vectors that do not match the passages: no prior at all
        logger.warning("Document means skipped: %d passages but %d vectors.", n, start)
        return _none(n)
    means = sums / counts[kept][:, None]
    return DocumentMeans((total / n).astype(np.float32), row_of, means.astype(np.float32), counts[kept])


def _none(n: int) -> DocumentMeans:
    empty = np.zeros((0, 0), np.float32)
    return DocumentMeans(np.zeros(0, np.float32), np.full(n, -1, np.int32), empty, np.zeros(0, np.int64))
