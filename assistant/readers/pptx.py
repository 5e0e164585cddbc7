"""PowerPoint (.pptx, python-pptx): per slide its title, text frames in order, tables and speaker notes."""

from __future__ import annotations

import re
from pathlib import Path

from .blocks import Block, UnreadableDocument
from .tables import cell_text, table_rows
from .zipguard import open_zip


def read(path: Path, *, name: str) -> list[Block]:
    """The text of each slide (numbered from 1) in reading order, its speaker notes last as ``Notes: …``.

    Raises:
        UnreadableDocument: not a .pptx (an old .ppt, or another file renamed), damaged, or a zip bomb.
    """
    import pptx

    open_zip(path, name=name, kind="PowerPoint presentation", required="ppt/presentation.xml").close()
    try:
        presentation = pptx.Presentation(str(path))
        return [block for number, slide in enumerate(presentation.slides, start=1) for block in _slide(slide, number)]
    except Exception as exc:  # python-pptx and lxml raise many kinds for a broken package
        why = str(exc).split("\n")[0][:120] or type(exc).__name__
        raise UnreadableDocument(f"{name} is a damaged PowerPoint presentation ({why}); re-save it.") from exc


def _slide(slide, number: int) -> list[Block]:
    title = slide.shapes.title
    texts: list[str] = []
    if title is not None and title.has_text_frame:
        texts.extend(_frame(title.text_frame))
    for shape in _shapes(slide.shapes):
        if title is not None and shape.shape_id == title.shape_id:
            continue
        if getattr(shape, "has_table", False) and shape.has_table:
            texts.extend(table_rows([[cell_text(c.text) for c in row.cells] for row in shape.table.rows]))
        elif shape.has_text_frame:
            texts.extend(_frame(shape.text_frame))
    if slide.has_notes_slide:
        notes = slide.notes_slide.notes_text_frame
        text = " ".join(_frame(notes)) if notes is not None else ""
        if text:
            texts.append(f"Notes: {text}")
    return [Block(text, slide=number) for text in texts]


def _shapes(shapes):
    """Shapes top to bottom, then left to right (the order a reader reads a slide), groups opened."""
    from pptx.shapes.group import GroupShape

    flat = []
    for shape in shapes:
        if isinstance(shape, GroupShape):
            flat.extend(_shapes(shape.shapes))
        else:
            flat.append(shape)
    return sorted(flat, key=lambda s: ((s.top or 0) // 10000, s.left or 0))  # ~1 mm rows: aligned boxes tie


def _frame(frame) -> list[str]:
    """A text frame's paragraphs (bullets), each on one line."""
    return [t for t in (re.sub(r"\s+", " ", p.text).strip() for p in frame.paragraphs) if t]
