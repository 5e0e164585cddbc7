"""Chinese-aware tokenization for the keyword index: width/case/script folding, jieba words, stopwords."""

from __future__ import annotations

import logging
import re
import threading
import unicodedata
from functools import lru_cache

_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_TOKEN_OK = re.compile(r"[\w\u3400-\u9fff]", re.UNICODE)
_ENGLISH = re.compile(r"^[a-z]+$")
_ENGLISH_WORD = re.compile(r"[a-z]+")
_lock = threading.Lock()

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
    from opencc import OpenCC

    converter = OpenCC("t2s")
    converter.convert("")  # loads its dictionaries
    return converter


@lru_cache(maxsize=1)
def _traditional() -> frozenset[str] | None:
    """Characters a t2s conversion can change: where an entry of its dictionaries differs from its
    key (all of a key's characters when the lengths differ). A text without any is left as it is
    (most simplified text: the conversion is a third of the cost of tokenizing). None if the
    dictionaries are not laid out as in opencc-python-reimplemented 0.1.7: then every text is converted."""
    chars: set[str] = set()
    try:
        for group in _converter()._dict_chain_data:
            for entry in group:
                for key, value in entry[2].items():
                    if len(key) == len(value):
                        chars.update(k for k, v in zip(key, value, strict=True) if k != v)
                    elif key != value:
                        chars.update(key)
    except (AttributeError, TypeError, IndexError, KeyError, ValueError):
        return None
    return frozenset(chars)


@lru_cache(maxsize=1)
def _jieba():
    import jieba

    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()
    return jieba


def fold(text: str) -> str:
    """NFKC (full-width → ASCII), lower case, and traditional → simplified Chinese."""
    return to_simplified(unicodedata.normalize("NFKC", text).lower())


def to_simplified(text: str) -> str:
    """``text`` with traditional characters made simplified (nothing else changed)."""
    if not _CJK.search(text) or ((traditional := _traditional()) is not None and traditional.isdisjoint(text)):
        return text
    return _converter().convert(text)


def traditional_share(text: str) -> float:
    """Share of the Chinese characters of ``text`` that :func:`to_simplified` changes: ~0 for text written in
    simplified characters, ~0.4 for traditional (0 without Chinese)."""
    chinese = len(_CJK.findall(text))
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
    """
    folded = fold(text)
    jieba = _jieba()
    with _lock:  # jieba's tokenizer is not thread-safe while it lazily builds state
        pieces = jieba.lcut(folded)
    words = _search_words(pieces, jieba.dt.FREQ)
    tokens = [stem(w) for w in (w.strip() for w in words) if w and w not in stopwords and _TOKEN_OK.search(w)]
    if not junctions:
        return tokens
    for a, b in zip(pieces, pieces[1:], strict=False):
        if a not in stopwords and b not in stopwords and _CJK.match(a[-1]) and _CJK.match(b[0]):
            tokens.append(f"~{a[-1]}{b[0]}")
    return tokens


def _search_words(pieces: list[str], freq: dict[str, int]) -> list[str]:
    """jieba's search mode (``cut_for_search``) from one accurate-mode cut: each long word is preceded by
    its two- and three-character parts that are dictionary words."""
    words = []
    for w in pieces:
        if len(w) > 2:
            words.extend(g for i in range(len(w) - 1) if freq.get(g := w[i : i + 2]))
            if len(w) > 3:
                words.extend(g for i in range(len(w) - 2) if freq.get(g := w[i : i + 3]))
        words.append(w)
    return words


def tokenize_many(texts: list[str]) -> list[list[str]]:
    """Batch form of :func:`tokenize`."""
    return [tokenize(t) for t in texts]
