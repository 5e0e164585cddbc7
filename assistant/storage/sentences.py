"""Sentence vectors kept compactly at any size: 8-bit codes with one scale per vector, one block per segment
(memory-mapped when loaded, shared between versions like the segment's other files)."""

from __future__ import annotations

import contextlib
import mmap
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# Vectors quantized at a time (a bound on the float32 copy quantizing makes).
_CHUNK = 65_536
# Memory-mapped code files at least this large are released after each read (as ``versions.RELEASE_BYTES``).
RELEASE_BYTES = 64 << 20


def quantize(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """8-bit codes and one scale per vector: ``codes * scale`` is the vector to within half a step
    (1/254 of its largest component); cosines move by about 1e-3."""
    vectors = np.asarray(vectors, dtype=np.float32)
    codes = np.empty(vectors.shape, dtype=np.int8)
    scales = np.empty(len(vectors), dtype=np.float32)
    for start in range(0, len(vectors), _CHUNK):
        block = vectors[start : start + _CHUNK]
        peak = np.abs(block).max(axis=1) if block.size else np.zeros(len(block), np.float32)
        scale = np.where(peak > 0, peak / 127.0, 1.0).astype(np.float32)
        codes[start : start + len(block)] = np.rint(block / scale[:, None])
        scales[start : start + len(block)] = scale
    return codes, scales


@dataclass
class SentenceBlock:
    """The sentence vectors of a run of passages: ``counts[i]`` sentences for the run's ``i``-th passage."""

    codes: np.ndarray  # int8 (sentences, dimension)
    scales: np.ndarray  # float32 (sentences,)
    counts: np.ndarray  # int64 (passages,)

    @classmethod
    def of(cls, vectors: np.ndarray, counts: np.ndarray) -> SentenceBlock:
        codes, scales = quantize(vectors)
        return cls(codes, scales, np.asarray(counts, dtype=np.int64))

    @classmethod
    def empty(cls, passages: int, dimension: int) -> SentenceBlock:
        return cls(np.zeros((0, dimension), np.int8), np.zeros(0, np.float32), np.zeros(passages, np.int64))

    @classmethod
    def joined(cls, blocks: Sequence[SentenceBlock], dimension: int) -> SentenceBlock:
        """One block of ``blocks``' passages, in order."""
        blocks = list(blocks)
        if not blocks:
            return cls.empty(0, dimension)
        if len(blocks) == 1:
            return blocks[0]
        return cls(
            np.concatenate([np.asarray(b.codes) for b in blocks]).reshape(-1, dimension),
            np.concatenate([np.asarray(b.scales) for b in blocks]),
            np.concatenate([b.counts for b in blocks]),
        )

    @property
    def offsets(self) -> np.ndarray:
        return np.concatenate([[0], np.cumsum(self.counts)]).astype(np.int64)

    def passages(self, first: int, last: int) -> SentenceBlock:
        """The block of this block's passages ``first`` to ``last`` (exclusive)."""
        offsets = self.offsets
        a, b = offsets[first], offsets[last]
        return SentenceBlock(np.asarray(self.codes[a:b]), np.asarray(self.scales[a:b]), self.counts[first:last])

    def chosen(self, keep: np.ndarray) -> SentenceBlock:
        """The block of the passages where ``keep`` (a mask over this block's passages) is true."""
        if keep.all():
            return self
        mask = np.repeat(keep, self.counts)
        return SentenceBlock(np.asarray(self.codes)[mask], np.asarray(self.scales)[mask], self.counts[keep])

    def files(self, segment: str) -> dict[str, np.ndarray]:
        return {name: array for name, array in zip(sentence_files(segment), self._arrays(), strict=True)}

    def _arrays(self):
        return self.codes, self.scales, self.counts


def sentence_files(segment: str) -> tuple[str, str, str]:
    """The files of one segment's sentence vectors: codes, scales, sentences per passage."""
    return f"sentences-{segment}.npy", f"sentence-scales-{segment}.npy", f"sentence-counts-{segment}.npy"


class SentenceVectors:
    """The sentence vectors of an index, one ``SentenceBlock`` per segment, addressed by passage row."""

    def __init__(self, blocks: Sequence[SentenceBlock], dimension: int):
        self.blocks = list(blocks)
        self.dimension = dimension
        counts = [b.counts for b in self.blocks]
        self.offsets = np.concatenate([[0], np.cumsum(np.concatenate(counts) if counts else [])]).astype(np.int64)
        self._starts = np.cumsum([0, *(len(b.scales) for b in self.blocks)])

    @classmethod
    def split(cls, block: SentenceBlock, rows: Sequence[int], dimension: int) -> SentenceVectors:
        """``block``'s passages cut into blocks of ``rows`` passages each (the segments)."""
        parts, start = [], 0
        for n in rows:
            parts.append(block.passages(start, start + n))
            start += n
        return cls(parts, dimension)

    @classmethod
    def load(cls, folder: Path, segments: Sequence[str], dimension: int) -> SentenceVectors:
        blocks = []
        for name in segments:
            codes, scales, counts = sentence_files(name)
            blocks.append(SentenceBlock(_open(folder / codes), np.load(folder / scales), np.load(folder / counts)))
        return cls(blocks, dimension)

    def __len__(self) -> int:
        return int(self.offsets[-1])

    @property
    def passages(self) -> int:
        return len(self.offsets) - 1

    def array(self) -> np.ndarray:
        """All the sentence vectors as one float32 array (row-aligned with ``offsets``)."""
        return self.vectors(np.arange(len(self)))

    def vectors(self, rows: np.ndarray) -> np.ndarray:
        """The float32 vectors of the sentences at (global) ``rows``."""
        return self._gather(rows, codes=True).astype(np.float32) * self._gather(rows, codes=False)[:, None]

    def block_of(self, passage_rows: np.ndarray) -> SentenceBlock:
        """One block holding the sentences of ``passage_rows`` (increasing), in that order."""
        passage_rows = np.asarray(passage_rows, dtype=np.int64)
        rows = self._rows_of(passage_rows)
        return SentenceBlock(
            self._gather(rows, codes=True),
            self._gather(rows, codes=False),
            self.offsets[passage_rows + 1] - self.offsets[passage_rows],
        )

    def of_passage(self, row: int) -> np.ndarray:
        """The float32 vectors of the passage's sentences."""
        return self.vectors(np.arange(self.offsets[row], self.offsets[row + 1]))

    def scores(self, rows: np.ndarray, query: np.ndarray) -> np.ndarray:
        """The cosines of the sentences at (global) ``rows`` with ``query``."""
        codes = self._gather(rows, codes=True).astype(np.float32)
        return (codes @ np.asarray(query, dtype=np.float32)) * self._gather(rows, codes=False)

    def _rows_of(self, passage_rows: np.ndarray) -> np.ndarray:
        first, counts = self.offsets[passage_rows], self.offsets[passage_rows + 1] - self.offsets[passage_rows]
        starts = np.zeros(len(counts), dtype=np.int64)
        np.cumsum(counts[:-1], out=starts[1:])
        return np.repeat(first - starts, counts) + np.arange(int(counts.sum()), dtype=np.int64)

    def _gather(self, rows: np.ndarray, *, codes: bool) -> np.ndarray:
        rows = np.asarray(rows, dtype=np.int64)
        arrays = [b.codes if codes else b.scales for b in self.blocks]
        shape = (len(rows), self.dimension) if codes else (len(rows),)
        out = np.empty(shape, dtype=np.int8 if codes else np.float32)
        which = np.searchsorted(self._starts, rows, side="right") - 1
        for block in np.unique(which):
            chosen = which == block
            out[chosen] = np.asarray(arrays[block])[rows[chosen] - self._starts[block]]
        if codes:
            _release(arrays)
        return out


def _open(path: Path) -> np.ndarray:
    """Codes memory-mapped for scattered reads (no read-ahead: a query reads ~200 rows)."""
    codes = np.load(path, mmap_mode="r")
    with contextlib.suppress(AttributeError, OSError, ValueError):
        codes._mmap.madvise(mmap.MADV_RANDOM)
    return codes


def _release(arrays) -> None:
    """Let the kernel keep a large mapped file's pages in its cache rather than in this process's RSS."""
    for codes in arrays:
        if isinstance(codes, np.memmap) and codes.nbytes >= RELEASE_BYTES:
            with contextlib.suppress(AttributeError, OSError, ValueError):
                codes._mmap.madvise(mmap.MADV_DONTNEED)
