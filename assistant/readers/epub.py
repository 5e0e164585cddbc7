"""EPUB: the chapters in spine order (the OPF manifest, read with defusedxml), each through the HTML reader
(its headings as the section path; text before a chapter's first heading under the table of contents' title)."""

from __future__ import annotations

import posixpath
import zipfile
from pathlib import Path

from .blocks import Block, UnreadableDocument
from .zipguard import open_zip

_NS = {
    "c": "urn:oasis:names:tc:opendocument:xmlns:container",
    "opf": "http://www.idpf.org/2007/opf",
    "ncx": "http://www.daisy.org/z3986/2005/ncx/",
}


def read(path: Path, *, name: str) -> list[Block]:
    """The paragraphs of each chapter in reading order, with the chapter's title as section.

    Raises:
        UnreadableDocument: not an EPUB, a damaged one, DRM-protected, or a zip bomb.
    """
    archive = open_zip(path, name=name, kind="EPUB book", required="META-INF/container.xml")
    try:
        return _read(archive, name)
    except (KeyError, zipfile.BadZipFile, UnicodeDecodeError, ValueError) as exc:
        raise UnreadableDocument(f"{name} is a damaged EPUB book ({exc}); re-save or re-export it.") from exc
    finally:
        archive.close()


def _read(archive: zipfile.ZipFile, name: str) -> list[Block]:
    from ..text import decode
    from .htmlpage import read_html

    names = set(archive.namelist())
    if (
        "META-INF/encryption.xml" in names
        and b"EncryptedData" in archive.read("META-INF/encryption.xml")
        and (b"font" not in archive.read("META-INF/encryption.xml").lower())
    ):
        raise UnreadableDocument(f"{name} is a DRM-protected EPUB; only books without DRM can be read.")
    opf_path = _opf_path(archive, name)
    chapters, toc = _spine(archive, opf_path, name)
    blocks: list[Block] = []
    for member in chapters:
        if member not in names:
            continue
        markup, _ = decode(archive.read(member), name=f"{name}:{member}")
        heading, chapter = read_html(markup)  # its <head> (the <title>) is not text of the page
        section = toc.get(member, "") or heading
        blocks.extend(b if b.section else Block(b.text, section=section) for b in chapter)
    return blocks


def _xml(data: bytes, what: str):
    try:
        from defusedxml.ElementTree import fromstring
    except ImportError:  # defusedxml is a dependency; without it the stdlib parser (no external entities) reads it
        from xml.etree.ElementTree import fromstring
    try:
        return fromstring(data)
    except Exception as exc:  # ParseError, or defusedxml's refusal of entity tricks
        raise UnreadableDocument(f"{what} ({type(exc).__name__}: {exc}); re-save or re-export it.") from exc


def _opf_path(archive: zipfile.ZipFile, name: str) -> str:
    try:
        container = archive.read("META-INF/container.xml")
    except KeyError as exc:
        raise UnreadableDocument(
            f"{name} is not an EPUB book (it has no META-INF/container.xml); give it its real extension."
        ) from exc
    root = _xml(container, f"{name} has a damaged META-INF/container.xml")
    found = root.find(".//c:rootfile", _NS)
    if found is None or not found.get("full-path"):
        raise UnreadableDocument(f"{name} is a damaged EPUB book (its container names no package); re-save it.")
    return found.get("full-path")


def _spine(archive: zipfile.ZipFile, opf_path: str, name: str) -> tuple[list[str], dict[str, str]]:
    """The chapter files in reading order, and the table of contents' title of each (from an EPUB 2 NCX)."""
    opf = _xml(archive.read(opf_path), f"{name} has a damaged package file {opf_path}")
    base = posixpath.dirname(opf_path)
    manifest = {
        item.get("id"): (posixpath.normpath(posixpath.join(base, item.get("href", ""))), item.get("media-type", ""))
        for item in opf.iterfind(".//opf:manifest/opf:item", _NS)
    }
    spine = opf.find(".//opf:spine", _NS)
    chapters = [
        manifest[ref.get("idref")][0]
        for ref in (spine.iterfind("opf:itemref", _NS) if spine is not None else [])
        if ref.get("idref") in manifest and ref.get("linear", "yes") != "no"
    ]
    toc: dict[str, str] = {}
    ncx = manifest.get(spine.get("toc") if spine is not None else None)
    if ncx and ncx[0] in archive.namelist():
        root = _xml(archive.read(ncx[0]), f"{name} has a damaged table of contents {ncx[0]}")
        for point in root.iterfind(".//ncx:navPoint", _NS):
            label = point.find("ncx:navLabel/ncx:text", _NS)
            content = point.find("ncx:content", _NS)
            if label is not None and content is not None and label.text:
                src = posixpath.normpath(
                    posixpath.join(posixpath.dirname(ncx[0]), content.get("src", "").split("#")[0])
                )
                toc.setdefault(src, label.text.strip())
    return chapters, toc
