"""Markdown (markdown-it-py, CommonMark with tables): headings as the section path (shown without ``#``),
table rows with their header, each fenced or indented code block one paragraph, list items and quotes."""

from __future__ import annotations

import re

from .blocks import Block, section_path
from .lines import join_lines, lines_are_paragraphs
from .tables import table_rows

_FRONT_MATTER = re.compile(r"\A(?:\ufeff)?---[ \t]*\n.*?\n(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.S)


def _inline(token) -> str:
    """An inline token's text on one line (see ``_lines``)."""
    return re.sub(r"\s+", " ", join_lines(_lines(token))).strip()


def _paragraphs(token) -> list[str]:
    """A Markdown paragraph as a reader sees it: wrapped lines joined, or one paragraph per line when most
    lines end a sentence (news text and Chinese documents put each paragraph on a line of its own)."""
    lines = [line for line in _lines(token) if line.strip()]
    if lines_are_paragraphs(lines):
        return [re.sub(r"\s+", " ", line).strip() for line in lines]
    return [re.sub(r"\s+", " ", join_lines(lines)).strip()]


def _lines(token) -> list[str]:
    """An inline token's lines: links and emphasis as their words, images as their alt text; the lines
    of a wrapped paragraph are later joined as wrapped lines are (no space between Chinese characters)."""
    lines = [""]
    for child in token.children or []:
        if child.type in ("text", "code_inline"):
            lines[-1] += child.content
        elif child.type == "softbreak":
            lines.append("")
        elif child.type == "hardbreak":
            lines.append("")
        elif child.type == "image":
            lines[-1] += "".join(c.content for c in child.children or [])
    return lines


def read_markdown(text: str) -> tuple[str, list[Block]]:
    """The document's title (its first heading) and its blocks in reading order."""
    from markdown_it import MarkdownIt

    # raw HTML stays text, as in a .txt file: the chat shows it escaped and a <script> in a note is seen, not lost
    parser = MarkdownIt("commonmark", {"html": False}).enable("table")
    tokens = parser.parse(_FRONT_MATTER.sub("", text, count=1))
    blocks: list[Block] = []
    headings: list[str] = []
    title = ""
    bullet = 0  # depth of list items, so that an item's paragraph is marked as one
    i = 0
    while i < len(tokens):
        token = tokens[i]
        section = section_path(headings)
        if token.type == "heading_open":
            words = _inline(tokens[i + 1])
            level = int(token.tag[1])
            if words:
                headings = headings[: level - 1] + [""] * (level - 1 - len(headings)) + [words]
                title = title or words
                blocks.append(Block(words, section=section_path(headings)))
            i += 3
            continue
        if token.type == "table_open":
            rows, i = _table(tokens, i)
            blocks.extend(Block(row, section=section) for row in table_rows(rows))
            continue
        if token.type in ("fence", "code_block"):
            code = token.content.strip("\n")
            if code.strip():
                blocks.append(Block(code, section=section))
        elif token.type == "list_item_open":
            bullet += 1
        elif token.type == "list_item_close":
            bullet -= 1
        elif token.type == "inline":
            for words in _paragraphs(token) if not bullet else [_inline(token)]:
                if words:
                    blocks.append(Block(f"• {words}" if bullet else words, section=section))
        i += 1
    return title, blocks


def _table(tokens, start: int) -> tuple[list[list[str]], int]:
    """The cells of the table that opens at ``start``, row by row, and the index after it."""
    rows: list[list[str]] = []
    i = start
    while tokens[i].type != "table_close":
        if tokens[i].type == "tr_open":
            rows.append([])
        elif tokens[i].type == "inline":
            rows[-1].append(_inline(tokens[i]))
        i += 1
    return rows, i + 1
