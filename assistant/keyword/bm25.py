"""The keyword index, BM25 over Chinese-aware tokens, in append-only segments of sparse term counts.

Each segment keeps its passages' term counts by word (a CSC matrix) and their lengths; BM25's statistics
(document frequencies, average length) are kept for the whole index and applied at query time, as Lucene
does, so adding a file writes one small segment instead of re-weighting every passage.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import replace
from pathlib import Path

import numpy as np

from ..text import CJK
from .segments import Part, Postings, count_terms, segment_name, stack_counts
from .terms import tokenize_many

# What the saved cross-language bridge holds (2: pinyin spellings of names; 3: of names cut after their surname);
# an older one is made again on load.
BRIDGE_VERSION = 3

logger = logging.getLogger(__name__)
# A corpus is mixed (Chinese and other passages scored each against a question in its language) when the
# smaller language holds at least this share of its passages, and this many.
MIXED_SHARE = 0.02
MIXED_LEAST = 5
# Corpus translations of each question word its word-by-word translation keeps (``KeywordIndex.translation``).
TRANSLATION_WORDS = 2


class KeywordIndex:
    """BM25 (Lucene's variant, as bm25s computes it) over passages, with scores normalised to "share of the
    question's term weight matched".

    The normalisation makes keyword scores comparable across questions, so they can be fused
    with cosine similarities and thresholded for "not found".
    """

    def __init__(self, *, k1: float = 1.2, b: float = 0.75):
        self.k1, self.b = k1, b
        self.segments: list[Postings] = []
        self.vocab: dict[str, int] = {}
        self.df = np.zeros(0, dtype=np.int64)  # passages holding each word
        self.tokens = 0.0  # tokens in all passages (for the average length)
        self.bridge: dict[str, list[str]] = {}
        self.language = "en"  # the corpus's main script: "zh" when most of its words are Chinese
        self._norm_cache: list[np.ndarray] | None = None
        self._chinese_rows: np.ndarray | None = None
        self._mixed: bool | None = None

    @property
    def size(self) -> int:
        return sum(s.rows for s in self.segments)

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
        cls,
        counts,
        vocab: dict[str, int],
        *,
        k1: float = 1.2,
        b: float = 0.75,
        bridge: bool = True,
        segment_rows: int | None = None,
    ) -> KeywordIndex:
        """From a passages × words matrix of term counts (rows of unchanged files are reused as they are: no
        second tokenization), in segments of ``segment_rows`` passages (one segment by default)."""
        n = counts.shape[0]
        size = segment_rows or max(n, 1)
        parts = [Part(None, np.zeros(0, np.int64), (a, min(a + size, n))) for a in range(0, n, size)]
        return cls(k1=k1, b=b).rebuilt(
            parts or [Part(None, np.zeros(0, np.int64), (0, 0))], counts, vocab, bridge=bridge
        )

    def appended(self, counts, vocab: dict[str, int], *, merge_from: int | None = None, bridge: bool = True):
        """A new index: this one's segments and a new one of ``counts`` (rows after this index's, over
        ``vocab``, this index's vocabulary with any new words added at the end). This index is left as it is.

        ``merge_from``: segments from that position on are merged into the new one (to keep their number small).
        """
        keep = self.segments[:merge_from] if merge_from is not None else self.segments
        parts = [Part(s.name, np.arange(s.start, s.start + s.rows), (0, 0)) for s in keep]
        tail = np.arange(sum(s.rows for s in keep), self.size)
        if counts.shape[0] or len(tail):
            parts.append(Part(None, tail, (0, counts.shape[0])))
        return self.rebuilt(parts, counts, vocab, bridge=bridge)

    def rebuilt(self, parts: list[Part], counts, vocab: dict[str, int], *, bridge: bool = True) -> KeywordIndex:
        """A new index whose segments are ``parts``: a part with a name is this index's segment of that name,
        kept as it is; another is a new segment of this index's rows ``old_rows`` followed by the rows
        ``new_rows`` of ``counts`` (over ``vocab``: this index's vocabulary, new words added at the end).
        This index is left as it is (questions may be using it)."""
        width = len(vocab)
        by_name = {s.name: s for s in self.segments}
        index = type(self)(k1=self.k1, b=self.b)
        start = 0
        for part in parts:
            if part.name is not None:
                segment = replace(by_name[part.name], start=start)
            else:
                a, b = part.new_rows
                rows = stack_counts([self.rows_counts(part.old_rows, width), counts[a:b]], width)
                segment = Postings.from_counts(rows, segment_name(), start)
            index.segments.append(segment)
            start += segment.rows
        index.vocab = vocab
        df = sum((s.document_frequency(width) for s in index.segments), np.zeros(width, dtype=np.int64))
        index.df = df
        index.tokens = float(sum(float(np.sum(s.lengths, dtype=np.float64)) for s in index.segments))
        cjk = int(df[_chinese_words(vocab)].sum())
        index.language = "zh" if cjk * 2 >= int(df.sum()) else "en"
        if bridge:
            index.bridge = _bridge(list(vocab), df)
        return index

    def rows_counts(self, rows: np.ndarray, width: int):
        """The term counts of passages ``rows`` (ascending), over ``width`` words."""
        import scipy.sparse as sp

        blocks = []
        for segment in self.segments:
            lo, hi = np.searchsorted(rows, [segment.start, segment.start + segment.rows])
            if hi > lo:
                blocks.append(segment.counts(width)[rows[lo:hi] - segment.start])
        return stack_counts(blocks, width) if blocks else sp.csr_matrix((0, width), dtype=np.float32)

    def term_counts(self):
        """The passages × words term counts, one CSR matrix."""
        return stack_counts([s.counts(len(self.vocab)) for s in self.segments], len(self.vocab))

    def idf(self, word: str) -> float | None:
        """Lucene's BM25 idf of a corpus word, None for a word no passage holds."""
        i = self.vocab.get(word)
        return None if i is None or not self.df[i] else _idf(int(self.df[i]), self.size)

    def unknown_idf(self) -> float:
        """IDF of a word the corpus never uses: the rarest possible, so it counts fully against a match."""
        return _idf(0, self.size)

    def groups(self, words: list[str]) -> list[list[str]]:
        """Each question word with its corpus-word translations (a group counts as one word).

        Two adjacent Latin words that the bridge knows written as one (a name in pinyin, ``xi jinp`` →
        ``xijinp`` → 习近平) are one group with its translations.
        """
        bridge, out, seen, i = self.bridge, [], set(), 0
        while i < len(words):
            pair = words[i] + words[i + 1] if i + 1 < len(words) else ""
            if pair in bridge and pair.isascii() and pair.isalpha() and not {words[i], words[i + 1]} & seen:
                members, i = [words[i], words[i + 1]], i + 2
                out.append([*members, *bridge[pair]])
                seen.update(members)
                continue
            if words[i] not in seen:
                out.append([words[i], *bridge.get(words[i], ())])
                seen.add(words[i])
            i += 1
        return out

    def translation(self, words: list[str], *, per_word: int = TRANSLATION_WORDS) -> str:
        """The question's words in the corpus's other language, word by word through the bridge (its first
        ``per_word`` corpus translations of each): an English question about Chinese passages becomes a bag of
        their words (*Who founded the Wuzhen summit?* → 乌镇峰会…) for the encoder to meet them in their own language.
        Empty when no word has a translation."""
        pieces = []
        for group in self.groups(words):
            if group[0].isdigit():  # a year or a count reads the same in both
                pieces.append(group[0])
                continue
            # a name jieba cuts after its surname is bridged to the bigram across the cut (~任贤): its characters
            chosen = [w.lstrip("~") for w in group[1:] if w.isascii() != group[0].isascii()]
            pieces += chosen[:per_word]
        joiner = "" if pieces and not pieces[0].isascii() else " "
        return joiner.join(pieces)

    def scores(self, words: list[str]) -> np.ndarray:
        """Normalised BM25 of every passage (0..1: the share of the words' idf mass matched).

        A word and its translations form one group: the group's weight is the idf of its rarest
        known member (or of an unknown word), and the passage gets the BM25 of whichever members it has.
        """
        total, ids, n, vocab, df = 0.0, [], self.size, self.vocab, self.df
        for group in self.groups(words):
            known = [i for w in group if (i := vocab.get(w)) is not None and df[i]]
            total += max((_idf(int(df[i]), n) for i in known), default=_idf(0, n))  # as idf(), unknown_idf()
            ids += known
        if not ids or total <= 0:
            return np.zeros(self.size, dtype=np.float32)
        raw = self.bm25(ids)
        raw *= 1.0 / total
        return np.minimum(raw, 1.0, out=raw).astype(np.float32)

    def bm25(self, ids: list[int]) -> np.ndarray:
        """BM25 of every passage for the word ids: the words' postings in each segment (gathered with a few
        array operations per segment, not one per word), weighted with the whole index's statistics, added
        with one ``bincount``."""
        n = self.size
        ids = np.asarray(ids, dtype=np.int64)
        idf = np.log1p((n - self.df[ids] + 0.5) / (self.df[ids] + 0.5)).astype(np.float32)
        rows, tfs, norms, idfs = [], [], [], []
        for segment, norm in zip(self.segments, self._norms(), strict=True):
            known = ids < segment.width
            starts = np.asarray(segment.indptr[ids[known]])
            lengths = np.asarray(segment.indptr[ids[known] + 1]) - starts
            total = int(lengths.sum())
            if not total:
                continue
            # positions of every posting of the words: each word's run starts[i] .. starts[i] + lengths[i]
            positions = np.repeat(starts - np.cumsum(lengths) + lengths, lengths) + np.arange(total)
            found = segment.indices[positions]
            rows.append(found + segment.start if segment.start else found)
            tfs.append(segment.data[positions])
            norms.append(norm[found])
            idfs.append(np.repeat(idf[known], lengths))
        if not rows:
            return np.zeros(n, dtype=np.float64)
        tf = np.concatenate(tfs)
        weights = tf * np.concatenate(idfs)
        weights /= np.concatenate(norms) + tf
        return np.bincount(np.concatenate(rows), weights=weights, minlength=n)

    def _norms(self) -> list[np.ndarray]:
        """Per segment, BM25's length normalisation of each passage, ``k1 * (1 - b + b * length / average)``
        (kept in memory: 4 bytes a passage)."""
        if self._norm_cache is None:
            average = self.tokens / self.size if self.size and self.tokens else 1.0
            base, slope = np.float32(self.k1 * (1 - self.b)), np.float32(self.k1 * self.b / average)
            self._norm_cache = [np.asarray(s.lengths, dtype=np.float32) * slope + base for s in self.segments]
        return self._norm_cache

    def is_foreign(self, text: str) -> bool:
        """Whether ``text`` is written in another script than most of the corpus (zh vs. en)."""
        return bool(CJK.search(text)) != (self.language == "zh")

    def chinese_passages(self) -> np.ndarray:
        """Per passage, whether most of its tokens are Chinese (computed once per index, from the postings)."""
        if self._chinese_rows is None:
            chinese = np.asarray(self.term_counts()[:, _chinese_words(self.vocab)].sum(axis=1)).ravel()
            lengths = np.concatenate([np.asarray(s.lengths) for s in self.segments] or [np.zeros(0)])
            self._chinese_rows = (chinese * 2 >= lengths) & (lengths > 0)
        return self._chinese_rows

    def mixed(self) -> bool:
        """Whether the corpus holds both Chinese and other passages, each at least ``MIXED_SHARE`` of them (and
        ``MIXED_LEAST``): then each passage is compared with a question in its own language (see the retriever)."""
        if self._mixed is None:
            n, chinese = self.size, int(self.chinese_passages().sum())
            self._mixed = min(chinese, n - chinese) >= max(MIXED_LEAST, MIXED_SHARE * n)
        return self._mixed

    def files(self) -> list[str]:
        """The files ``save`` writes, relative to its folder."""
        return ["keyword.json", "df.npy", *(f for s in self.segments for f in s.files())]

    def save(self, folder: Path) -> None:
        """Write the index into ``folder``; segment files already there (shared with a version) are kept."""
        folder = Path(folder)
        for segment in self.segments:
            segment.save(folder)
        np.save(folder / "df.npy", self.df)
        meta = {
            "k1": self.k1,
            "b": self.b,
            "tokens": self.tokens,
            "language": self.language,
            "segments": [{"name": s.name, "rows": s.rows} for s in self.segments],
            "words": list(self.vocab),
            "bridge": self.bridge,
            "bridge_version": BRIDGE_VERSION,
        }
        (folder / "keyword.json").write_text(json.dumps(meta, ensure_ascii=False))

    @classmethod
    def load(cls, folder: Path, *, mmap: bool = False) -> KeywordIndex:
        folder = Path(folder)
        meta = json.loads((folder / "keyword.json").read_text())
        index = cls(k1=meta["k1"], b=meta["b"])
        index.tokens = meta["tokens"]
        index.language = meta.get("language", "en")
        index.bridge = meta.get("bridge", {})
        index.vocab = {w: i for i, w in enumerate(meta["words"])}
        index.df = np.load(folder / "df.npy")
        start = 0
        for entry in meta["segments"]:
            segment = Postings.load(folder, entry["name"], start, mmap=mmap)
            if segment.rows != entry["rows"] or segment.width > len(index.vocab):
                raise ValueError(f"keyword segment {entry['name']} does not match its description")
            index.segments.append(segment)
            start += segment.rows
        if len(index.df) != len(index.vocab):
            raise ValueError("keyword document frequencies do not match the vocabulary")
        if index.bridge and meta.get("bridge_version", 1) < BRIDGE_VERSION:
            index.bridge = _bridge(meta["words"], index.df)  # saved by an older version: made again, in memory
        return index


def _bridge(words: list[str], df: np.ndarray) -> dict[str, list[str]]:
    """The cross-language bridge of the vocabulary ``words`` (their document frequencies ``df``): the words some
    passage still holds."""
    from .lexicon import build_bridge

    return build_bridge(set(np.asarray(words, dtype=object)[np.flatnonzero(df)].tolist()) if len(words) else set())


def _chinese_words(vocab: dict[str, int]) -> np.ndarray:
    """A mask over the word ids of ``vocab``: True for the words in Chinese characters."""
    mask = np.zeros(len(vocab), dtype=bool)
    mask[[i for w, i in vocab.items() if CJK.search(w)]] = True
    return mask


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
