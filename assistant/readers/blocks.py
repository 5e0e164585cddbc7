"""The record every reader returns: one paragraph's text and its place in the file."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import CorpusError


@dataclass(frozen=True)
class Block:
    """One paragraph as a reader finds it; the place fields are 0 or "" where the type has no such place."""

    text: str
    page: int = 0
    slide: int = 0
    section: str = ""
    sheet: str = ""
    row: int = 0


class UnreadableDocument(CorpusError):
    """A document file that cannot be read: damaged, encrypted, mislabelled or a zip bomb."""


SECTION_SEPARATOR = " › "


def section_path(headings: list[str]) -> str:
    """A heading path as cited: ``3 休假 › 3.2 年假``."""
    return SECTION_SEPARATOR.join(h for h in headings if h)
