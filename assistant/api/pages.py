"""The page view of a citation: a cited PDF page as an image, from the indexed file only."""

from __future__ import annotations

from pathlib import Path

from ..errors import QuestionError
from ..readers import IMAGES, PageImage, page_image
from ..storage import Index
from ..text import UPLOADS, file_digest


def indexed_file(index: Index, corpus: Path, uploads: Path | None, source: str) -> Path:
    """The file the index read ``source`` from, as it was indexed: the manifest names the sources, the
    corpus and uploads folders give their places (a path from a request is never opened).

    Raises:
        QuestionError: the source is not indexed, or its file is gone or changed since.
    """
    entry = index.manifest.get("files", {}).get(source)
    if not entry or source in index.manifest.get("skipped", {}):
        raise QuestionError(f"{source[:200]} is not in the knowledge base; ask again to cite it.")
    if source.startswith(UPLOADS + "/") and uploads is not None:
        root, relative = Path(uploads), source[len(UPLOADS) + 1 :]
    else:
        root = corpus if corpus.is_dir() else corpus.parent
        relative = source[2:] if source.startswith("./") else source
    path = root / relative
    try:
        inside = path.resolve().is_relative_to(root.resolve())
        stat = path.stat()
        same = (stat.st_size, stat.st_mtime_ns) == (entry["size"], entry["mtime_ns"])
        if inside and not same:
            same = stat.st_size == entry["size"] and file_digest(path) == entry["sha256"]
    except OSError:
        raise QuestionError(f"{source} is no longer in its folder; index the documents again.") from None
    if not inside:
        raise QuestionError(f"{source} is not in the knowledge base; ask again to cite it.")
    if not same:
        raise QuestionError(f"{source} changed since it was indexed; its pages are shown once it is indexed again.")
    return path


def page_view(index: Index, corpus: Path, uploads: Path | None, source: str, page: int, text: str = "") -> PageImage:
    """Page ``page`` (1-based) of the indexed PDF (or image, page 1) ``source``, with the characters of ``text`` on it marked.

    Raises:
        QuestionError: the source is not an indexed PDF, or its file is gone or changed.
        CorpusError: the page does not exist, or the file is no longer a readable PDF.
    """
    if not source.lower().endswith((".pdf", *IMAGES)):
        raise QuestionError(f"{source[:200]} has no pages to show; open its passages in context instead.")
    return page_image(indexed_file(index, corpus, uploads, source), page, text, name=source)
