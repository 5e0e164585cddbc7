"""Uploaded documents: checked names, types and sizes, stored only inside the uploads folder."""

from __future__ import annotations

import os
import re
import tempfile
import unicodedata
from pathlib import Path

from ..errors import AssistantError, UploadError
from .documents import SUFFIXES, read_document

UPLOADS = "uploads"  # how uploaded files are cited: uploads/<name>
MAX_UPLOAD_BYTES = 20 * 1024 * 1024
MAX_FILES_PER_UPLOAD = 20
MAX_NAME_CHARS = 120

_UNSAFE = re.compile(r"[^\w .()\-+,&@]+")


def safe_name(name: str) -> str:
    """A plain file name to store an upload under, or ``UploadError``.

    A name with a folder in it (``../../etc/passwd``, ``a/b.txt``, ``C:\\x.txt``) is refused, not
    trimmed: a client that sends one is not a browser uploading a file.
    """
    if not isinstance(name, str) or not name.strip():
        raise UploadError(
            "The file has no name; upload a document (.txt, .md, .html, .pdf, .docx, .pptx, .xlsx, .csv or .epub)."
        )
    if "/" in name or "\\" in name or "\x00" in name or name.strip() in (".", ".."):
        raise UploadError(f"{name!r} is a path, not a file name; upload the file itself.")
    clean = unicodedata.normalize("NFC", name).strip()
    clean = _UNSAFE.sub("_", clean).strip(" .")  # no hidden files (the reader skips them), no trailing dots
    stem, suffix = os.path.splitext(clean)
    if suffix.lower() not in SUFFIXES:
        kinds = ", ".join(SUFFIXES)
        shown = repr(name)  # the sentence stays short with the longer list: a long or escaped name is cut
        shown = shown if len(shown) <= 80 else shown[:77] + "…"
        raise UploadError(f"{shown} is not a supported document; upload one of: {kinds}.")
    stem = stem[: MAX_NAME_CHARS - len(suffix)].strip(" .") or "document"
    return stem + suffix.lower()


def check_size(name: str, size: int, limit: int = MAX_UPLOAD_BYTES) -> None:
    """Refuse an empty file or one over the limit, naming both."""
    if size == 0:
        raise UploadError(f"{name} is empty; nothing to add.")
    if size > limit:
        raise UploadError(
            f"{name} is {size / 2**20:.1f} MB; the limit is {limit / 2**20:.0f} MB. Split it into smaller files."
        )


def store_upload(folder: Path, name: str, data: bytes, *, limit: int = MAX_UPLOAD_BYTES) -> str:
    """Check an upload as the indexer will read it, then move it into ``folder``; its stored file name.

    The bytes go first to a hidden temporary file (the corpus reader skips hidden files) with the real
    suffix, are decoded and split there, and only then replace ``folder/<safe name>`` in one rename.

    Raises:
        UploadError: the name, type or size is refused, or the file is not readable text.
    """
    target = safe_name(name)
    check_size(target, len(data), limit)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".upload-", suffix=Path(target).suffix)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        try:
            document = read_document(Path(tmp))
        except AssistantError as exc:
            raise UploadError(str(exc).replace(Path(tmp).name, target)) from exc
        if not document.paragraphs:
            raise UploadError(f"{target} has no text; nothing to add.")
        os.replace(tmp, upload_path(folder, f"{UPLOADS}/{target}"))
    finally:
        Path(tmp).unlink(missing_ok=True)
    return target


def upload_path(folder: Path, source: str) -> Path:
    """The file behind an uploaded document's source (``uploads/<name>``), refused if it is anything else."""
    prefix = UPLOADS + "/"
    if not isinstance(source, str) or not source.startswith(prefix):
        raise UploadError(f"{source} is not an uploaded document; only uploaded documents can be removed here.")
    name = source[len(prefix) :]
    if "/" in name or "\\" in name or name in ("", ".", ".."):
        raise UploadError(f"{source} is not an uploaded document; only uploaded documents can be removed here.")
    path = Path(folder) / name
    if path.resolve().parent != Path(folder).resolve():
        raise UploadError(f"{source} is not an uploaded document; only uploaded documents can be removed here.")
    return path
