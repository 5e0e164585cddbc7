"""Open the zip container of a .docx/.pptx/.xlsx/.epub only after checking it is one, and not a zip bomb."""

from __future__ import annotations

import zipfile
from pathlib import Path

from .blocks import UnreadableDocument

MAX_MEMBER_BYTES = 200 * 1024 * 1024
MAX_TOTAL_BYTES = 1024 * 1024 * 1024
MAX_RATIO = 100
_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_SMALL = 1024 * 1024  # members this small may compress as well as they like (a page of spaces)


def open_zip(path: Path, *, name: str, kind: str, required: str = "") -> zipfile.ZipFile:
    """The file as an open ``ZipFile``, checked; ``kind`` names the type in messages (e.g. "Word document"),
    ``required`` is a member every file of the type has (``word/document.xml``).

    Raises:
        UnreadableDocument: not a zip file, damaged, or a member too large or too compressed (zip bomb).
    """
    suffix = Path(path).suffix.lower()
    with open(path, "rb") as handle:
        magic = handle.read(8)
    if magic == _OLE:  # Office keeps a password-protected file (and its old formats) in an OLE container
        raise UnreadableDocument(
            f"{name} is password-protected, or an old-format file renamed to {suffix}: "
            f"open it, remove the password and save it as {suffix}."
        )
    if not zipfile.is_zipfile(path):
        raise UnreadableDocument(
            f"{name} is not a {kind} (a {suffix} file is a zip container; this one is not): "
            "re-save it from its program or give it its real extension."
        )
    try:
        archive = zipfile.ZipFile(path)
        members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise UnreadableDocument(f"{name} is a damaged {kind} ({exc}); re-save it from its program.") from exc
    total = 0
    for member in members:
        total += member.file_size
        ratio = member.file_size / max(member.compress_size, 1)
        if (
            member.file_size > MAX_MEMBER_BYTES
            or total > MAX_TOTAL_BYTES
            or (member.file_size > _SMALL and ratio > MAX_RATIO)
        ):
            archive.close()
            raise UnreadableDocument(
                f"{name} looks like a zip bomb ({member.filename} unpacks to {member.file_size >> 20} MB, "
                f"{ratio:.0f} times its packed size); it was not opened — remove it."
            )
    if required and required not in archive.NameToInfo:
        archive.close()
        raise UnreadableDocument(
            f"{name} is not a {kind} (it is a zip file without {required}): "
            "re-save it from its program or give it its real extension."
        )
    return archive
