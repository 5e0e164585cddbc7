"""Stage 4b: the keyword index, BM25 (bm25s, sparse matrices) over Chinese-aware tokens."""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path

import numpy as np

from .terms import tokenize, tokenize_many

logger = logging.getLogger(__name__)


def _bm25s():
    import bm25s

    logging.getLogger("bm25s").setLevel(logging.WARNING)  # its import sets DEBUG: it would log every build
    return bm25s


class KeywordIndex:
    """BM25 over passages, with scores normalised to "share of the question's term weight matched".

    The normalisation makes keyword scores comparable across questions, so they can be fused
    with cosine similarities and thresholded for "not found".
    """

    def __init__(self, *, k1: float = 1.2, b: float = 0.75):
        self.k1, self.b = k1, b
        self._bm25 = None
        self._idf: dict[str, float] = {}
        self.size = 0

    @classmethod
    def build(cls, texts: list[str], *, k1: float = 1.2, b: float = 0.75, progress: bool = False) -> KeywordIndex:
        """Index ``texts`` (one passage each)."""
        bm25s = _bm25s()
        index = cls(k1=k1, b=b)
        tokens = tokenize_many(texts)
        index.size = len(texts)
        index._bm25 = bm25s.BM25(k1=k1, b=b, method="lucene")
        # An empty token keeps bm25s happy for passages with no indexable word.
        index._bm25.index([t or [""] for t in tokens], show_progress=progress)
        df: dict[str, int] = {}
        for doc in tokens:
            for word in set(doc):
                df[word] = df.get(word, 0) + 1
        index._idf = {w: _idf(n, index.size) for w, n in df.items()}
        return index

    def unknown_idf(self) -> float:
        """IDF of a word the corpus never uses: the rarest possible, so it counts fully against a match."""
        return _idf(0, self.size)

    def scores(self, words: list[str]) -> np.ndarray:
        """Normalised BM25 of every passage (0..1: the share of the words' idf mass matched)."""
        words = list(dict.fromkeys(words))
        vocab = self._bm25.vocab_dict if self._bm25 is not None else {}
        ids = [vocab[w] for w in words if w in vocab]
        total = sum(self._idf.get(w, self.unknown_idf()) for w in words)
        if not ids or total <= 0:
            return np.zeros(self.size, dtype=np.float32)
        raw = self._bm25.get_scores_from_ids(ids)
        return np.minimum(raw / total, 1.0).astype(np.float32)

    def knows_any(self, words: list[str]) -> bool:
        """Whether any of the words occurs in the indexed passages."""
        return any(w in self._idf for w in words)

    def search(self, question: str, *, k: int = 50) -> tuple[np.ndarray, np.ndarray]:
        """Top ``k`` passage ids and normalised scores for one question, best first."""
        return top_k(self.scores(tokenize(question)), k)

    def save(self, folder: Path) -> None:
        folder = Path(folder)
        self._bm25.save(str(folder / "bm25"))
        (folder / "idf.json").write_text(
            json.dumps({"k1": self.k1, "b": self.b, "size": self.size, "idf": self._idf}, ensure_ascii=False)
        )

    @classmethod
    def load(cls, folder: Path, *, mmap: bool = False) -> KeywordIndex:
        bm25s = _bm25s()
        folder = Path(folder)
        meta = json.loads((folder / "idf.json").read_text())
        index = cls(k1=meta["k1"], b=meta["b"])
        index.size = meta["size"]
        index._idf = meta["idf"]
        index._bm25 = bm25s.BM25.load(str(folder / "bm25"), mmap=mmap)
        return index


def _idf(df: int, n: int) -> float:
    """Lucene's BM25 idf, the one bm25s uses with ``method="lucene"``."""
    return math.log(1 + (n - df + 0.5) / (df + 0.5))


def top_k(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Ids and values of the ``k`` largest positive scores, best first (ties by id)."""
    k = min(k, len(scores))
    if k <= 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
    top = np.argpartition(-scores, k - 1)[:k] if k < len(scores) else np.arange(len(scores))
    top = top[np.lexsort((top, -scores[top]))]
    top = top[scores[top] > 0]
    return top.astype(np.int64), scores[top].astype(np.float32)
