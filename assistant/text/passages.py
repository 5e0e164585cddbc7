"""Turn a document's paragraphs into passages: short lines attached, long ones windowed."""

from __future__ import annotations

from ..records import Document, Paragraph, Passage
from .rules import split_sentences, weight

# How the index cuts documents into passages (recorded in the manifest: another chunking rebuilds).
CHUNKING = {"min_weight": 16, "max_chars": 400, "join_tails": True}


def make_passages(
    document: Document, *, min_weight: int = 16, max_chars: int = 400, join_tails: bool = True
) -> list[Passage]:
    """Passages of one document, in reading order.

    Args:
        min_weight: paragraphs lighter than this (bylines, labels such as 受访者简介:) are attached to
            the next paragraph, or to the previous one at the end of the document.
        max_chars: paragraphs longer than this are split at sentence ends into parts.
        join_tails: a light last part (lighter than ``min_weight`` and at most ``max_chars`` / 8
            long: ``</div>``, ``prior patent).``) is joined to the part before it, which may then exceed
            ``max_chars`` by that much: alone, such a fragment says nothing, yet a citation shows it, and a
            multilingual encoder gives a short text a high cosine to any question (in the seed beside Chinese
            Wikipedia files, ``</div>`` was e5's first passage for 12 of the 22 missed questions of the seed's
            held-out half; joined, other passages took its place and hit@1 did not change). False: the earlier
            chunking.
    """
    groups: list[list[Paragraph]] = []
    pending: list[Paragraph] = []
    for paragraph in document.paragraphs:
        if pending and (_unit(pending[0]) != _unit(paragraph) or _section_ends(pending[-1], paragraph)):
            _attach(groups, pending)
            pending = []
        pending.append(paragraph)
        if weight(paragraph.text) >= min_weight:
            groups.append(pending)
            pending = []
    if pending:
        _attach(groups, pending)
    local = _local_numbers(document.paragraphs)
    passages: list[Passage] = []
    for group in groups:
        main = max(group, key=lambda p: weight(p.text))
        text = "\n".join(p.text for p in group)
        first, last = group[0].number, group[-1].number
        windows = _windows(text, max_chars, min_weight if join_tails else 0) if len(text) > max_chars else [text]
        for part, window in enumerate(windows, start=1 if len(windows) > 1 else 0):
            passages.append(
                Passage(
                    doc_id=document.doc_id,
                    source=document.source,
                    title=document.title,
                    paragraph=main.number,
                    first_paragraph=first,
                    last_paragraph=last,
                    part=part,
                    text=window,
                    page=main.page,
                    slide=main.slide,
                    section=main.section,
                    sheet=main.sheet,
                    row=main.row,
                    local_paragraph=local.get(main.number, 0),
                )
            )
    return passages


def _unit(p: Paragraph) -> tuple:
    """What a passage never spans: a slide, a spreadsheet row (headings and short lines of a page or a
    section are attached to the paragraph that follows them, as in a text file)."""
    return (p.slide, p.sheet, p.row)


def _is_heading(p: Paragraph) -> bool:
    """The paragraph is the heading that opens its section (readers give a heading its own section)."""
    return bool(p.section) and p.text.lstrip("#").strip() == p.section.rsplit(" › ", 1)[-1]  # "# Setup" in Markdown


def _section_ends(last: Paragraph, following: Paragraph) -> bool:
    """Light text at the end of a section stays in it; only headings are carried on to what they head."""
    return last.section != following.section and not _is_heading(last)


def _attach(groups: list[list[Paragraph]], pending: list[Paragraph]) -> None:
    """Light paragraphs left over: onto the previous group when it is in the same unit and section, else
    on their own."""
    before = groups[-1][-1] if groups else None
    if before is not None and _unit(before) == _unit(pending[0]) and before.section == pending[0].section:
        groups[-1].extend(pending)
    else:
        groups.append(pending)


def _local_numbers(paragraphs) -> dict[int, int]:
    """Each paragraph's number counted from the start of its page (PDF) or section (a heading itself: 0)."""
    local: dict[int, int] = {}
    place, count = None, 0
    for p in paragraphs:
        if p.slide or p.sheet or not (p.page or p.section):
            continue
        here = ("page", p.page) if p.page else ("section", p.section)
        if here != place:
            place, count = here, 0
        if not p.page and _is_heading(p):
            continue  # the heading that opens the section
        count += 1
        local[p.number] = count
    return local


def _windows(text: str, max_chars: int, tail_weight: int = 0) -> list[str]:
    """Pack whole sentences into windows of at most ``max_chars`` (a longer sentence is cut), balanced in size;
    a last window lighter than ``tail_weight`` and at most ``max_chars // 8`` long is joined to the one before."""
    sentences: list[str] = []
    for sentence in split_sentences(text):
        while len(sentence) > max_chars:
            cut = _cut_at(sentence, max_chars)
            sentences.append(sentence[:cut].rstrip())
            sentence = sentence[cut:].lstrip()
        sentences.append(sentence)
    count = -(-len(text) // max_chars)
    target = len(text) / count
    windows: list[str] = []
    current = ""
    for sentence in sentences:
        if current and (len(_joined(current, sentence)) > max_chars or len(current) >= target):
            windows.append(current)
            current = ""
        current = _joined(current, sentence)
    if current:
        if windows and weight(current) < tail_weight and len(current) <= max_chars // 8:
            windows[-1] = _joined(windows[-1], current)
        else:
            windows.append(current)
    return windows


def _joined(text: str, sentence: str) -> str:
    """``sentence`` after ``text``: Latin sentences keep a space between them."""
    return text + " " + sentence if text and text[-1].isascii() else text + sentence


def _cut_at(sentence: str, max_chars: int) -> int:
    """Where to cut an over-long sentence: the last space in its second half (not inside a word), else at the limit."""
    space = sentence.rfind(" ", max_chars // 2, max_chars + 1)
    return space if space > 0 else max_chars
