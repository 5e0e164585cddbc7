"""PDF: the text layer of each page (pypdfium2), lines re-joined into paragraphs, running headers, footers
and page numbers dropped, the outline (bookmarks) as sections."""

from __future__ import annotations

import bisect
import itertools
import logging
import re
import threading
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from .blocks import Block, UnreadableDocument, section_path
from .lines import is_cjk, join_lines

logger = logging.getLogger(__name__)

PDFIUM = threading.Lock()  # PDFium is not thread-safe: the web chat may read an upload while the index is built

_MANY_LINES = 400  # more on a page: its lines' columns are not worked out one by one (that is quadratic)
_PAGE_NUMBER = re.compile(
    r"^[\s\-–—]*(?:(?:page|p\.|seite)\s*)?(?:\d{1,4}|[ivxlcdm]{1,6})(?:\s*(?:/|of|von)\s*\d{1,4})?[\s\-–—]*$"
    r"|^第\s*\d{1,4}\s*页(?:\s*[/，,]?\s*共\s*\d{1,4}\s*页)?$",
    re.I,
)


@dataclass(frozen=True)
class _Line:
    """One line of a page's text layer and where it is (PDF points, y upwards)."""

    text: str
    left: float
    right: float
    bottom: float
    top: float
    edge: bool = False  # in the top or bottom margin of its page, where running headers and footers are


def read(path: Path, *, name: str) -> list[Block]:
    """The paragraphs of a PDF, each with its page (1-based) and, where the PDF has an outline, its section.

    A page without a text layer (a scan) is read by OCR, up to ``ocr.MAX_OCR_PAGES`` pages per file; a page
    with a text layer never is.

    Raises:
        UnreadableDocument: the PDF needs a password, is damaged, or has no text on any page (OCR included).
    """
    with PDFIUM:
        pages, outline, scans = _read(path, name)
    if scans:
        pages = _with_ocr(pages, scans, name)
    if pages and not any(pages):
        raise UnreadableDocument(
            f"{name} has no text: no page has a text layer and OCR found none; check that it is the right file."
        )
    pages = _drop_running_lines(pages)
    blocks: list[Block] = []
    for number, lines in enumerate(pages, start=1):
        columns, height = _layout(lines)
        for section, group in _by_section(lines, number, outline):
            blocks.extend(Block(text, page=number, section=section) for text in _paragraphs(group, columns, height))
    return blocks


def _read(path: Path, name: str):
    """The lines of each page, the outline, and ``{page index: (image, scale, height)}`` of the pages without
    a text layer rendered for OCR (the first ``MAX_OCR_PAGES`` of them)."""
    import pypdfium2 as pdfium

    from .ocr import MAX_OCR_PAGES

    try:
        pdf = pdfium.PdfDocument(str(path))
    except pdfium.PdfiumError as exc:
        if "password" in str(exc).lower():
            raise UnreadableDocument(
                f"{name} is a password-protected PDF; save a copy without the password to include it."
            ) from exc
        raise UnreadableDocument(f"{name} is a damaged PDF ({_reason(exc)}); re-save or re-export it.") from exc
    try:
        pages = [_page_lines(pdf, i) for i in range(len(pdf))]
        outline = _outline(pdf)
        blank = [i for i, lines in enumerate(pages) if not lines]
        if len(blank) > MAX_OCR_PAGES:
            logger.warning(
                "%s: %d pages have no text layer; OCR reads the first %d, page(s) %s are skipped.",
                name,
                len(blank),
                MAX_OCR_PAGES,
                _ranges([i + 1 for i in blank[MAX_OCR_PAGES:]]),
            )
        scans = {i: _scan(pdf, i) for i in blank[:MAX_OCR_PAGES]}
    except pdfium.PdfiumError as exc:
        raise UnreadableDocument(f"{name} is a damaged PDF ({_reason(exc)}); re-save or re-export it.") from exc
    finally:
        pdf.close()
    return pages, outline, {i: scan for i, scan in scans.items() if scan}


_OCR_WIDTH = 1400  # pixels a scanned page is rendered at for OCR (about 170 dpi on A4)


def _scan(pdf, index: int):
    """A page without a text layer rendered for OCR: (image, scale, page height); None when it holds no image
    (a blank page is not worth seconds of OCR)."""
    import pypdfium2.raw as raw

    page = pdf[index]
    try:
        if next(page.get_objects(filter=[raw.FPDF_PAGEOBJ_IMAGE], max_depth=2), None) is None:
            return None
        width, height = page.get_size()
        scale = min(_OCR_WIDTH / max(width, 1.0), 2400 / max(height, 1.0), 3.0)
        return page.render(scale=scale).to_pil(), scale, height
    finally:
        page.close()


