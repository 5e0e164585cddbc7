"""Re-join the lines of a wrapped paragraph: Chinese without a space, a hyphenated English word whole."""

from __future__ import annotations

import re

_HYPHENS = ("-", "\u00ad", "\u2010", "\x02", "\ufffe")  # PDFium marks a hyphen at a line end as \x02 or U+FFFE
_WORD_END = re.compile(r"[A-Za-zÀ-ÿ]$")
_SPLIT_WORD = re.compile(r"(?<=[A-Za-zÀ-ÿ])[\x02\ufffe](?=[a-zß-ÿ])")
# How a line that ends a sentence ends; a block whose lines mostly do holds one paragraph per line (news, Chinese).
SENTENCE_END = tuple("。！？!?.…”」』\"'）)")


def lines_are_paragraphs(lines: list[str]) -> bool:
    """Most lines end a sentence: each is a paragraph of its own, not a wrapped line."""
    return len(lines) > 1 and sum(1 for line in lines if line.rstrip().endswith(SENTENCE_END)) >= 0.6 * len(lines)


def is_cjk(ch: str) -> bool:
    """A Chinese/Japanese character or full-width punctuation (lines wrapped between them join with no space)."""
    return (
        "\u2e80" <= ch <= "\u9fff"
        or "\uf900" <= ch <= "\ufaff"
        or "\uff00" <= ch <= "\uffef"
        or "\u3000" <= ch <= "\u303f"
    )


def join_lines(lines: list[str]) -> str:
    """One paragraph from its lines: ``结束\\n了`` → ``结束了``, ``exam-\\nple`` → ``example``, else one space."""
    out = ""
    for line in (ln.strip() for ln in lines):
        if not line:
            continue
        if not out:
            out = line
        elif out.endswith(_HYPHENS) and _WORD_END.search(out[:-1]) and line[0].islower():
            out = out[:-1] + line
        elif is_cjk(out[-1]) or is_cjk(line[0]):
            out += line
        else:
            out += " " + line
    # PDFium marks a hyphen at a line end (and may join the lines itself): inside a word (hand-book) it goes,
    # elsewhere (乌鲁木齐-伊犁, well- Known) it is the hyphen
    out = _SPLIT_WORD.sub("", out)
    return re.sub("[\x02\ufffe]", "-", out).replace("\u00ad", "")
