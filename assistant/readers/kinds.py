"""Why a file in a corpus folder is not read: one sentence per kind of file that is not a document type."""

from __future__ import annotations

from pathlib import PurePosixPath

_SAVE_AS = {
    ".doc": "an old Word document: save it as .docx",
    ".rtf": "a Rich Text file: save it as .docx",
    ".odt": "an OpenDocument text: save it as .docx",
    ".pages": "a Pages document: export it as .docx or .pdf",
    ".wps": "a WPS document: save it as .docx",
    ".ppt": "an old PowerPoint presentation: save it as .pptx",
    ".odp": "an OpenDocument presentation: save it as .pptx",
    ".key": "a Keynote presentation: export it as .pptx or .pdf",
    ".xls": "an old Excel workbook: save it as .xlsx",
    ".ods": "an OpenDocument spreadsheet: save it as .xlsx",
    ".numbers": "a Numbers spreadsheet: export it as .xlsx or .csv",
    ".mobi": "a Kindle book: convert it to .epub",
    ".azw3": "a Kindle book: convert it to .epub",
    ".djvu": "a DjVu scan: convert it to .pdf",
}
_IMAGES = {".gif", ".bmp", ".tif", ".tiff", ".webp", ".heic", ".svg"}


def why_not_read(source: str) -> str:
    """``b.doc is an old Word document: save it as .docx to include it.`` and the like."""
    suffix = PurePosixPath(source).suffix.lower()
    if suffix in _SAVE_AS:
        return f"{source} is {_SAVE_AS[suffix]} to include it."
    if suffix in _IMAGES:
        return f"{source} is an image of a type that is not read; save it as .png or .jpg to include its text (OCR)."
    return f"{source} is not a document type (not .txt, .md, .html, .pdf, .docx, .pptx, .xlsx, .csv, .tsv, .epub, .png or .jpg)."
