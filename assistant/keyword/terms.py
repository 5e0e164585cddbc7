"""Chinese-aware tokenization for the keyword index: width/case/script folding, jieba words (jieba-rs), stopwords."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from itertools import chain
from operator import itemgetter

from ..text import CJK

_TOKEN_OK = re.compile(r"[\w\u3400-\u9fff]", re.UNICODE)
_ENGLISH = re.compile(r"^[a-z]+$")
_ENGLISH_WORD = re.compile(r"[a-z]+")
# How Python jieba splits a run of letters, digits and signs that is not a dictionary word (jieba-rs keeps it whole).
_ASCII_PARTS = re.compile(r"[a-z0-9]+(?:\.\d+)?%?|[^a-z0-9]+")

# Function words and question words: they carry no topic, and questions are full of them.
STOPWORDS = frozenset(
    """
    的 了 和 与 及 或 是 在 有 为 对 把 被 从 到 向 以 于 之 其 而 并 也 都 就 还 又 这 那 这个 那个 这些 那些
    它 他 她 它们 他们 我们 你们 我 你 吗 呢 吧 啊 呀 么 什么 怎么 怎样 怎么样 如何 为什么 为何 哪 哪些 哪个 哪里
    哪儿 谁 多少 几 几个 何 何时 何种 是否 是不是 能否 可以 请问 请 一下 一个 一种 时候 什么样 多 个 些 等 等等
    a an the of to in on at by for with from and or but is are was were be been being do does did how what when
    where which who whom whose why it its this that these those there their they them he she his her i you we our
    your me my can could would should will shall may might must has have had not no yes as about into than then
    so if any all some more most such only own same also just very s t
    """.split()
)


@lru_cache(maxsize=1)
def _converter():
    from opencc import OpenCC  # OpenCC's own C++ library

    return OpenCC("t2s")


@lru_cache(maxsize=1)
def _segmenter():
    """jieba-rs (Rust), with jieba's dictionary and its words: the same cuts as Python jieba, ~20x faster."""
    import rjieba

    rjieba.cut("预热")  # loads its dictionary
    return rjieba


def fold(text: str) -> str:
    """NFKC (full-width → ASCII), lower case, and traditional → simplified Chinese."""
    return to_simplified(unicodedata.normalize("NFKC", text).lower())


def to_simplified(text: str) -> str:
    """``text`` with traditional characters made simplified (nothing else changed)."""
    return _converter().convert(text) if CJK.search(text) else text


def traditional_share(text: str) -> float:
    """Share of the Chinese characters of ``text`` that :func:`to_simplified` changes: ~0 for text written in
    simplified characters, ~0.4 for traditional (0 without Chinese)."""
    chinese = len(CJK.findall(text))
    if not chinese:
        return 0.0
    converted = to_simplified(text)
    return sum(a != b for a, b in zip(text, converted, strict=False)) / chinese


@lru_cache(maxsize=1)
def _stemmer():
    import Stemmer

    return Stemmer.Stemmer("english")


@lru_cache(maxsize=1 << 17)
def stem(word: str) -> str:
    """Snowball English stem of a Latin-letter word (``published`` → ``publish``); other words unchanged."""
    return _stemmer().stemWord(word) if _ENGLISH.match(word) else word


def english_words(text: str) -> list[str]:
    """Stemmed content words of an English phrase (for dictionary glosses)."""
    return [stem(w) for w in _ENGLISH_WORD.findall(text.lower()) if w not in STOPWORDS and len(w) > 1]


