"""Stage 4b: the keyword index, BM25 (bm25s, sparse matrices) over Chinese-aware tokens."""

from __future__ import annotations

import json
import logging
import math
import re
from pathlib import Path

import numpy as np

from .terms import tokenize, tokenize_many

logger = logging.getLogger(__name__)
_CJK = re.compile(r"[\u3400-\u9fff]")


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
        self.bridge: dict[str, list[str]] = {}
        self.language = "en"  # the corpus's main script: "zh" when most of its words are Chinese
        self.size = 0

    @classmethod
    def build(
        cls, texts: list[str], *, k1: float = 1.2, b: float = 0.75, bridge: bool = True, progress: bool = False
    ) -> KeywordIndex:
        """Index ``texts`` (one passage each); ``bridge`` adds the cross-language dictionary links."""
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
        cjk = sum(n for w, n in df.items() if _CJK.search(w))
        index.language = "zh" if cjk * 2 >= sum(df.values()) else "en"
        if bridge:
            from .lexicon import build_bridge

            index.bridge = build_bridge(set(index._idf))
        return index

    def unknown_idf(self) -> float:
        """IDF of a word the corpus never uses: the rarest possible, so it counts fully against a match."""
        return _idf(0, self.size)

    def groups(self, words: list[str]) -> list[list[str]]:
        """Each question word with its corpus-word translations (a group counts as one word)."""
        return [[w, *self.bridge.get(w, ())] for w in dict.fromkeys(words)]

    def scores(self, words: list[str]) -> np.ndarray:
        """Normalised BM25 of every passage (0..1: the share of the words' idf mass matched).

        A word and its translations form one group: the group's weight is the idf of its rarest
        known member (or of an unknown word), and the passage gets the BM25 of whichever members it has.
        """
        vocab = self._bm25.vocab_dict if self._bm25 is not None else {}
        total, raw = 0.0, None
        for group in self.groups(words):
            known = [w for w in group if w in vocab and w in self._idf]
            total += max((self._idf[w] for w in known), default=self.unknown_idf())
            if known:
                part = self._bm25.get_scores_from_ids([vocab[w] for w in known])
                raw = part if raw is None else raw + part
        if raw is None or total <= 0:
            return np.zeros(self.size, dtype=np.float32)
        return np.minimum(raw / total, 1.0).astype(np.float32)

    def knows_any(self, words: list[str]) -> bool:
        """Whether any of the words (or a translation of one) occurs in the indexed passages."""
        return any(w in self._idf for group in self.groups(words) for w in group)

    def is_foreign(self, text: str) -> bool:
        """Whether ``text`` is written in another script than most of the corpus (zh vs. en)."""
        return bool(_CJK.search(text)) != (self.language == "zh")

    def search(self, question: str, *, k: int = 50) -> tuple[np.ndarray, np.ndarray]:
        """Top ``k`` passage ids and normalised scores for one question, best first."""
        return top_k(self.scores(tokenize(question)), k)

    def save(self, folder: Path) -> None:
        folder = Path(folder)
        self._bm25.save(str(folder / "bm25"))
        (folder / "idf.json").write_text(
            json.dumps(
                {
                    "k1": self.k1,
                    "b": self.b,
                    "size": self.size,
                    "language": self.language,
                    "idf": self._idf,
                    "bridge": self.bridge,
                },
                ensure_ascii=False,
            )
        )

    @classmethod
    def load(cls, folder: Path, *, mmap: bool = False) -> KeywordIndex:
        bm25s = _bm25s()
        folder = Path(folder)
        meta = json.loads((folder / "idf.json").read_text())
        index = cls(k1=meta["k1"], b=meta["b"])
        index.size = meta["size"]
        index._idf = meta["idf"]
        index.bridge = meta.get("bridge", {})
        index.language = meta.get("language", "en")
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
