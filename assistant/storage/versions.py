"""Saved versions of an index on disk: write one atomically and switch ``CURRENT`` to it (``loading`` reads them).

Each version is a folder written under a temporary name, fsynced and renamed; ``CURRENT`` names the
version in use and is replaced atomically. One writer at a time holds ``build.lock``; readers never wait.
"""

from __future__ import annotations

import contextlib
import json
import logging
import mmap
import os
import re
import shutil
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..dense import DenseIndex, DenseSide
from ..keyword import KeywordIndex, traditional_share
from ..records import Passage
from ..text import CHUNKING, file_digests
from .document_means import DocumentMeans, document_means
from .passage_files import passage_lines, source_codes
from .sentences import SentenceVectors, sentence_files
from .write_errors import WriteFailed, write_errno

logger = logging.getLogger(__name__)

# 10: sentence vectors for every passage at any size, as 8-bit codes in each segment's files (9: one float32
# file for the whole index, made up to 2,000 passages; still read).
FORMAT_VERSION = 10
READABLE_FORMATS = (9, 10)
_VERSION = re.compile(r"v-\d{14}-[0-9a-f]{6}")


@dataclass
class Index:
    """A loaded, searchable index: passages and the two indexes over them, row-aligned.

    Passages, their vectors and their keyword term counts are stored in segments (named as the keyword
    index names them): a version that only adds files shares the previous version's segment files
    (hard links) and writes one new segment.
    """

    passages: Sequence[Passage]  # a list, or SavedPassages / PassageView read from disk when needed
    dense: DenseIndex | DenseSide  # FAISS when saved here; a Milvus collection (``milvus.MilvusDense``)
    keyword: KeywordIndex
    manifest: dict
    folder: Path
    vectors: np.ndarray | list[np.ndarray] | None = None  # one array, or one per segment
    sentence_vectors: SentenceVectors | None = None  # one block per segment
    encoded: int = 0  # passages encoded when this index was opened (0: loaded as saved)
    shares: Path | None = None  # a saved version whose segment files this one's segments may link to
    _document_means: DocumentMeans | None = field(default=None, repr=False, compare=False)

    def recorded(self, started: float, resumed: int) -> Index:
        """This index with its build's time and counts in the manifest."""
        self.manifest.update(
            built_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            build_seconds=round(time.perf_counter() - started, 3),
            encoded_passages=self.encoded,
            resumed_texts=resumed,
        )
        return self

    @property
    def segments(self) -> list[tuple[str, int]]:
        """(name, passages) of each segment, in row order."""
        return [(s.name, s.rows) for s in self.keyword.segments]

    @property
    def traditional(self) -> float:
        """The share of traditional characters in the corpus's Chinese: measured when the index was built and
        kept in its manifest (an index saved before that is looked at once, here)."""
        if "traditional_share" not in self.manifest:
            self.manifest["traditional_share"] = traditional_sample(self.passages)
        return self.manifest["traditional_share"]

    @property
    def simplified(self) -> bool:
        """Whether the corpus is written in simplified Chinese characters (or has none)."""
        return self.traditional < 0.05

    def sentence_vectors_of(self, row: int) -> np.ndarray | None:
        """The vectors of the sentences of the passage at ``row``; None when the index keeps none for it."""
        if self.sentence_vectors is None or not len(self.sentence_vectors) or row < 0:
            return None
        return self.sentence_vectors.of_passage(row)

    def vector_blocks(self) -> list[np.ndarray]:
        """The passage vectors, one array per segment (memory-mapped from disk when loaded)."""
        if self.vectors is None:
            self.vectors = [open_vectors(self.folder / vectors_file(name)) for name, _ in self.segments]
        if isinstance(self.vectors, np.ndarray):
            return [self.vectors]
        return self.vectors

    def vectors_array(self) -> np.ndarray:
        """The passage vectors, row-aligned with ``passages``, as one array (a copy when there are several segments)."""
        blocks = self.vector_blocks()
        return blocks[0] if len(blocks) == 1 else np.concatenate(blocks)

    def vector_slice(self, first: int, last: int) -> np.ndarray:
        """The vectors of rows ``first`` to ``last`` (exclusive), as an array."""
        return self.vector_rows(np.arange(first, last))

    def document_means(self) -> DocumentMeans:
        """Each document's mean passage vector (``document_means``), computed the first time it is asked for."""
        if self._document_means is None:
            self._document_means = document_means(source_codes(self.passages).codes, self.vector_stretches)
        return self._document_means

    def vector_rows(self, ids: np.ndarray) -> np.ndarray:
        """A copy of the passage vectors of ``ids``. A large memory-mapped file is then released from this
        process's memory: the kernel keeps the pages in its cache (re-read cheaply), but they no longer
        count in the server's RSS, which otherwise grows to the whole file at 1M passages."""
        blocks = self.vector_blocks()
        ids = np.asarray(ids, dtype=np.int64)
        if len(blocks) == 1:
            rows = blocks[0].view(np.ndarray)[ids].astype(np.float32, copy=False)  # no np.memmap wrapping
        else:
            starts = np.cumsum([0, *(len(b) for b in blocks)])
            which = np.searchsorted(starts, ids, side="right") - 1
            rows = np.empty((len(ids), blocks[0].shape[1]), dtype=np.float32)
            for block in np.unique(which):
                chosen = which == block
                rows[chosen] = blocks[block].view(np.ndarray)[ids[chosen] - starts[block]]
        for vectors in blocks:
            _release(vectors)
        return rows

    def vector_stretches(self, rows: int):
        """The passage vectors in row order, as consecutive arrays of at most ``rows`` rows (views of the saved
        files, each released from this process's memory once read, as ``vector_rows`` does)."""
        for vectors in self.vector_blocks():
            for start in range(0, len(vectors), rows):
                yield vectors[start : start + rows].view(np.ndarray)
                _release(vectors)