def tokenize(text: str, *, stopwords: frozenset[str] = STOPWORDS, junctions: bool = True) -> list[str]:
    """Search-mode jieba words of the folded text (English words stemmed), without punctuation and stopwords.

    With ``junctions``, each pair of adjacent Chinese words also yields the character bigram across
    their boundary (``国家|治理`` → ``~家治``): it rewards phrases kept together and names that jieba
    cut into single characters (``钱|晨|菲``).

    What a word of jieba's cut contributes (its tokens, and its edge characters for junctions) depends on
    the word alone, so it is worked out once per distinct word (``_Words``) and looked up after that.
    """
    cut = list(map(_words(stopwords).__getitem__, _segmenter().cut(fold(text))))
    tokens = list(chain.from_iterable(map(_TOKENS, cut)))
    if junctions:
        heads = list(map(_HEAD, cut))
        tokens += ["~" + t + h for t, h in zip(map(_TAIL, cut), heads[1:], strict=False) if t and h]
    return tokens


# What one word of jieba's accurate cut contributes: its tokens, and its first and last characters when
# they can make a junction (Chinese, in a word that is not a stopword), else "".
_TOKENS, _HEAD, _TAIL = itemgetter(0), itemgetter(1), itemgetter(2)


class _Words(dict):
    """``(tokens, head, tail)`` of each word seen, made on first sight (emptied past ``limit`` words: a large
    corpus's long tail)."""

    def __init__(self, stopwords: frozenset[str], limit: int = 1 << 18):
        super().__init__()
        self.stopwords, self.limit = stopwords, limit

    def __missing__(self, word: str) -> tuple[tuple[str, ...], str, str]:
        known, stopwords = _segmenter().has_word, self.stopwords
        # a run such as ``1988-89`` is cut further (``_split_signs``); a longer word adds its parts (``_search_words``)
        if len(word) > 1 and word.isascii() and not word.isalnum():
            pieces = _split_signs([word], known)
        elif len(word) <= 2:  # most words: no parts
            w = word.strip()
            kept = w and w not in stopwords and _TOKEN_OK.search(w)
            free = word not in stopwords
            head = word[0] if free and CJK.match(word[0]) else ""
            tail = word[-1] if free and CJK.match(word[-1]) else ""
            entry = ((stem(w),) if kept else (), head, tail)
            return self._keep(word, entry)
        else:
            pieces = [word]
        found = _search_words(pieces, known)
        tokens = tuple(stem(w) for w in map(str.strip, found) if w and w not in stopwords and _TOKEN_OK.search(w))
        first, last = pieces[0], pieces[-1]
        head = first[0] if first not in stopwords and CJK.match(first[0]) else ""
        tail = last[-1] if last not in stopwords and CJK.match(last[-1]) else ""
        return self._keep(word, (tokens, head, tail))

    def _keep(self, word: str, entry: tuple) -> tuple:
        if len(self) >= self.limit:
            self.clear()
        self[word] = entry
        return entry


_BY_STOPWORDS: dict[frozenset[str], _Words] = {}


def _words(stopwords: frozenset[str]) -> _Words:
    words = _BY_STOPWORDS.get(stopwords)
    if words is None:
        words = _BY_STOPWORDS.setdefault(stopwords, _Words(stopwords))
    return words


def _split_signs(pieces: list[str], known) -> list[str]:
    """Runs such as ``1988-89`` or ``e.v`` cut as Python jieba cuts them (jieba-rs keeps them whole)."""
    out = []
    for piece in pieces:
        if len(piece) > 1 and piece.isascii() and not piece.isalnum() and not known(piece):
            out.extend(_ASCII_PARTS.findall(piece))
        else:
            out.append(piece)
    return out


def _search_words(pieces: list[str], known) -> list[str]:
    """jieba's search mode (``cut_for_search``) from one accurate-mode cut: each long word is preceded by
    its two- and three-character parts that are dictionary words (``known``)."""
    words = []
    for w in pieces:
        if len(w) > 2:
            words.extend(g for i in range(len(w) - 1) if known(g := w[i : i + 2]))
            if len(w) > 3:
                words.extend(g for i in range(len(w) - 2) if known(g := w[i : i + 3]))
        words.append(w)
    return words


def tokenize_many(texts: list[str]) -> list[list[str]]:
    """Batch form of :func:`tokenize`."""
    return [tokenize(t) for t in texts]
