"""Spreadsheets: .xlsx (openpyxl, read-only, cached values) and .csv/.tsv (stdlib csv), each row one paragraph
``header: value; …`` with the header repeated, merged cells filled, empty rows skipped."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from .blocks import Block, UnreadableDocument
from .tables import cell_text, row_text
from .zipguard import open_zip


def read(path: Path, *, name: str) -> list[Block]:
    """Rows of every sheet (a CSV is one sheet named after its file), numbered as the program shows them.

    Raises:
        UnreadableDocument: an .xlsx that is not one (an old .xls), damaged, or a zip bomb.
        UndecodableFile: a CSV that is not UTF-8, GB18030 or Big5 text.
    """
    if path.suffix.lower() == ".xlsx":
        return _workbook(path, name)
    return _delimited(path, name, delimiter="\t" if path.suffix.lower() == ".tsv" else ",")


def _delimited(path: Path, name: str, *, delimiter: str) -> list[Block]:
    from ..text import decode

    text, _ = decode(path.read_bytes(), name=name)
    try:
        rows = [[cell_text(c) for c in row] for row in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)]
    except csv.Error as exc:  # a field over the csv module's limit (128 kB), a stray NUL
        raise UnreadableDocument(f"{name} is not a readable table ({exc}); check it in a spreadsheet program.") from exc
    return _rows(rows, sheet=Path(name).stem)


def _workbook(path: Path, name: str) -> list[Block]:
    import openpyxl

    archive = open_zip(path, name=name, kind="Excel workbook", required="xl/workbook.xml")
    try:
        book = openpyxl.load_workbook(str(path), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a broken package
        archive.close()
        why = str(exc).split("\n")[0][:120] or type(exc).__name__
        raise UnreadableDocument(f"{name} is a damaged Excel workbook ({why}); re-save it from Excel.") from exc
    blocks: list[Block] = []
    try:
        for sheet in book.worksheets:
            if getattr(sheet, "sheet_state", "visible") != "visible":
                continue
            merged = _merged(archive, getattr(sheet, "_worksheet_path", ""))
            sheet.reset_dimensions()  # rows as stored, not padded to a declared size (A1:XFD1048576 exists)
            rows = [[cell_text(v) for v in row] for row in sheet.iter_rows(min_row=1, min_col=1, values_only=True)]
            blocks.extend(_rows(_fill(rows, merged), sheet=sheet.title))
    finally:
        book.close()
        archive.close()
    return blocks


def _rows(rows: list[list[str]], *, sheet: str) -> list[Block]:
    """Each non-empty row after the first non-empty one (the header) as ``row_text``, with its row number."""
    blocks: list[Block] = []
    header: list[str] | None = None
    for number, cells in enumerate(rows, start=1):
        if not any(cells):
            continue
        if header is None:
            header = cells
            continue
        text = row_text(header, cells)
        if text:
            blocks.append(Block(text, sheet=sheet, row=number))
    if header is not None and not blocks:  # a sheet of one row: its cells are the text
        first = next(i for i, cells in enumerate(rows, start=1) if any(cells))
        blocks.append(Block("; ".join(c for c in header if c), sheet=sheet, row=first))
    return blocks


def _merged(archive, member: str) -> list[tuple[int, int, int, int]]:
    """The merged ranges of a sheet as ``(first row, first column, last row, last column)``, 1-based (read-only
    openpyxl does not read them, so they come from the sheet's XML)."""
    try:
        from defusedxml.ElementTree import iterparse
    except ImportError:  # defusedxml is a dependency; stdlib iterparse expands no external entities either
        from xml.etree.ElementTree import iterparse
    from openpyxl.utils.cell import range_boundaries

    if not member or member not in archive.namelist():
        return []
    ranges = []
    with archive.open(member) as handle:
        for _, element in iterparse(handle):
            tag = element.tag.rsplit("}", 1)[-1]
            if tag == "mergeCell":
                min_col, min_row, max_col, max_row = range_boundaries(element.get("ref", ""))
                ranges.append((min_row, min_col, max_row, max_col))
            if tag in ("c", "row", "mergeCell"):
                element.clear()
    return ranges


def _fill(rows: list[list[str]], merged) -> list[list[str]]:
    """Each cell of a merged range given the range's value (Excel keeps it in the top-left cell only)."""
    for top, left, bottom, right in merged:
        if top > len(rows) or left > len(rows[top - 1]):
            continue
        value = rows[top - 1][left - 1]
        for r in range(top, min(bottom, len(rows)) + 1):
            row = rows[r - 1]
            if len(row) < right:
                row.extend([""] * (right - len(row)))
            for c in range(left, right + 1):
                row[c - 1] = value
    return rows
