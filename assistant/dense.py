"""Stage 4a: the dense index, FAISS inner product over normalised vectors (exact, or HNSW when large)."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)

EXACT_LIMIT = 200_000


def choose_kind(size: int, kind: str = "auto") -> str:
    """``flat`` (exact) while exact search is cheap, ``hnsw`` beyond ``EXACT_LIMIT`` vectors."""
    if kind != "auto":
        return kind
    return "flat" if size <= EXACT_LIMIT else "hnsw"


class DenseIndex:
    """A FAISS index of passage vectors; row ``i`` is passage ``i``."""

    def __init__(self, index, kind: str):
        self.index = index
        self.kind = kind

    @property
    def size(self) -> int:
        return int(self.index.ntotal)

    @property
    def dimension(self) -> int:
        return int(self.index.d)

    @classmethod
    def build(cls, vectors: np.ndarray, *, kind: str = "auto", hnsw_m: int = 32, ef_search: int = 128) -> DenseIndex:
        """Index ``vectors`` (already L2-normalised float32 rows)."""
        import faiss

        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        kind = choose_kind(len(vectors), kind)
        if kind == "flat":
            index = faiss.IndexFlatIP(vectors.shape[1])
        elif kind == "hnsw":
            index = faiss.IndexHNSWFlat(vectors.shape[1], hnsw_m, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = 80
            index.hnsw.efSearch = ef_search
        else:
            raise ValueError(f"unknown dense index kind {kind!r}; use auto, flat or hnsw")
        if len(vectors):
            index.add(vectors)
        return cls(index, kind)

    def search(self, queries: np.ndarray, *, k: int = 50) -> tuple[np.ndarray, np.ndarray]:
        """Top ``k`` (ids, cosine scores) per query row; ids are -1 where fewer exist."""
        k = max(1, min(k, self.size))
        if self.size == 0:
            n = len(queries)
            return np.full((n, 1), -1, dtype=np.int64), np.zeros((n, 1), dtype=np.float32)
        scores, ids = self.index.search(np.ascontiguousarray(queries, dtype=np.float32), k)
        return ids, scores

    def save(self, path: Path) -> None:
        import faiss

        faiss.write_index(self.index, str(path))

    @classmethod
    def load(cls, path: Path, kind: str, *, mmap: bool = False) -> DenseIndex:
        import faiss

        flags = faiss.IO_FLAG_MMAP | faiss.IO_FLAG_READ_ONLY if mmap else 0
        index = faiss.read_index(str(path), flags)
        if kind == "hnsw":
            faiss.downcast_index(index).hnsw.efSearch = 128
        return cls(index, kind)
