"""A PDF page (or an image file) as an image with a cited passage's characters highlighted: the page view of
a citation."""

from __future__ import annotations

import io
import logging
import threading
import unicodedata
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from .blocks import UnreadableDocument
from .lines import _HYPHENS
from .pdf import PDFIUM

logger = logging.getLogger(__name__)

MAX_WIDTH = 1400  # pixels: a page is rendered at most this wide
MAX_HEIGHT = 2400  # and at most this high (a long strip of a page is scaled down to fit)
MAX_SCALE = 3.0  # a small page is not blown up past 216 dpi
CACHE_SIZE = 8  # recent renders kept in memory (a page is a few hundred KB of PNG)
IMAGES = (".png", ".jpg", ".jpeg")  # shown as their one page (text by OCR)
_EDGE = 2  # pixels around a highlighted line
_FILL, _LINE = (255, 200, 0, 90), (230, 140, 0, 200)

Box = tuple[float, float, float, float]  # left, top, right, bottom in image pixels (y downwards)


@dataclass(frozen=True)
class PageImage:
    """One rendered page: PNG bytes, its place in the file, and the highlighted rectangles (image pixels)."""

    png: bytes
    page: int
    pages: int
    width: int
    height: int
    boxes: tuple[Box, ...] = ()
    ocr: bool = False  # the page had no text layer: its characters were found by OCR


def kept(ch: str) -> bool:
    """A character that is matched: not white space, a hyphen (a line-end one is dropped by the reader) or a
    control/format character."""
    return not ch.isspace() and ch not in _HYPHENS and unicodedata.category(ch) not in ("Cc", "Cf")


def locate(chars: str, text: str, *, probe: int = 12) -> list[int]:
    """The indexes of ``chars`` (a page's characters, one per box) that spell ``text``, matched on both with
    white space and hyphens removed; where the whole text is not found, from its first ``probe`` characters
    to its last ones, or else each of its lines on its own (a short line attached to the passage may be on
    the page before); [] when none is on the page."""
    index = [i for i, ch in enumerate(chars) if kept(ch)]
    page = "".join(chars[i] for i in index)
    span = _find(page, "".join(ch for ch in text if kept(ch)), probe)
    if span:
        return index[span[0] : span[1]]
    if "\n" not in text.strip():
        return []
    found = {i for line in text.split("\n") for i in locate(chars, line, probe=probe)}
    return sorted(found)


def _find(page: str, wanted: str, probe: int) -> tuple[int, int] | None:
    if not wanted:
        return None
    start = page.find(wanted)
    if start >= 0:
        return start, start + len(wanted)
    head, tail = page.find(wanted[:probe]), page.find(wanted[-probe:])
    if head < 0 or tail < head:
        return None
    return head, tail + len(wanted[-probe:])


def line_boxes(boxes: list[Box]) -> list[Box]:
    """Character boxes in reading order merged into one rectangle per printed line: a character starts a new
    line when its middle is outside the current line's height or it goes back to the left."""
    lines: list[list[float]] = []
    for left, top, right, bottom in boxes:
        if right <= left or bottom <= top:
            continue
        middle = (top + bottom) / 2
        if lines:
            line = lines[-1]
            height = line[3] - line[1]
            if line[1] <= middle <= line[3] and left >= line[0] - height:
                line[:] = [min(line[0], left), min(line[1], top), max(line[2], right), max(line[3], bottom)]
                continue
        lines.append([left, top, right, bottom])
    return [(a - _EDGE, b - _EDGE, c + _EDGE, d + _EDGE) for a, b, c, d in lines]


def draw(image, boxes: list[Box]):
    """The image with semi-transparent marks over ``boxes`` (a copy, RGB)."""
    from PIL import Image, ImageDraw

    layer = Image.new("RGBA", image.size, (0, 0, 0, 0))
    pen = ImageDraw.Draw(layer)
    for box in boxes:
        pen.rectangle(box, fill=_FILL, outline=_LINE, width=2)
    return Image.alpha_composite(image.convert("RGBA"), layer).convert("RGB")


_CACHE: OrderedDict[tuple, PageImage] = OrderedDict()
_CACHED = threading.Lock()  # the web chat renders pages in several threads


