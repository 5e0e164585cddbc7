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
        self.counts = None  # scipy CSR, passages × words
        self.vocab: dict[str, int] = {}
        self._folder: Path | None = None

    @classmethod
    def build(
        cls, texts: list[str], *, k1: float = 1.2, b: float = 0.75, bridge: bool = True, progress: bool = False
    ) -> KeywordIndex:
        """Index ``texts`` (one passage each); ``bridge`` adds the cross-language dictionary links."""
        vocab: dict[str, int] = {}
        counts = count_terms(tokenize_many(texts), vocab)
        return cls.from_counts(counts, vocab, k1=k1, b=b, bridge=bridge)

    @classmethod
    def from_counts(
        cls, counts, vocab: dict[str, int], *, k1: float = 1.2, b: float = 0.75, bridge: bool = True
    ) -> KeywordIndex:
        """BM25 from a passages × words matrix of term counts (rows of unchanged files are reused as they are).

        Computes, all at once with numpy, the same weights as ``bm25s`` (``method="lucene"``) would
        from the token lists: no per-passage Python loop and no second tokenization.
        """
        bm25s = _bm25s()
        import scipy.sparse as sp

        counts = sp.csr_matrix(counts, dtype=np.float32)
        counts.resize((counts.shape[0], len(vocab)))
        index = cls(k1=k1, b=b)
        index.size = counts.shape[0]
        index.counts, index.vocab = counts, vocab
        lengths = np.asarray(counts.sum(axis=1)).ravel()
        df = np.bincount(counts.indices, minlength=len(vocab))
        idf = np.log1p((index.size - df + 0.5) / (df + 0.5)).astype(np.float32)
        avg = float(lengths.mean()) if index.size and lengths.sum() else 1.0
        tf = counts.data
        norm = np.repeat(k1 * (1 - b + b * lengths / avg), np.diff(counts.indptr)).astype(np.float32)
        weights = sp.csr_matrix((idf[counts.indices] * tf / (tf + norm), counts.indices, counts.indptr), counts.shape)
        weights = weights.tocsc()
        index._bm25 = bm25s.BM25(k1=k1, b=b, method="lucene")
        index._bm25.scores = {
            "data": weights.data.astype(np.float32),
            "indices": weights.indices.astype(np.int32),
            "indptr": weights.indptr.astype(np.int32),
            "num_docs": index.size,
        }
        index._bm25.vocab_dict = vocab
        index._bm25.nonoccurrence_array = None  # lucene BM25 needs none
        words = list(vocab)
        index._idf = {words[i]: float(_idf(int(df[i]), index.size)) for i in np.flatnonzero(df)}
        cjk = sum(int(df[i]) for w, i in vocab.items() if df[i] and _CJK.search(w))
        index.language = "zh" if cjk * 2 >= int(df.sum()) else "en"
        if bridge:
            from .lexicon import build_bridge

            index.bridge = build_bridge(set(index._idf))
        return index

    def term_counts(self):
        """The passages × words term counts (loaded from disk on first use after ``load``)."""
        if self.counts is None and self._folder is not None:
            import scipy.sparse as sp

            self.counts = sp.load_npz(self._folder / "counts.npz")
        return self.counts

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
        total, ids = 0.0, []
        for group in self.groups(words):
            known = [w for w in group if w in vocab and w in self._idf]
            total += max((self._idf[w] for w in known), default=self.unknown_idf())
            ids += [vocab[w] for w in known]
        if not ids or total <= 0:
            return np.zeros(self.size, dtype=np.float32)
        raw = self._summed(ids)
        raw *= 1.0 / total
        return np.minimum(raw, 1.0, out=raw).astype(np.float32)

    def _summed(self, ids: list[int]) -> np.ndarray:
        """BM25 of every passage: the words' posting lists added with one ``bincount`` (bm25s adds them
        one list at a time with ``np.add.at``, several times slower on a million passages)."""
        csc = self._bm25.scores
        indptr = csc["indptr"]
        spans = [(int(indptr[i]), int(indptr[i + 1])) for i in ids]
        rows = np.concatenate([csc["indices"][a:b] for a, b in spans])
        weights = np.concatenate([csc["data"][a:b] for a, b in spans])
        return np.bincount(rows, weights=weights, minlength=self.size)

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
        import scipy.sparse as sp

        self._bm25.save(str(folder / "bm25"))
        sp.save_npz(folder / "counts.npz", self.term_counts(), compressed=False)
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
        index.vocab = index._bm25.vocab_dict
        index._folder = folder
        return index


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


def _idf(df: int, n: int) -> float:
    """Lucene's BM25 idf, the one bm25s uses with ``method="lucene"``."""
    return math.log(1 + (n - df + 0.5) / (df + 0.5))


def top_k(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Ids and values of the ``k`` largest positive scores, best first (ties by id)."""
    k = min(k, len(scores))
    if k <= 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
    # Only positive scores can be returned: partition those (a question's words rarely touch most passages).
    top = np.flatnonzero(scores > 0)
    if len(top) > k:
        top = top[np.argpartition(-scores[top], k - 1)[:k]]
    top = top[np.lexsort((top, -scores[top]))]
    return top.astype(np.int64), scores[top].astype(np.float32)
