"""Uploaded documents: a safe file name, type and size limits, and storage only under the app's data folder."""

from __future__ import annotations

import os
import re
import unicodedata
import uuid
from pathlib import Path

from .documents import SUFFIXES, UndecodableFile, decode
from .errors import UploadError

MAX_UPLOAD_BYTES = 20 * 1024 * 1024
MAX_NAME_CHARS = 120

_UNSAFE = re.compile(r'[\x00-\x1f\x7f-\x9f<>:"|?*\\/]')  # control characters and what Windows or URLs refuse
_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(1, 10)), *(f"lpt{i}" for i in range(1, 10))}
_BIDI = re.compile("[\u200e\u200f\u202a-\u202e\u2066-\u2069]")  # direction overrides can disguise a suffix


def safe_name(name: str) -> str:
    """The name an uploaded file is stored under, or ``UploadError`` saying why it cannot be.

    A name with folder parts (``../../etc/passwd``, ``C:\\x.txt``) is refused rather than trimmed;
    otherwise unsafe characters become ``_``, leading dots and spaces go, and long names are shortened
    (keeping the suffix).
    """
    if not isinstance(name, str) or not name.strip():
        raise UploadError("The uploaded file has no name; give it one ending in .txt, .md or .html.")
    if "/" in name or "\\" in name or name.strip() in (".", "..") or re.match(r"^[A-Za-z]:", name):
        raise UploadError(f"{_shown(name)} names a folder path; upload the file itself, e.g. notes.txt.")
    cleaned = unicodedata.normalize("NFC", _BIDI.sub("", name))
    cleaned = _UNSAFE.sub("_", re.sub(r"\s+", " ", cleaned)).strip()
    stem, dot, suffix = cleaned.rpartition(".")
    if not dot or f".{suffix.lower()}" not in SUFFIXES:
        raise UploadError(f"{_shown(name)} is not a supported document; upload .txt, .md or .html files.")
    stem = stem.lstrip(". ")[: MAX_NAME_CHARS - len(suffix) - 1].rstrip(" .")
    if not stem.strip(" _"):
        raise UploadError(f"{_shown(name)} has no usable name; rename it, e.g. notes.txt.")
    if stem.lower() in _RESERVED:
        stem = f"_{stem}"
    return f"{stem}.{suffix.lower()}"


def check_upload(name: str, size: int, *, max_bytes: int = MAX_UPLOAD_BYTES) -> str:
    """The safe name of an upload of ``size`` bytes, or ``UploadError`` (empty, too large, wrong type)."""
    stored = safe_name(name)
    if size <= 0:
        raise UploadError(f"{_shown(name)} is empty; upload a document with text in it.")
    if size > max_bytes:
        raise UploadError(f"{_shown(name)} is larger than {max_bytes >> 20} MB; split it into smaller files.")
    return stored


def store_upload(source: Path, name: str, folder: Path, *, max_bytes: int = MAX_UPLOAD_BYTES) -> Path:
    """Copy an uploaded file (at ``source``, e.g. Gradio's temporary copy) into ``folder`` as ``name``.

    The name is made safe, the size and type checked, the bytes must be text in a supported encoding,
    and the file appears in ``folder`` complete or not at all. Returns where it was stored.

    Raises:
        UploadError: with one sentence saying what is wrong and what to do.
    """
    stored = check_upload(name, Path(source).stat().st_size, max_bytes=max_bytes)
    data = Path(source).read_bytes()[: max_bytes + 1]
    if len(data) > max_bytes:  # it grew since it was measured
        raise UploadError(f"{_shown(name)} is larger than {max_bytes >> 20} MB; split it into smaller files.")
    try:
        decode(data, name=stored)
    except UndecodableFile as exc:
        raise UploadError(str(exc)) from exc
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / stored  # a safe name has no folder part: this is inside ``folder``
    tmp = folder / f".upload-{uuid.uuid4().hex}.tmp"
    try:
        with open(tmp, "xb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def _shown(name) -> str:
    """A name as it can be shown in a message: no control or direction characters, not too long."""
    text = _BIDI.sub("", re.sub(r"[\x00-\x1f\x7f-\x9f]", "?", name)) if isinstance(name, str) else str(type(name))
    return repr(text if len(text) <= 60 else text[:57] + "...")
