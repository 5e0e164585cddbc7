"""Find files in a corpus folder, decode them, and split them into paragraphs."""

from __future__ import annotations

import codecs
import hashlib
import logging
import os
import re
from collections.abc import Iterator
from pathlib import Path

from ..errors import CorpusError
from ..readers import SENTENCE_END as _SENTENCE_END
from ..readers import SUFFIXES as _READER_SUFFIXES
from ..readers import read as _read_blocks
from ..records import Document, Paragraph
from .rules import CONTROL

logger = logging.getLogger(__name__)

SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm", *_READER_SUFFIXES)
MAX_FILE_BYTES = 200 * 1024 * 1024

_MD_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$")
_TITLE_MARK = re.compile(r"题[:：]\s*(.+)$")


class UndecodableFile(CorpusError):
    """A file whose bytes are not text in any encoding we support."""


def _is(test) -> bool:
    """``DirEntry.is_dir`` and the like, False where they raise (a link that loops) as ``Path.is_dir`` is."""
    try:
        return test()
    except OSError:
        return False


def _suffix(name: str) -> str:
    """``Path(name).suffix`` in lower case, without making a Path."""
    dot = name.rfind(".")
    return name[dot:].lower() if 0 < dot < len(name) - 1 else ""


def find_files(root: Path, *, others: list[Path] | None = None) -> list[Path]:
    """All supported files under ``root`` (or ``root`` itself), sorted, skipping hidden ones and folder loops;
    the files of other types are added to ``others`` when it is given (to be named as skipped)."""
    root = Path(root)
    if not root.exists():
        raise CorpusError(
            f"Corpus folder {root} does not exist; pass a folder of documents (.txt, .md, .html, .pdf, .docx, .pptx, .xlsx, .csv, .epub).",
            wrong_folder=True,
        )
    if root.is_file():
        if root.suffix.lower() not in SUFFIXES and others is not None:
            others.append(root)
        return [root] if root.suffix.lower() in SUFFIXES else []
    found: list[Path] = []
    seen: set[tuple[int, int]] = set()
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            st = folder.stat()
            if (st.st_dev, st.st_ino) in seen:
                continue
            seen.add((st.st_dev, st.st_ino))
            with os.scandir(folder) as listing:  # entries know their type: no stat per file (10k files: 0.05 s)
                entries = sorted(listing, key=lambda e: e.name)
        except OSError as exc:
            logger.warning("Skipping folder %s: %s", folder, exc.strerror or exc)
            continue
        for entry in entries:
            name = entry.name
            if name.startswith("."):
                continue
            if _is(entry.is_dir):
                stack.append(folder / name)
            elif _suffix(name) in SUFFIXES and (_is(entry.is_file) or _is(entry.is_symlink)):
                found.append(folder / name)  # a broken or looping link is kept so that it is reported as skipped
            elif others is not None and _is(entry.is_file):
                others.append(folder / name)
    return sorted(found)


