"""Which files of a corpus are new, changed, unchanged or unreadable (size, mtime and content hashes)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from ..text import file_digest, find_files

if TYPE_CHECKING:
    from .versions import Index

logger = logging.getLogger(__name__)
_warned: set[tuple[str, ...]] = set()  # the skips said in this process


def warn_skipped(why: str, *ident: str) -> None:
    """Log why a file is skipped, once per process for the same file (``ident``: its folder, name and, when
    known, its sha256) and reason: every refresh reads the folder again, and the stronger index's build
    (``Upgrade``) reads it after the fast one; each would say the same skip again."""
    if (*ident, why) not in _warned:
        _warned.add((*ident, why))
        logger.warning("Skipped: %s", why)


def corpus_files(corpus: Path, extra: Mapping[str, Path | None] | None = None) -> dict[str, tuple[Path, Path]]:
    """``source → (path, root it is read relative to)`` for the corpus and each extra folder (as ``name/…``).

    Each extra name is reserved for its folder: a corpus file under a top-level folder of that name is
    cited ``./name/…`` (no other source starts with ``./``), so the two never share a source. A folder
    that is None or missing adds nothing but still reserves its name; one inside the corpus is not read twice.
    """
    root = corpus if corpus.is_dir() else corpus.parent
    extra = dict(extra or {})
    base = root.resolve()
    inside = [  # an extra folder kept inside the corpus: its files are read as its own, not the corpus's
        Path(f).resolve().relative_to(base).as_posix() + "/"
        for f in extra.values()
        if f is not None and Path(f).resolve().is_relative_to(base)
    ]
    files = {}
    for path in find_files(corpus):
        source = path.relative_to(root).as_posix()
        if any(source.startswith(prefix) for prefix in inside):
            continue
        if source.split("/", 1)[0] in extra:
            source = "./" + source
        files[source] = (path, root)
    for name, folder in extra.items():
        files.update((source, (path, Path(folder))) for source, path in folder_files(name, folder).items())
    return files


def folder_files(name: str, folder: Path | None) -> dict[str, Path]:
    """``source → path`` of an extra folder's files, cited ``name/…``; empty when it is None or missing."""
    if folder is None or not Path(folder).is_dir():
        return {}
    return {f"{name}/{path.relative_to(folder).as_posix()}": path for path in find_files(Path(folder))}


def file_state(
    files: dict[str, tuple[Path, Path]], corpus: Path, manifest: dict | None
) -> tuple[dict[str, dict], dict[str, str]]:
    """size, mtime and sha256 per source (the hash is reused when size and mtime are unchanged),
    and why each file that cannot be read was skipped."""
    known = (manifest or {}).get("files", {})
    state, unreadable = {}, other_files(corpus)
    for source, (path, root) in files.items():
        if not _is_utf8(source):  # undecodable bytes in a file name: it could not be cited or saved
            shown = source.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
            unreadable[shown] = f"{shown} has a file name that is not UTF-8; rename it."
            warn_skipped(unreadable[shown], str(corpus), shown)
            continue
        try:
            st = path.stat()
            entry = known.get(source)
            if entry and entry["size"] == st.st_size and entry["mtime_ns"] == st.st_mtime_ns:
                digest = entry["sha256"]
            else:
                digest = file_digest(path)
        except OSError as exc:
            unreadable[source] = _unreadable(source, path, exc)
            warn_skipped(unreadable[source], str(root), source)
            continue
        state[source] = {
            "size": st.st_size,
            "mtime_ns": st.st_mtime_ns,
            "sha256": digest,
            "path": str(path),
            "root": str(root),
        }
    return state, unreadable


def other_files(corpus: Path) -> dict[str, str]:
    """``source → why it is skipped`` for each file of the corpus that is not a document type (b.doc, c.zip)."""
    from ..readers import why_not_read

    corpus = Path(corpus)
    if not corpus.exists():
        return {}
    root = corpus if corpus.is_dir() else corpus.parent
    others: list[Path] = []
    find_files(corpus, others=others)
    skipped = {}
    for path in sorted(others):
        source = path.relative_to(root).as_posix()
        if _is_utf8(source):
            skipped[source] = why_not_read(source)
            warn_skipped(skipped[source], str(root), source)
    return skipped


def _is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _unreadable(source: str, path: Path, exc: OSError) -> str:
    if path.is_symlink() and not path.exists():
        return f"{source} is a broken or looping symbolic link; fix or remove it."
    if isinstance(exc, PermissionError):
        return f"{source} cannot be read (permission denied); fix its permissions or remove it."
    return f"{source} cannot be read ({exc.strerror or exc}); check the file."


def changed_sources(files: dict[str, tuple[Path, Path]], manifest: dict) -> list[str]:
    """The files that an index saved with ``manifest`` may lack as they are now, told by size and mtime
    (no file is read): new or changed ones, and held ones that are gone."""
    known = manifest.get("files", {})
    held = set(known) - set(manifest.get("skipped", {}))
    changed = set()
    for source, (path, _) in files.items():
        entry = known.get(source)
        try:
            st = path.stat()
        except OSError:  # reported as skipped when the index is brought up to date
            continue
        if not entry or (entry["size"], entry["mtime_ns"]) != (st.st_size, st.st_mtime_ns):
            changed.add(source)
    return sorted(changed | (held - set(files)))


def held_sources(old: Index | None) -> set[str]:
    """The files that have passages in ``old``."""
    if old is None:
        return set()
    return set(old.manifest["files"]) - set(old.manifest.get("skipped", {}))
