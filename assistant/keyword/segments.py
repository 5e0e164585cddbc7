"""Passages' keyword term counts in append-only segments, and how an update re-plans them.

A segment holds its passages' term counts by word (CSC arrays) and their lengths; its files never change
once written, so a new version of an index shares the segments it keeps (``versions._save``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np

_ARRAYS = ("data", "indices", "indptr", "lengths")


def segment_name() -> str:
    """A new segment's name, unique within an index folder."""
    return f"s-{uuid.uuid4().hex[:10]}"


@dataclass(frozen=True)
class Part:
    """One segment of an index being made: an old segment kept as it is (``name``), or a new one made of
    the old index's rows ``old_rows`` followed by the new rows ``new_rows`` (a range of the new counts)."""

    name: str | None
    old_rows: np.ndarray
    new_rows: tuple[int, int] = (0, 0)

    @property
    def rows(self) -> int:
        return len(self.old_rows) + self.new_rows[1] - self.new_rows[0]


def plan_segments(
    segments: list[tuple[str, int]], drop: np.ndarray, new_rows: int, *, segment_rows: int, max_small: int
) -> list[Part]:
    """The segments of an updated index: old ones without dropped rows kept, those with some rewritten
    (those with none left gone), the new rows in one new segment after them. When more than ``max_small``
    segments smaller than half ``segment_rows`` end the index, they are merged into the new one."""
    parts, start = [], 0
    for name, rows in segments:
        gone = drop[start : start + rows]
        if not gone.any():
            parts.append(Part(name, np.arange(start, start + rows)))
        elif not gone.all():
            parts.append(Part(None, start + np.flatnonzero(~gone)))
        start += rows
    trailing = 0
    while trailing < len(parts) and parts[-1 - trailing].rows < segment_rows // 2:
        trailing += 1
    if trailing + (new_rows > 0) > max_small:
        merged = np.concatenate([p.old_rows for p in parts[len(parts) - trailing :]])
        parts = [*parts[: len(parts) - trailing], Part(None, merged, (0, new_rows))]
    elif new_rows:
        parts.append(Part(None, np.zeros(0, np.int64), (0, new_rows)))
    return parts or [Part(None, np.zeros(0, np.int64))]


@dataclass
class Postings:
    """One segment: its passages' term counts by word (CSC arrays) and their lengths in tokens.

    Row ``i`` of the segment is passage ``start + i`` of the index; words beyond ``width`` were
    added to the vocabulary after the segment was written and do not occur in it.
    """

    name: str
    data: np.ndarray  # float32 term counts
    indices: np.ndarray  # int32 rows within the segment
    indptr: np.ndarray  # int64, one more than the words known when the segment was written
    lengths: np.ndarray  # float32 tokens per passage
    start: int = 0

    @classmethod
    def from_counts(cls, counts, name: str, start: int = 0) -> Postings:
        """From a passages × words matrix of term counts."""
        import scipy.sparse as sp

        csc = sp.csc_matrix(counts, dtype=np.float32)
        csc.sum_duplicates()
        lengths = np.asarray(csc.sum(axis=1), dtype=np.float32).ravel()
        return cls(
            name, csc.data.astype(np.float32), csc.indices.astype(np.int32), csc.indptr.astype(np.int64), lengths, start
        )

    @property
    def rows(self) -> int:
        return len(self.lengths)

    @property
    def width(self) -> int:
        return len(self.indptr) - 1

    def counts(self, width: int):
        """The term counts as a CSR matrix (passages × ``width`` words)."""
        import scipy.sparse as sp

        csc = sp.csc_matrix((self.data, self.indices, self.indptr), shape=(self.rows, self.width))
        csr = csc.tocsr()
        csr.resize((self.rows, width))
        return csr

    def document_frequency(self, width: int) -> np.ndarray:
        df = np.zeros(width, dtype=np.int64)
        df[: self.width] = np.diff(self.indptr)
        return df

    def files(self) -> list[str]:
        return [f"{self.name}.{array}.npy" for array in _ARRAYS]

    def save(self, folder: Path) -> None:
        """Write the segment's arrays into ``folder``, unless they are there already (shared with a version)."""
        for array, file in zip(_ARRAYS, self.files(), strict=True):
            if not (folder / file).exists():
                np.save(folder / file, getattr(self, array))

    @classmethod
    def load(cls, folder: Path, name: str, start: int, *, mmap: bool = False) -> Postings:
        """``mmap``: leave the postings on disk until read (the word offsets and lengths, small, are read now).
        Mapped arrays are plain ndarray views: indexing a ``np.memmap`` makes memmap objects, slow per call."""
        arrays = []
        for array in _ARRAYS:
            mapped = mmap and array in ("data", "indices")
            loaded = np.load(folder / f"{name}.{array}.npy", mmap_mode="r" if mapped else None)
            arrays.append(loaded.view(np.ndarray) if mapped else loaded)
        return cls(name, *arrays, start=start)


def count_terms(token_lists: list[list[str]], vocab: dict[str, int]):
    """A passages × words CSR matrix of term counts; new words are added to ``vocab``."""
    import scipy.sparse as sp

    ids = [vocab.setdefault(w, len(vocab)) for tokens in token_lists for w in tokens]
    lengths = np.fromiter(map(len, token_lists), dtype=np.int64, count=len(token_lists))
    rows = np.repeat(np.arange(len(token_lists)), lengths)
    matrix = sp.csr_matrix(
        (np.ones(len(ids), np.float32), (rows, np.asarray(ids, dtype=np.int64))), shape=(len(token_lists), len(vocab))
    )
    matrix.sum_duplicates()
    return matrix


def stack_counts(blocks: list, width: int):
    """Term-count rows of several files, one under the other, over a vocabulary of ``width`` words."""
    import scipy.sparse as sp

    blocks = [b for b in blocks if b.shape[0]]
    if not blocks:
        return sp.csr_matrix((0, width), dtype=np.float32)
    for block in blocks:
        block.resize((block.shape[0], width))
    return sp.vstack(blocks, format="csr", dtype=np.float32)
