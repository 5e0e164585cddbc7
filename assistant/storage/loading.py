"""Read a saved version of an index back, checked against its manifest (checksums, shapes).

Readers never wait for a writer: a version is read through the ``CURRENT`` pointer, and a read that a
concurrent writer's switch made fail is retried on the new version (see ``versions`` for the writing side).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np

from ..dense import DenseIndex
from ..encoders import Encoder
from ..errors import IndexStoreError
from ..keyword import KeywordIndex
from ..text import file_digests
from .passage_files import SavedPassages
from .sentences import SentenceBlock, SentenceVectors, sentence_files
from .versions import _VERSION, READABLE_FORMATS, Index, open_vectors, passages_file, vectors_file

logger = logging.getLogger(__name__)


def _current_version(folder: Path) -> str | None:
    try:
        return (folder / "CURRENT").read_text().strip()
    except (OSError, UnicodeDecodeError):
        return None


def _load_current(folder: Path, encoder: Encoder, *, attempts: int = 3) -> Index | None:
    """The index ``CURRENT`` points to, or None when there is none or it is unusable (it is then rebuilt).

    A writer in another process may switch ``CURRENT`` and delete the old version while this one
    reads it; the read is then retried on the new version.
    """
    for _ in range(attempts):
        version = _current_version(folder)
        if version is None:
            return None
        try:
            return _load_version(folder, version, encoder)
        except (OSError, ValueError, KeyError, TypeError, RuntimeError, AssertionError, IndexStoreError) as exc:
            if _current_version(folder) != version:
                continue
            logger.warning("Index %s is damaged (%s); rebuilding it.", folder / version, exc)
            return None
    return None


def _load_version(folder: Path, version: str, encoder: Encoder) -> Index | None:
    """One version folder, checked against its manifest; None when another model or format made it."""
    if not _VERSION.fullmatch(version):
        raise IndexStoreError(f"CURRENT names no index version ({version[:40]!r})")
    path = folder / version
    manifest = json.loads((path / "manifest.json").read_text())
    if manifest.get("format_version") not in READABLE_FORMATS:
        logger.warning("Index %s has an older format; rebuilding it.", path)
        return None
    if manifest.get("model") != encoder.name:
        logger.warning("Index %s was built by %s, not %s; rebuilding it.", path, manifest.get("model"), encoder.name)
        return None
    _verify(path, manifest)
    mapped = manifest["dense"]["kind"] != "flat"  # a large index: leave its codes on disk until used
    keyword = KeywordIndex.load(path / "keyword", mmap=mapped)
    segments = [(s["name"], s["passages"]) for s in manifest["segments"]]
    if segments != [(s.name, s.rows) for s in keyword.segments]:
        raise IndexStoreError("its keyword index has other segments than its manifest")
    # parsed when a question needs them, not now (see passage_files)
    runs = [s.get("sources") for s in manifest["segments"]]  # checked by SavedPassages
    passages = SavedPassages([path / passages_file(name) for name, _ in segments], [rows for _, rows in segments], runs)
    dense = DenseIndex.load(path / "dense.faiss", manifest["dense"]["kind"], manifest["dense"]["params"], mmap=mapped)
    # Opened now, not on first use: a writer may delete this folder later, and an open map keeps the data.
    vectors = [open_vectors(path / vectors_file(name)) for name, _ in segments]
    sentence_vectors = _sentence_vectors(path, manifest, segments)
    n = len(passages)
    if [len(v) for v in vectors] != [rows for _, rows in segments] or sum(rows for _, rows in segments) != n:
        raise IndexStoreError("its segments disagree on the number of passages")
    if dense.size != n or keyword.size != n or dense.dimension != manifest["dimension"]:
        raise IndexStoreError("its parts disagree on the number of passages")
    for (_, rows), block in zip(segments, sentence_vectors.blocks, strict=True):
        if len(block.counts) != rows or not int(block.counts.sum()) == len(block.codes) == len(block.scales):
            raise IndexStoreError("its sentence counts do not match its sentence vectors")
    return Index(
        passages=passages,
        dense=dense,
        keyword=keyword,
        manifest=manifest,
        folder=path,
        vectors=vectors,
        sentence_vectors=sentence_vectors,
    )


def _sentence_vectors(path: Path, manifest: dict, segments: list[tuple[str, int]]) -> SentenceVectors:
    """Each segment's sentence vectors, memory-mapped; a format 9 index's one float32 file is quantized here
    (it was made up to 2,000 passages, or with ``sentence_vectors="on"``)."""
    dimension = manifest["dimension"]
    if manifest["format_version"] >= 10:
        return SentenceVectors.load(path, [name for name, _ in segments], dimension)
    vectors = np.load(path / "sentence_vectors.npy", mmap_mode="r")
    offsets = np.load(path / "sentence_offsets.npy")
    if len(offsets) != sum(rows for _, rows in segments) + 1 or offsets[-1] != len(vectors):
        raise IndexStoreError("its sentence offsets do not match its sentence vectors")
    whole = SentenceBlock.of(vectors, np.diff(offsets))
    return SentenceVectors.split(whole, [rows for _, rows in segments], dimension)


_REQUIRED = ("dense.faiss", "keyword/keyword.json", "keyword/df.npy")
_REQUIRED_9 = ("sentence_vectors.npy", "sentence_offsets.npy")


def _verify(path: Path, manifest: dict) -> None:
    """Compare every index file with the checksum recorded when it was written."""
    checksums = manifest.get("checksums") or {}
    segments = [s["name"] for s in manifest.get("segments") or []]
    if not segments:
        raise IndexStoreError("the manifest lists no segments")
    required = [*_REQUIRED, *(f for name in segments for f in (passages_file(name), vectors_file(name)))]
    if manifest.get("format_version", 0) >= 10:
        required += [f for name in segments for f in sentence_files(name)]
    else:
        required += _REQUIRED_9
    missing = [name for name in required if name not in checksums]
    if missing:
        raise IndexStoreError(f"the manifest has no checksum for {missing[0]}")
    names = list(checksums)
    for name, digest in zip(names, file_digests([path / n for n in names]), strict=True):  # 1M passages: 3 GB
        if digest != checksums[name]:
            raise IndexStoreError(f"checksum mismatch in {name}")