def _with_ocr(pages: list[list[_Line]], scans: dict, name: str) -> list[list[_Line]]:
    """``pages`` with the lines OCR finds on each scanned one (outside the PDFium lock: OCR takes seconds);
    ``read_lines`` logs a line per page."""
    from .ocr import read_lines

    pages = list(pages)
    for index, (image, scale, height) in scans.items():
        found = read_lines(image, name=f"{name} p. {index + 1}")
        lines = [
            _Line(ln.text, ln.left / scale, ln.right / scale, height - ln.bottom / scale, height - ln.top / scale)
            for ln in found
        ]
        pages[index] = [_Line(ln.text, ln.left, ln.right, ln.bottom, ln.top, _in_margin(ln, height)) for ln in lines]
    return pages


def ocr_paragraphs(lines, height: float) -> list[str]:
    """Paragraphs from the ``ocr.OcrLine`` lines of an image ``height`` pixels high (the PDF reader's rules)."""
    placed = [_Line(ln.text, ln.left, ln.right, height - ln.bottom, height - ln.top) for ln in lines]
    columns, line_height = _layout(placed)
    return _paragraphs(placed, columns, line_height)


def _reason(exc: Exception) -> str:
    match = re.search(r"PDFium: ([^)]*)", str(exc))
    return (match.group(1) if match else str(exc)).rstrip(". ").lower()


def _ranges(numbers: list[int]) -> str:
    """``1–3, 7``."""
    out, start = [], numbers[0]
    for a, b in zip(numbers, [*numbers[1:], None], strict=True):
        if b != a + 1:
            out.append(f"{start}–{a}" if start != a else str(a))
            start = b
    return ", ".join(out)


def _page_lines(pdf, index: int) -> list[_Line]:
    """The page's text lines in the order its text layer holds them (PDFium's text, with the spaces and line
    breaks it works out), each with the box from its first to its last character."""
    page = pdf[index]
    text_page = page.get_textpage()
    try:
        text = text_page.get_text_range()
        # PDFium counts UTF-16 units: a character beyond the BMP (a rare CJK one, an emoji) takes two indexes
        index = list(itertools.accumulate((2 if ord(ch) > 0xFFFF else 1 for ch in text), initial=0))
        aligned = text_page.count_chars() == index[-1]  # one index per unit: boxes can be looked up
        lines: list[_Line] = []
        at = 0
        for raw in text.split("\n"):
            first, last = at + len(raw) - len(raw.lstrip()), at + len(raw.rstrip()) - 1
            at += len(raw) + 1
            clean = re.sub(r"\s+", " ", raw).strip()
            if not clean:
                continue
            if aligned and first <= last:
                a, b = text_page.get_charbox(index[first], loose=True), text_page.get_charbox(index[last], loose=True)
                lines.append(_Line(clean, a[0], b[2], min(a[1], b[1]), max(a[3], b[3])))
                if len(lines) > 1 and _same_line(lines[-2], lines[-1]):  # a superscript, a run in another font
                    prev, line = lines.pop(-2), lines.pop()
                    gap = " " if line.left - prev.right > 0.15 * (line.top - line.bottom) else ""
                    lines.append(
                        _Line(
                            prev.text + gap + line.text,
                            prev.left,
                            line.right,
                            min(prev.bottom, line.bottom),
                            max(prev.top, line.top),
                        )
                    )
            else:  # no geometry (characters and text do not line up): each line its own paragraph
                lines.append(_Line(clean, 0.0, 0.0, 0.0, 0.0))
        height = page.get_height()
        return [_Line(ln.text, ln.left, ln.right, ln.bottom, ln.top, _in_margin(ln, height)) for ln in lines]
    finally:
        text_page.close()
        page.close()


def _same_line(a: _Line, b: _Line) -> bool:
    """``b`` continues ``a`` on the same printed line: to its right, overlapping it in height."""
    overlap = min(a.top, b.top) - max(a.bottom, b.bottom)
    return b.left >= a.right - 1 and overlap > 0.3 * min(a.top - a.bottom, b.top - b.bottom)


def _in_margin(line: _Line, height: float) -> bool:
    if line.top == line.bottom == 0.0:
        return False
    return line.bottom > 0.9 * height or line.top < 0.1 * height


def _drop_running_lines(pages: list[list[_Line]]) -> list[list[_Line]]:
    """Without the lines in a page's top or bottom margin that are bare page numbers, repeat (numbers aside)
    on most pages, or carry the printed page number (``17 1.5. KOMPAKTHEIT``: a chapter's running head)."""

    def key(line: _Line) -> str:
        return re.sub(r"\d+", "#", line.text.lower())

    counts: Counter[str] = Counter()
    offsets: Counter[int] = Counter()
    for index, lines in enumerate(pages):
        edges = [ln for ln in lines if ln.edge]
        counts.update({key(ln) for ln in edges})
        offsets.update({n - index for ln in edges for n in _end_numbers(ln.text)})
    with_text = sum(1 for lines in pages if lines)
    often = max(3, 0.5 * with_text)
    running = {k for k, n in counts.items() if with_text >= 3 and n >= often}
    numbered = {k for k, n in offsets.items() if with_text >= 3 and n >= often}  # printed number = index + k
    out = []
    for index, lines in enumerate(pages):
        out.append(
            [
                ln
                for ln in lines
                if not (
                    ln.edge
                    and (
                        _PAGE_NUMBER.match(ln.text)
                        or key(ln) in running
                        or any(n - index in numbered for n in _end_numbers(ln.text))
                    )
                )
            ]
        )
    return out


