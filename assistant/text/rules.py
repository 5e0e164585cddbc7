"""The text rules every stage shares: Chinese characters, control characters, sentences, questions, weight."""

from __future__ import annotations

import re

# CJK ideographs (unified, extension A, compatibility): one definition for the readers, keywords, answers, web.
CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
# Control characters, and lone surrogates (undecodable bytes from a command line or a file name): not text.
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")

_SENTENCE = re.compile(r"[^。！？!?…]*(?:[。！？!?…]+[”」』\"')）]*|\.(?=\s|$)[\"')]*|$)", re.S)
_ABBREVIATION = re.compile(r"(?:^|\s)(?:[A-Z][a-z]{0,2}|[a-z]\.[a-z]|etc|vs|approx|no)\.$")
_LATIN_END = re.compile(r"(?<=[a-z0-9)\"'][.!?])\s+(?=[A-Z\"'(\[])")
_LATIN_WORD = re.compile(r"[A-Za-z0-9]+")
_CLOSING = "”」』\"')） "
# A news photo's credit: a name, a space and 摄 (张茵 摄; not 摄影, 摄像 …). It closes its caption, so it starts
# the text after the caption's full stop (``…开幕式。张茵 摄中新社 记者:…``).
CREDIT = r"[\u4e00-\u9fff][ \u3000]摄(?![影像氏入取制])"
_CREDIT_START = re.compile(r"(?:记者\s*)?[\u4e00-\u9fff·]{1,5}" + CREDIT)


def weight(text: str) -> int:
    """Reading length: CJK characters count one each, Latin words and numbers two each."""
    return len(CJK.findall(text)) + 2 * len(_LATIN_WORD.findall(text))


def split_sentences(text: str) -> list[str]:
    """Sentences ending in 。！？!?. (closing quotes stay with their sentence); inside Latin text, a full
    stop, ! or ? followed by a space and a capital ends one too, except after an abbreviation (Mr., e.g.).
    A photo credit after a caption (``…开幕式。张茵 摄中新社 记者:…``) ends the caption's sentence."""
    out: list[str] = []
    for sentence in _SENTENCE.findall(text):
        pieces: list[str] = []
        for piece in _LATIN_END.split(sentence.strip()):
            if pieces and _ABBREVIATION.search(pieces[-1]):  # "Mr. Li": not a sentence end
                pieces[-1] += " " + piece
            elif piece.strip():
                pieces.append(piece.strip())
        if out and pieces and (credit := _CREDIT_START.match(pieces[0])):  # back to the caption it closes
            lead = sentence[: len(sentence) - len(sentence.lstrip())]
            out[-1] += lead + credit.group()
            pieces[0] = pieces[0][credit.end() :].strip()
        out.extend(p for p in pieces if p)
    return out


def is_question(sentence: str) -> bool:
    """A sentence that ends with a question mark (closing quotes aside): an interviewer's, say."""
    return sentence.rstrip(_CLOSING).endswith(("?", "？"))


def join_parts(texts: list[str]) -> str:
    """Pieces of one paragraph joined as it reads: after Latin text a space, after Chinese none."""
    out = texts[0] if texts else ""
    for text in texts[1:]:
        out += text if not out or not out[-1].isascii() else " " + text
    return out
