"""Readers of document files by type (PDF, Word, PowerPoint, spreadsheets, EPUB, images; Markdown and HTML text,
already decoded, too): each gives the file's paragraphs as ``Block`` records that know where they are (page, slide,
sheet and row, section)."""

from __future__ import annotations

import importlib
from pathlib import Path

from .blocks import Block
from .htmlpage import read_html
from .kinds import why_not_read
from .lines import SENTENCE_END
from .markdown import read_markdown
from .pageview import IMAGES, PageImage, page_image

__all__ = [
    "SENTENCE_END",
    "Block",
    "IMAGES",
    "PageImage",
    "SUFFIXES",
    "page_image",
    "read",
    "read_html",
    "read_markdown",
    "why_not_read",
]

# suffix → module of this package that reads it (imported when a file of its type is read)
_READERS = {
    ".pdf": "pdf",
    ".docx": "docx",
    ".pptx": "pptx",
    ".xlsx": "sheets",
    ".csv": "sheets",
    ".tsv": "sheets",
    ".epub": "epub",
    ".png": "image",  # text by OCR
    ".jpg": "image",
    ".jpeg": "image",
}
SUFFIXES = tuple(_READERS)


def read(path: Path, *, name: str | None = None) -> list[Block]:
    """The paragraphs of one document, in reading order.

    Args:
        path: a file whose suffix is one of ``SUFFIXES``.
        name: how messages name the file (its source); the file name by default.

    Raises:
        CorpusError: the file is damaged, encrypted, not of the type its suffix says, or a zip bomb.
    """
    path = Path(path)
    module = importlib.import_module(f".{_READERS[path.suffix.lower()]}", __name__)
    return module.read(path, name=name or path.name)