def file_digest(path: Path) -> str:
    """SHA-256 of a file's bytes, the identity used to detect changed documents."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def file_digests(paths: list[Path]) -> list[str]:
    """``file_digest`` of each path, hashed on all cores (hashlib lets go of the GIL on large blocks)."""
    if len(paths) < 2:
        return [file_digest(p) for p in paths]
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(min(len(paths), os.cpu_count() or 1), thread_name_prefix="digest") as pool:
        return list(pool.map(file_digest, paths))


def decode(data: bytes, *, name: str = "file") -> tuple[str, str]:
    """Decode bytes as UTF-8 (with or without BOM), UTF-16/32 with BOM, GB18030 or Big5.

    A character cut off at the very end (a truncated download or copy) is dropped; anything else
    that is not valid text raises ``UndecodableFile`` rather than being guessed.
    Returns ``(text, encoding)``.
    """
    for bom, codec, label in _BOMS:
        if data.startswith(bom):
            try:
                return _decode_prefix(data[len(bom) :], codec), label
            except UnicodeDecodeError as exc:
                raise UndecodableFile(
                    f"{name} starts like {label.upper()} but is damaged; re-save it as UTF-8."
                ) from exc
    if b"\x00" in data[:8192]:
        raise UndecodableFile(f"{name} looks like a binary file, not text; remove it or convert it to .txt.")
    try:
        return _decode_prefix(data, "utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    candidates = []
    for encoding in ("gb18030", "big5"):
        try:
            candidates.append((encoding, _decode_prefix(data, encoding)))
        except UnicodeDecodeError:
            continue
    if len(candidates) == 2:
        candidates.sort(key=lambda c: _implausibility(c[1]))
    if candidates:
        encoding, text = candidates[0]
        if _implausibility(text) < 0.5:
            return text, encoding
    raise UndecodableFile(
        f"{name} is not UTF-8, GB18030 or Big5 text (perhaps damaged or binary); re-save it as UTF-8."
    )


# UTF-32 before UTF-16: the UTF-32-LE mark starts with the UTF-16-LE one.
_BOMS = (
    (codecs.BOM_UTF8, "utf-8", "utf-8-sig"),
    (codecs.BOM_UTF32_LE, "utf-32-le", "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32-be", "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16-le", "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16-be", "utf-16"),
)


def _decode_prefix(data: bytes, encoding: str) -> str:
    """Strict decoding that tolerates only an incomplete character in the last few bytes (left out)."""
    return codecs.getincrementaldecoder(encoding)(errors="strict").decode(data, final=False)


def _implausibility(text: str) -> float:
    """Share of characters that rarely occur in real text (private use, rare CJK, control, replacement)."""
    if not text:
        return 0.0
    odd = 0
    for ch in text:
        code = ord(ch)
        if (
            0xE000 <= code <= 0xF8FF
            or code == 0xFFFD
            or (code < 32 and ch not in "\t\r\n\f")
            or 0x3400 <= code <= 0x4DBF  # CJK extension A: rare in modern text
            or 0x20000 <= code
        ):
            odd += 1
    # Big5 text read as GB18030 (and the reverse) yields many rare-but-valid CJK characters; count
    # characters outside the common ranges against the text.
    return odd / len(text)


def split_paragraphs(text: str, *, markdown: bool = False) -> list[str]:
    """Paragraphs as a reader sees them: blank-line blocks, or one per line when lines are paragraphs."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\u2029", "\n\n")
    blocks = [b for b in re.split(r"\n[ \t\u3000]*\n", text) if b.strip()]
    paragraphs: list[str] = []
    for block in blocks:
        lines = [line.strip() for line in block.split("\n") if line.strip()]
        if len(lines) == 1 or _lines_are_paragraphs(lines, markdown=markdown):
            paragraphs.extend(lines)
        else:
            paragraphs.extend(_join_wrapped(lines, markdown=markdown))
    return [_clean(p) for p in paragraphs if _clean(p)]


def _lines_are_paragraphs(lines: list[str], *, markdown: bool) -> bool:
    """A block whose lines mostly end a sentence holds one paragraph per line (news text, Chinese)."""
    ends = sum(1 for line in lines if line.endswith(_SENTENCE_END) or _MD_HEADING.match(line))
    if markdown and any(re.match(r"^\s*([-*+]|\d+[.)])\s+", line) for line in lines):
        return True
    return ends >= 0.6 * len(lines)


def _join_wrapped(lines: list[str], *, markdown: bool) -> list[str]:
    """Join hard-wrapped lines; headings stay separate paragraphs."""
    out: list[str] = []
    current = ""
    for line in lines:
        if markdown and _MD_HEADING.match(line):
            if current:
                out.append(current)
            out.append(line)
            current = ""
            continue
        if current and _is_cjk(current[-1]) and _is_cjk(line[0]):
            current += line
        else:
            current = f"{current} {line}".strip()
    if current:
        out.append(current)
    return out


def _is_cjk(ch: str) -> bool:
    return "\u3000" <= ch <= "\u9fff" or "\uff00" <= ch <= "\uffef"