def _end_numbers(text: str) -> list[int]:
    """The numbers a line starts or ends with (where a running head prints the page number)."""
    found = re.findall(r"^(\d{1,4})\b|\b(\d{1,4})$", text)
    return [int(a or b) for a, b in found]


def _outline(pdf) -> list[tuple[int, float, str]]:
    """The bookmarks as ``(page index, y where it points, section path)`` in document order."""
    marks = []
    stack: list[str] = []
    for bookmark in pdf.get_toc():
        title = re.sub(r"\s+", " ", bookmark.get_title() or "").strip()
        dest = bookmark.get_dest()
        index = dest.get_index() if dest is not None else None
        if not title or index is None:
            continue
        stack = stack[: bookmark.level] + [title]
        _, view = dest.get_view()
        y = float(view[1]) if len(view) > 1 and view[1] else float("inf")  # no position: the top of the page
        marks.append((index, y, section_path(stack)))
    marks.sort(key=lambda m: (m[0], -m[1]))
    return marks


def _by_section(lines: list[_Line], page: int, outline) -> list[tuple[str, list[_Line]]]:
    """The page's lines in runs of one section (the last bookmark at or above each line)."""
    starts = [(index, -y) for index, y, _ in outline]
    groups: list[tuple[str, list[_Line]]] = []
    for line in lines:
        at = bisect.bisect_right(starts, (page - 1, -line.top + 4))  # 4 pt: a bookmark points at about a heading's top
        section = outline[at - 1][2] if at else ""
        if groups and groups[-1][0] == section:
            groups[-1][1].append(line)
        else:
            groups.append((section, [line]))
    return groups


def _paragraphs(lines: list[_Line], columns: dict[int, tuple[float, float]], height: float) -> list[str]:
    """Lines joined into paragraphs: a new one after a gap of most of a line (a blank line), at an indented
    first line, after a line that stops well short of its column's right edge (a paragraph's last line, a
    heading), or where the text goes back up the page (a new column).

    Args:
        columns: per line (by ``id``), the left and right edges of the column it is in (``_columns``).
        height: the page's usual line height.
    """
    if not lines:
        return []
    paragraphs: list[list[str]] = [[lines[0].text]]
    for prev, line in zip(lines, lines[1:], strict=False):
        left, right = columns[id(prev)]
        short = prev.right < right - 0.12 * max(right - left, 1.0) and not _wrapped_before(prev, line, right)
        indented = prev.left < left + 0.5 * height < line.left < left + 4 * height
        unplaced = prev.top == prev.bottom == 0.0
        if unplaced or short or indented or prev.bottom - line.top > 0.7 * height or line.top > prev.top + height:
            paragraphs.append([line.text])
        else:
            paragraphs[-1].append(line.text)
    return [text for text in (join_lines(p) for p in paragraphs) if text]


def _wrapped_before(prev: _Line, line: _Line, right: float) -> bool:
    """The next line's first word would not have fitted at the end of ``prev``: a line that stops short
    before a long word (a URL, Victoires-Nationaux) was wrapped there, it does not end its paragraph."""
    units = sum(2 if is_cjk(ch) else 1 for ch in line.text)
    if not units or line.right <= line.left or is_cjk(line.text[0]):
        return False  # Chinese wraps at any character: a short line before one ends its paragraph
    word = re.match(r"[^\s\u2e80-\u9fff\uff00-\uffef]+", line.text).group()
    per_unit = (line.right - line.left) / units
    return prev.right + (len(word) + 1) * per_unit > right


def _layout(lines: list[_Line]) -> tuple[dict[int, tuple[float, float]], float]:
    """Each line's column edges and the page's usual line height. A line's column is the lines it overlaps
    across: its left edge is where most of them start and its right edge where most of them end, so a
    two-column page or a title across both columns does not make every line look short."""
    heights = sorted(ln.top - ln.bottom for ln in lines)
    height = max(heights[len(heights) // 2], 1.0) if heights else 1.0
    columns = {}
    for line in lines:
        crowded = len(lines) > _MANY_LINES  # a page of a dense table: the page's edges, not each line's column
        near = lines if crowded else [ln for ln in lines if ln.left < line.right and ln.right > line.left] or [line]
        lefts, rights = sorted(ln.left for ln in near), sorted(ln.right for ln in near)
        columns[id(line)] = (lefts[len(lefts) // 10], rights[(len(rights) * 9) // 10])
    return columns, height
