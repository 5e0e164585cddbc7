"""Table rows as readers cite them: ``header: cell`` per cell, joined with "; ", the header repeated on every row."""

from __future__ import annotations

import datetime
import re


def cell_text(value) -> str:
    """A cell's value as text on one line (a whole number stored as 5.0 shows as 5, a date without its midnight)."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    elif isinstance(value, datetime.datetime) and value.time() == datetime.time():
        value = value.date()  # a date cell: 2026-03-01, not 2026-03-01 00:00:00
    return re.sub(r"\s+", " ", str(value)).strip()


def row_text(header: list[str], cells: list[str]) -> str:
    """``Name: Li; Days: 5``; a cell without a header is given alone, empty cells are left out."""
    parts = []
    for i, cell in enumerate(cells):
        if not cell:
            continue
        name = header[i] if i < len(header) else ""
        parts.append(f"{name}: {cell}" if name and name != cell else cell)
    return "; ".join(parts)


def table_rows(rows: list[list[str]]) -> list[str]:
    """A table's rows after its header row, each as ``row_text``; a one-row table as its cells."""
    rows = [r for r in rows if any(r)]
    if not rows:
        return []
    if len(rows) == 1:
        return ["; ".join(c for c in rows[0] if c)]
    header = rows[0]
    return [text for text in (row_text(header, r) for r in rows[1:]) if text]