# Control characters (NUL, terminal escapes, C1) are never part of the text a reader sees; in a
# terminal they could even rewrite the screen.


def _clean(paragraph: str) -> str:
    """Runs of spaces as one, except a line's indentation (a code block's lines keep theirs)."""
    return re.sub(r"(?<=\S)[ \t\u00a0]+", " ", CONTROL.sub("", paragraph)).strip()


def guess_title(paragraphs: list[str], fallback: str) -> str:
    """The first Markdown heading, a news headline (题:…), or a short first line; else the file name."""
    for text in paragraphs[:8]:
        match = _MD_HEADING.match(text)
        if match and match.group(1):
            return match.group(1).strip()
    for text in paragraphs[:5]:
        match = _TITLE_MARK.search(text)
        if match and len(match.group(1)) <= 80:
            return match.group(1).strip()
    if paragraphs and len(paragraphs[0]) <= 60 and not paragraphs[0].endswith(("。", ".", "!", "?", "！", "？")):
        return paragraphs[0].lstrip("#").strip()
    return fallback


def html_to_text(markup: str) -> str:
    """Visible text of an HTML page's main content, one block element a paragraph (blank-line separated)."""
    from ..readers import read_html

    return "\n\n".join(b.text for b in read_html(markup)[1])


def read_document(path: Path, *, root: Path | None = None) -> Document:
    """Decode one file and split it into numbered paragraphs."""
    path = Path(path)
    source = path.relative_to(root).as_posix() if root and root.is_dir() else path.name
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise CorpusError(f"{source} is larger than {MAX_FILE_BYTES >> 20} MB; split it into smaller files.")
        if path.suffix.lower() in _READER_SUFFIXES:
            return _read_with_reader(path, source)
        data = path.read_bytes()
    except PermissionError as exc:
        raise CorpusError(f"{source} cannot be read (permission denied); fix its permissions or remove it.") from exc
    except OSError as exc:
        raise CorpusError(f"{source} cannot be read ({exc.strerror or exc}); check the file.") from exc
    text, encoding = decode(data, name=source)
    suffix = path.suffix.lower()
    if suffix in (".html", ".htm", ".md", ".markdown"):
        from ..readers import read_html, read_markdown

        heading, blocks = (read_html if suffix in (".html", ".htm") else read_markdown)(text)
        return _document(source, heading or path.stem, encoding, blocks)
    texts = split_paragraphs(text)
    paragraphs = tuple(Paragraph(number=i, text=t) for i, t in enumerate(texts, start=1))
    title = guess_title(texts, fallback=path.stem)
    return Document(doc_id=source, source=source, title=title, paragraphs=paragraphs)


def _read_with_reader(path: Path, source: str) -> Document:
    """A PDF, Word, PowerPoint, spreadsheet or EPUB file through its reader (``assistant.readers``)."""
    blocks = [b for b in _read_blocks(path, name=source) if _clean(b.text)]
    texts = [_clean(b.text) for b in blocks]
    # a spreadsheet's first row is data, not a title
    title = path.stem if blocks and blocks[0].sheet else guess_title(texts, fallback=path.stem)
    return _document(source, title, "", blocks)


def _document(source: str, title: str, encoding: str, blocks) -> Document:
    """A document of a reader's blocks (empty ones left out), numbered from 1."""
    blocks = [b for b in blocks if _clean(b.text)]
    paragraphs = tuple(
        Paragraph(
            number=i, text=_clean(b.text), page=b.page, slide=b.slide, section=b.section, sheet=b.sheet, row=b.row
        )
        for i, b in enumerate(blocks, start=1)
    )
    return Document(doc_id=source, source=source, title=title, paragraphs=paragraphs)


def read_corpus(root: Path) -> Iterator[Document]:
    """Every readable document under ``root``; undecodable or unreadable files are skipped with a warning."""
    root = Path(root)
    for path in find_files(root):
        try:
            yield read_document(path, root=root)
        except CorpusError as exc:
            logger.warning("Skipped: %s", exc)
