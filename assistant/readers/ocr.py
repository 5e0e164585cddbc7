"""Text in images, offline: RapidOCR's PP-OCRv4 models (Chinese and English, shipped inside its wheel) on
ONNX Runtime. Imported only when a scanned page or an image is read."""

from __future__ import annotations

import functools
import hashlib
import logging
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

logger = logging.getLogger(__name__)

MAX_OCR_PAGES = 30  # per file: a scanned book's further pages are skipped with a warning (seconds per page)
MAX_SIDE = 1600  # pixels: the text detector sees the image scaled to at most this on its long side
MIN_SCORE = 0.5  # a line recognised with less confidence is dropped
_ENGINE = threading.Lock()  # one recognition at a time: it uses every core already


@dataclass(frozen=True)
class OcrLine:
    """One line of text found in an image, with its box in the image's pixels (y downwards)."""

    text: str
    left: float
    top: float
    right: float
    bottom: float


@functools.cache
def _engine():
    from rapidocr_onnxruntime import RapidOCR

    # the text detector's default (short side scaled to 736 px) misses small print on a whole page
    return RapidOCR(det_limit_side_len=MAX_SIDE, det_limit_type="max", use_cls=False)


_SEEN: OrderedDict[bytes, list[OcrLine]] = OrderedDict()  # an upload is read to check it, then to index it
_SEEN_SIZE = 64


def read_lines(image, *, name: str = "image") -> list[OcrLine]:
    """The lines of text in a PIL image in reading order (RapidOCR's: top to bottom, left to right); an image
    seen lately (the same pixels) is not read again."""
    image = image.convert("RGB")
    key = hashlib.sha256(image.tobytes()).digest() + repr(image.size).encode()
    with _ENGINE:
        if key in _SEEN:
            _SEEN.move_to_end(key)
            logger.info("OCR %s: %d lines (the same image was read lately)", name, len(_SEEN[key]))
            return list(_SEEN[key])
    started = time.perf_counter()
    with _ENGINE:
        found, _ = _engine()(image)
    lines = []
    for points, text, score in found or []:
        text = " ".join(str(text).split())
        if not text or float(score) < MIN_SCORE:
            continue
        xs, ys = [p[0] for p in points], [p[1] for p in points]
        lines.append(OcrLine(text, min(xs), min(ys), max(xs), max(ys)))
    logger.info("OCR %s: %d lines in %.1f s", name, len(lines), time.perf_counter() - started)
    with _ENGINE:
        _SEEN[key] = lines
        while len(_SEEN) > _SEEN_SIZE:
            _SEEN.popitem(last=False)
    return list(lines)


def line_characters(lines: list[OcrLine]) -> tuple[str, list[tuple[float, float, float, float]]]:
    """The lines' characters, a newline between lines, and a box for each (a line's width shared among its
    characters, a Chinese character counting twice a Latin one): what the page view highlights on a scan."""
    chars: list[str] = []
    boxes: list[tuple[float, float, float, float]] = []
    for line in lines:
        weights = [2.0 if ord(ch) > 0x2E80 else 1.0 for ch in line.text]
        unit = (line.right - line.left) / max(sum(weights), 1.0)
        x = line.left
        for ch, w in zip(line.text, weights, strict=True):
            chars.append(ch)
            boxes.append((x, line.top, x + w * unit, line.bottom))
            x += w * unit
        chars.append("\n")
        boxes.append((0.0, 0.0, 0.0, 0.0))
    return "".join(chars), boxes


def page_characters(image) -> tuple[str, list[tuple[float, float, float, float]]]:
    """The characters OCR finds in a rendered page, with their boxes in its pixels."""
    return line_characters(read_lines(image, name="page view"))
