"""Images (.png, .jpg, .jpeg): their text by OCR, cited as page 1."""

from __future__ import annotations

from pathlib import Path

from .blocks import Block, UnreadableDocument

MAX_PIXELS = 40_000_000  # a larger image is refused (a decompression bomb, or a poster OCR cannot read well)
MAX_SIDE = 2400  # a larger image is scaled down first: OCR needs no more


def read(path: Path, *, name: str) -> list[Block]:
    """The paragraphs OCR finds in an image, each on page 1.

    Raises:
        UnreadableDocument: the file is not an image of its type, is too large, or has no text OCR can read.
    """
    from .ocr import read_lines
    from .pdf import ocr_paragraphs

    picture = load(path, name=name)
    texts = ocr_paragraphs(read_lines(picture, name=name), picture.height)
    if not texts:
        raise UnreadableDocument(f"{name} is an image in which OCR found no text; nothing to include.")
    return [Block(text, page=1) for text in texts]


def load(path: Path, *, name: str):
    """The image as OCR reads it: RGB, at most ``MAX_SIDE`` pixels on its long side (the page view shows
    the same pixels, so its OCR is the one the index was built from).

    Raises:
        UnreadableDocument: the file is not an image of its type, or is too large.
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            if image.width * image.height > MAX_PIXELS:
                raise UnreadableDocument(
                    f"{name} is {image.width}×{image.height} pixels, more than OCR reads; scale it down to include it."
                )
            image.load()
            picture = image.convert("RGB")
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
        raise UnreadableDocument(f"{name} is not a readable image ({type(exc).__name__}); re-save it.") from exc
    if max(picture.size) > MAX_SIDE:
        picture.thumbnail((MAX_SIDE, MAX_SIDE))
    return picture