def page_image(path: Path, page: int, text: str = "", *, name: str = "") -> PageImage:
    """Page ``page`` (1-based) of the PDF at ``path`` as a PNG at most ``MAX_WIDTH`` pixels wide, with the
    characters of ``text`` on it highlighted (found by OCR on a page without a text layer).

    Raises:
        UnreadableDocument: the file is not a readable PDF, or has no such page.
    """
    path = Path(path)
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns, page, text)
    with _CACHED:
        if key in _CACHE:
            _CACHE.move_to_end(key)
            return _CACHE[key]
    render = _render_image if path.suffix.lower() in IMAGES else _render
    view = render(path, page, text, name or path.name)
    with _CACHED:
        _CACHE[key] = view
        while len(_CACHE) > CACHE_SIZE:
            _CACHE.popitem(last=False)
    return view


def _render(path: Path, page: int, text: str, name: str) -> PageImage:
    import pypdfium2 as pdfium

    with PDFIUM:
        try:
            pdf = pdfium.PdfDocument(str(path))
        except pdfium.PdfiumError as exc:
            raise UnreadableDocument(f"{name} cannot be opened as a PDF any more; re-index it.") from exc
        try:
            pages = len(pdf)
            if not 1 <= page <= pages:
                raise UnreadableDocument(f"{name} has no page {page}; it has {pages} page(s).")
            sheet = pdf[page - 1]
            width, height = sheet.get_size()
            scale = min((MAX_WIDTH - 1) / max(width, 1.0), (MAX_HEIGHT - 1) / max(height, 1.0), MAX_SCALE)
            image = sheet.render(scale=scale).to_pil()
            chars, boxes = _text_layer(sheet, scale, height)
        finally:
            pdf.close()
    ocr = not chars.strip()
    if ocr and text:
        from .ocr import page_characters

        chars, boxes = page_characters(image)
    marks = line_boxes([boxes[i] for i in locate(chars, text)]) if text else []
    if text and not marks:
        logger.info("%s p. %d: the cited passage was not found on the page; shown without highlights.", name, page)
    out = io.BytesIO()
    draw(image, marks).save(out, format="PNG", optimize=False)
    rounded = tuple(tuple(round(v, 1) for v in box) for box in marks)
    return PageImage(out.getvalue(), page, pages, image.width, image.height, rounded, ocr)


def _render_image(path: Path, page: int, text: str, name: str) -> PageImage:
    """An image file as its one page, scaled to fit, the passage marked where OCR finds it."""
    from .image import load
    from .ocr import page_characters

    if page != 1:
        raise UnreadableDocument(f"{name} is an image: it has page 1 only.")
    picture = load(path, name=name)
    marks = []
    if text:
        chars, boxes = page_characters(picture)  # the same pixels as when indexed: OCR's cache answers
        marks = line_boxes([boxes[i] for i in locate(chars, text)])
    scale = min(1.0, (MAX_WIDTH - 1) / picture.width, (MAX_HEIGHT - 1) / picture.height)
    shown = picture.resize((max(1, round(picture.width * scale)), max(1, round(picture.height * scale))))
    marks = [tuple(v * scale for v in box) for box in marks]
    out = io.BytesIO()
    draw(shown, marks).save(out, format="PNG")
    rounded = tuple(tuple(round(v, 1) for v in box) for box in marks)
    return PageImage(out.getvalue(), 1, 1, shown.width, shown.height, rounded, True)


def _text_layer(sheet, scale: float, height: float) -> tuple[str, list[Box]]:
    """The page's characters (one per PDFium index) and each one's box in image pixels."""
    import pypdfium2.raw as raw

    textpage = sheet.get_textpage()
    try:
        chars, boxes = [], []
        for i in range(textpage.count_chars()):
            chars.append(chr(raw.FPDFText_GetUnicode(textpage.raw, i) or 32))
            left, bottom, right, top = textpage.get_charbox(i)
            boxes.append((left * scale, (height - top) * scale, right * scale, (height - bottom) * scale))
        return "".join(chars), boxes
    finally:
        textpage.close()
