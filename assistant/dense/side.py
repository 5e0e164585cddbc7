"""The dense side's interface: what the retriever and the stores ask of a FAISS index or a Milvus collection."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class DenseSide(Protocol):
    """Nearest passages by inner product; ids are the rows of the index's passages (-1: none).

    The retriever calls ``search`` and re-scores the candidates with ``Index.vector_rows``; ``add`` and
    ``delete`` change the rows, ``count`` and ``describe`` say what is held (``describe`` goes in the manifest).
    """

    def search(self, queries: np.ndarray, *, k: int = 50) -> tuple[np.ndarray, np.ndarray]: ...

    def add(self, vectors: np.ndarray) -> None: ...

    def delete(self, rows: np.ndarray) -> None: ...

    def count(self) -> int: ...

    def describe(self) -> dict: ...
