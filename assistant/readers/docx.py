"""Word (.docx, python-docx): paragraphs in order, headings (Heading N / 标题 N) as the section path, list
items, and tables as rows that keep their header."""

from __future__ import annotations

import re
from pathlib import Path

from .blocks import Block, UnreadableDocument, section_path
from .tables import cell_text, table_rows
from .zipguard import open_zip

_HEADING = re.compile(r"^(?:heading|标题|見出し)\s*(\d)$", re.I)


def read(path: Path, *, name: str) -> list[Block]:
    """The paragraphs and table rows of a Word document, each with its heading path.

    Raises:
        UnreadableDocument: not a .docx (an old .doc, or another file renamed), damaged, or a zip bomb.
    """
    import docx

    open_zip(path, name=name, kind="Word document", required="word/document.xml").close()
    try:
        document = docx.Document(str(path))
        return list(_blocks(document))
    except Exception as exc:  # python-docx and lxml raise many kinds for a broken package
        raise UnreadableDocument(f"{name} is a damaged Word document ({_why(exc)}); re-save it from Word.") from exc


def _why(exc: Exception) -> str:
    return str(exc).split("\n")[0][:120] or type(exc).__name__


def _blocks(document):
    from docx.table import Table

    headings: list[str] = []
    for item in document.iter_inner_content():
        if isinstance(item, Table):
            section = section_path(headings)
            for text in table_rows(_table_cells(item)):
                yield Block(text, section=section)
            continue
        text = re.sub(r"\s+", " ", item.text).strip()
        if not text:
            continue
        level = _heading_level(item)
        if level:
            headings = headings[: level - 1] + [""] * (level - 1 - len(headings)) + [text]
            yield Block(text, section=section_path(headings))
        elif _is_list_item(item):
            yield Block(f"• {text}", section=section_path(headings))
        else:
            yield Block(text, section=section_path(headings))


def _heading_level(paragraph) -> int:
    """1.. for a heading (its style's name, or the outline level Word keeps for it), 0 otherwise."""
    style = paragraph.style
    while style is not None:
        match = _HEADING.match(style.name or "")
        if match:
            return int(match.group(1))
        if (style.name or "").lower() == "title":
            return 0
        style = style.base_style
    level = paragraph._p.xpath("./w:pPr/w:outlineLvl/@w:val")
    return int(level[0]) + 1 if level and level[0].isdigit() and int(level[0]) < 9 else 0


def _is_list_item(paragraph) -> bool:
    if paragraph._p.xpath("./w:pPr/w:numPr"):
        return True
    style = paragraph.style
    return style is not None and "list" in (style.name or "").lower()


def _table_cells(table) -> list[list[str]]:
    """The table's cells as text, column by column; a cell merged across columns is given once (python-docx
    repeats it for each column it spans), its other columns left empty so the header still lines up."""
    rows = []
    for row in table.rows:
        cells, previous = [], None
        for cell in row.cells:
            cells.append("" if cell._tc is previous else cell_text(cell.text))
            previous = cell._tc
        rows.append(cells)
    return rows