def _release(vectors) -> None:
    """Drop a large memory-mapped file's pages from this process's memory (the kernel's cache keeps them)."""
    if isinstance(vectors, np.memmap) and vectors.nbytes >= RELEASE_BYTES:
        with contextlib.suppress(AttributeError, OSError, ValueError):
            vectors._mmap.madvise(mmap.MADV_DONTNEED)


def traditional_sample(passages: Sequence[Passage]) -> float:
    """The share of traditional characters in passages' Chinese (0 without Chinese), from ~200 spread over them."""
    step = max(1, len(passages) // 200)
    return round(traditional_share("".join(passages[i].text for i in range(0, len(passages), step))), 4)


def passages_file(segment: str) -> str:
    return f"passages-{segment}.jsonl"


def vectors_file(segment: str) -> str:
    return f"vectors-{segment}.npy"


def describe(
    corpus, encoder, state, skipped, passages, sentence_vectors, dense, keyword, with_sentences, *, traditional=None
) -> dict:
    """What a version records about itself (``Index.recorded`` adds the build's timing); ``traditional`` is the
    corpus's share of traditional characters when the caller knows it (an update weighs old and new)."""
    return {
        "format_version": FORMAT_VERSION,
        "model": encoder.name,
        "dimension": int(encoder.dimension),
        "corpus": str(Path(corpus).resolve()).encode("utf-8", "surrogateescape").decode("utf-8", "replace"),
        "files": {s: {k: v for k, v in e.items() if k not in ("path", "root")} for s, e in state.items()},
        "skipped": skipped,
        "passages": len(passages),
        "sentences": int(len(sentence_vectors)),
        "traditional_share": traditional_sample(passages) if traditional is None else round(traditional, 4),
        "chunking": CHUNKING,
        "sentence_vectors": with_sentences,
        "dense": {"kind": dense.kind, "metric": "inner_product", "params": dense.params},
        "keyword": {
            "method": "bm25-lucene",
            "k1": keyword.k1,
            "b": keyword.b,
            "tokenizer": "jieba-rs-search+opencc-t2s+snowball-en",
            "bridge": len(keyword.bridge),
        },
    }


# Memory-mapped vector files at least this large are released after each query (see ``Index.vector_rows``).
RELEASE_BYTES = 64 << 20


def open_vectors(path: Path) -> np.ndarray:
    """Vectors memory-mapped for reads of scattered rows: without read-ahead, a query that re-scores ~100
    passages pages in ~100 rows, not ~100 x 128 kB (which filled the RSS with a million-row file)."""
    vectors = np.load(path, mmap_mode="r")
    with contextlib.suppress(AttributeError, OSError, ValueError):
        vectors._mmap.madvise(mmap.MADV_RANDOM)
    return vectors


@contextlib.contextmanager
def _build_lock(folder: Path):
    """One writer per index folder at a time (an advisory ``fcntl`` lock; readers never wait for it)."""
    try:
        import fcntl
    except ImportError:  # no advisory locks on this platform: versions are still switched atomically
        yield
        return
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handle = open(folder / "build.lock", "a+b")  # closed below, which releases the lock
    except OSError as exc:
        raise WriteFailed(exc, needed=0) from exc
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            logger.warning("Another process is indexing into %s; waiting for it to finish.", folder)
            fcntl.flock(handle, fcntl.LOCK_EX)
        yield
    finally:
        handle.close()


def _save(index: Index, folder: Path) -> None:
    """Write a new version folder, fsync it, then switch ``CURRENT`` to it with one atomic rename.

    Segments the version it was made from already has are hard-linked from there (their files never
    change once written), so adding a file to a large index writes little more than the new segment.
    """
    logger.info("Saving the index to %s", folder)
    checksums: dict[str, str] = {}
    try:
        folder.mkdir(parents=True, exist_ok=True)
        version = f"v-{time.strftime('%Y%m%d%H%M%S')}-{uuid.uuid4().hex[:6]}"
        tmp = folder / f".tmp-{version}"
        (tmp / "keyword").mkdir(parents=True)
        checksums = _link_shared(index, tmp)
        line = json.JSONEncoder(ensure_ascii=False).encode  # one encoder: json.dumps makes one per call
        start = 0
        sentences = index.sentence_vectors.blocks
        for (name, rows), vectors, block in zip(index.segments, index.vector_blocks(), sentences, strict=True):
            if passages_file(name) not in checksums:
                with open(tmp / passages_file(name), "wb") as out:
                    out.write(passage_lines(index.passages, start, start + rows, line))
                np.save(tmp / vectors_file(name), vectors)
                for file, array in block.files(name).items():
                    np.save(tmp / file, array)
            start += rows
        index.dense.save(tmp / "dense.faiss")
        index.keyword.save(tmp / "keyword")
        written = [p for p in sorted(tmp.rglob("*")) if p.is_file() and str(p.relative_to(tmp)) not in checksums]
        checksums.update(zip((str(p.relative_to(tmp)) for p in written), file_digests(written), strict=True))
        codes, start, entries = source_codes(index.passages), 0, []
        for name, rows in index.segments:  # with each segment's files: an update finds a file's rows without a parse
            entries.append({"name": name, "passages": rows, "sources": codes.runs(start, start + rows)})
            start += rows
        index.manifest["segments"] = entries
        index.manifest["checksums"] = dict(sorted(checksums.items()))
        # no indent: json's C encoder only writes unindented JSON (a million passages' manifest: 0.02 s, not 0.2 s)
        _write_synced(tmp / "manifest.json", json.dumps(index.manifest, ensure_ascii=False))
        for p in written:
            _fsync(p)  # linked files were synced when first written
        _fsync_dir(tmp / "keyword")
        _fsync_dir(tmp)
        os.replace(tmp, folder / version)
        _fsync_dir(folder)
        pointer = folder / f"CURRENT.{version}.tmp"
        _write_synced(pointer, version)
        os.replace(pointer, folder / "CURRENT")
        _fsync_dir(folder)
    except (OSError, RuntimeError) as exc:  # FAISS reports a failed write as a RuntimeError
        if write_errno(exc) is None:
            raise
        raise WriteFailed(exc, needed=bytes_to_save(index, linked=checksums)) from exc
    index.folder = folder / version
    index.shares = None
    _remove_stale(folder, keep=version)
    logger.info("Saved index %s (%d passages)", index.folder, len(index.passages))


def bytes_to_save(index: Index, linked: dict | None = None) -> int:
    """About how many bytes saving ``index`` writes (files in ``linked`` are hard links: free)."""
    linked = linked or {}
    by_name = {s.name: s for s in index.keyword.segments}
    total = index.dense.saved_bytes() + 8 * len(index.keyword.vocab) + 4096  # df, words, manifest
    sentences = index.sentence_vectors.blocks
    for (name, rows), vectors, block in zip(index.segments, index.vector_blocks(), sentences, strict=True):
        if passages_file(name) not in linked:
            postings = by_name[name]
            arrays = (postings.data, postings.indices, postings.indptr, postings.lengths)
            arrays += tuple(block.files(name).values())
            total += vectors.nbytes + rows * PASSAGE_BYTES + sum(a.nbytes for a in arrays)
    return total


# About how many bytes a passage takes in its passages file (up to 400 characters, JSON with its citation).
PASSAGE_BYTES = 1000


def _link_shared(index: Index, tmp: Path) -> dict[str, str]:
    """Hard-link the files of segments that the version ``index.shares`` already holds; their checksums.

    A segment that cannot be linked (no hard links on this file system, a file gone) is written anew.
    """
    if index.shares is None:
        return {}
    try:
        known = json.loads((index.shares / "manifest.json").read_text())["checksums"]
    except (OSError, ValueError, KeyError):
        return {}
    by_name = {s.name: s for s in index.keyword.segments}
    linked = {}
    for name, _ in index.segments:
        files = [passages_file(name), vectors_file(name), *sentence_files(name)]
        files += [f"keyword/{f}" for f in by_name[name].files()]
        if not all(f in known for f in files):
            continue
        try:
            for f in files:
                os.link(index.shares / f, tmp / f)
        except OSError:
            for f in files:
                (tmp / f).unlink(missing_ok=True)
            continue
        linked.update({f: known[f] for f in files})
    return linked


def _remove_stale(folder: Path, keep: str | None) -> None:
    """Delete versions other than ``keep`` and unfinished ones; only the lock holder calls this."""
    for child in folder.iterdir():
        if child.is_dir() and child.name != keep and (child.name.startswith("v-") or child.name.startswith(".tmp-")):
            shutil.rmtree(child, ignore_errors=True)
        elif child.name.startswith("CURRENT.") and child.name.endswith(".tmp"):
            child.unlink(missing_ok=True)


def _write_synced(path: Path, text: str) -> None:
    with open(path, "w", encoding="utf-8") as out:
        out.write(text)
        out.flush()
        os.fsync(out.fileno())


def _fsync(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _fsync_dir(path: Path) -> None:
    _fsync(path)
