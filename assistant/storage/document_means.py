"""Each document's mean passage vector, for the retriever's document prior (``search.retriever.document_prior``).

Computed once per loaded index version, in blocks of ``BLOCK`` rows read from the (memory-mapped) vectors, so the
passes's memory is one block whatever the corpus's size. Only documents of two passages or more get a row: a
one-passage document's mean is its passage, which says nothing the passage's own cosine does not.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

BLOCK = 16_384  # rows read at a time


@dataclass(frozen=True)
class DocumentMeans:
    """The corpus's mean passage vector and, per document of two passages or more, its own mean minus it."""

    overall: np.ndarray  # (dim,) the mean of all passage vectors
    row_of: np.ndarray  # int32 per passage: its document's row of ``centred``, -1 for a one-passage document
    centred: np.ndarray  # (documents, dim) float32

    def of(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For passages ``ids``: which have a document row, and those rows of ``centred``."""
        rows = self.row_of[ids]
        has = rows >= 0
        return has, self.centred[rows[has]]


def document_means(codes: np.ndarray, vector_rows, dim: int) -> DocumentMeans:
    """The means of the documents that ``codes`` (each passage's file number) describes; ``vector_rows(ids)``
    reads passage vectors."""
    n = len(codes)
    counts = np.bincount(codes) if n else np.zeros(0, np.int64)
    several = counts >= 2
    doc_row = np.where(several, np.cumsum(several) - 1, -1).astype(np.int32)
    row_of = doc_row[codes] if n else np.zeros(0, np.int32)
    sums = np.zeros((int(several.sum()), dim), np.float64)
    total = np.zeros(dim, np.float64)
    for start in range(0, n, BLOCK):
        ids = np.arange(start, min(n, start + BLOCK))
        vectors = vector_rows(ids).astype(np.float64)
        total += vectors.sum(axis=0)
        rows = row_of[ids]
        keep = rows >= 0
        if keep.any():
            order = np.argsort(rows[keep], kind="stable")
            sorted_rows, kept = rows[keep][order], vectors[keep][order]
            starts = np.flatnonzero(np.r_[True, sorted_rows[1:] != sorted_rows[:-1]])
            sums[sorted_rows[starts]] += np.add.reduceat(kept, starts, axis=0)
    overall = total / max(n, 1)
    centred = sums / np.maximum(counts[several], 1)[:, None] - overall
    return DocumentMeans(overall.astype(np.float32), row_of, centred.astype(np.float32))
