"""Stage 5: build, save and load the index of a corpus (passages, vectors, FAISS, BM25) atomically."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import mmap
import os
import re
import shutil
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from . import checkpoint
from .dense import DenseIndex, choose_kind, choose_spec, reuse_or_build
from .documents import file_digest, find_files, read_document
from .encoder import Encoder
from .errors import AssistantError, CorpusError, IndexStoreError
from .keyword import KeywordIndex, count_terms, stack_counts
from .passages import make_passages, split_sentences, weight
from .records import Passage
from .terms import tokenize_many

logger = logging.getLogger(__name__)

FORMAT_VERSION = 8
INDEX_ENV = "ASSISTANT_INDEX_DIR"
CHUNKING = {"min_weight": 16, "max_chars": 400}
WORK = "work"  # checkpoints of an unfinished build
_VERSION = re.compile(r"v-\d{14}-[0-9a-f]{6}")
# Above this many passages sentences get no vectors of their own: they multiply the memory of
# the vectors by ~6 and every query scans them all (~12k sentences, 25 MB, at the limit: a few ms). Recorded in the
# manifest; ``sentence_vectors`` (auto, on, off) overrides.
SENTENCE_LIMIT = 2_000


def sentence_vectors_wanted(passages: int, setting: str = "auto") -> bool:
    """Whether passages' sentences get vectors: ``on``, ``off``, or ``auto`` (up to ``SENTENCE_LIMIT`` passages)."""
    if setting not in ("auto", "on", "off"):
        raise ValueError(f"sentence_vectors must be auto, on or off; got {setting!r}")
    return setting == "on" or (setting == "auto" and passages <= SENTENCE_LIMIT)


def default_index_root() -> Path:
    """``$ASSISTANT_INDEX_DIR``, else ``embeddings/`` in the current folder."""
    return Path(os.environ.get(INDEX_ENV) or "embeddings")


def embed_text(passage: Passage) -> str:
    """What the encoder sees: the text (the title is shared by all passages and adds no contrast),
    with English glosses of metadata fields so that "When was it published?" finds 发布时间:…"""
    return passage.text + metadata_glosses(passage.text)


def passage_sentences(passage: Passage) -> list[str]:
    """The sentences of a passage that get their own vector.

    Questions inside documents (an interviewer's 记者:…?) are left out: they resemble the user's
    question without answering it. A passage of one sentence needs none.
    """
    sentences = split_sentences(passage.text)
    if len(sentences) < 2:
        return []
    return [s for s in sentences if weight(s) >= 4 and not s.rstrip("”」』\"')） ").endswith(("?", "？"))]


def keyword_text(passage: Passage) -> str:
    """What the keyword index sees: title, text and metadata glosses."""
    return passage.title + "\n" + passage.text + metadata_glosses(passage.text)


# Field labels of Chinese news and document headers, glossed in English (cross-language questions
# about a document's metadata have no other way to match these words).
METADATA_LABELS = {
    "发布时间": "published on, publication date",
    "发布日期": "published on, publication date",
    "发表时间": "published on",
    "出版日期": "published on",
    "更新时间": "updated on",
    "日期": "date",
    "来源": "source",
    "出处": "source",
    "作者": "author, written by, writer",
    "记者": "reporter",
    "责任编辑": "editor",
    "编辑": "editor",
    "摄影": "photographer",
    "通讯员": "correspondent",
}
_METADATA = re.compile(
    "(" + "|".join(sorted(METADATA_LABELS, key=len, reverse=True)) + r")[:：\s]\s*([^\s:：【】]{1,40})"
)


def metadata_glosses(text: str) -> str:
    """``\n(published on, publication date: 2024-11-23)``-style glosses of labelled fields, or ``""``."""
    glosses = [f"{METADATA_LABELS[label]}: {value}" for label, value in _METADATA.findall(text)]
    return "\n(" + "; ".join(glosses) + ")" if glosses else ""


@dataclass
class Index:
    """A loaded, searchable index: passages and the two indexes over them, row-aligned."""

    passages: list[Passage]
    dense: DenseIndex
    keyword: KeywordIndex
    manifest: dict
    folder: Path
    vectors: np.ndarray | None = None
    sentences: DenseIndex | None = None
    sentence_vectors: np.ndarray | None = None
    sentence_offsets: np.ndarray | None = None
    encoded: int = 0  # passages encoded when this index was opened (0: loaded as saved)

    def vectors_array(self) -> np.ndarray:
        """The passage vectors, row-aligned with ``passages`` (memory-mapped from disk when loaded)."""
        if self.vectors is None:
            self.vectors = open_vectors(self.folder / "vectors.npy")
        return self.vectors

    def vector_rows(self, ids: np.ndarray) -> np.ndarray:
        """A copy of the passage vectors of ``ids``. A large memory-mapped file is then released from this
        process's memory: the kernel keeps the pages in its cache (re-read cheaply), but they no longer
        count in the server's RSS, which otherwise grows to the whole file at 1M passages."""
        vectors = self.vectors_array()
        rows = np.array(vectors[ids], dtype=np.float32)
        if isinstance(vectors, np.memmap) and vectors.nbytes >= RELEASE_BYTES:
            with contextlib.suppress(AttributeError, OSError, ValueError):
                vectors._mmap.madvise(mmap.MADV_DONTNEED)
        return rows


# Memory-mapped vector files at least this large are released after each query (see ``Index.vector_rows``).
RELEASE_BYTES = 64 << 20


def open_vectors(path: Path) -> np.ndarray:
    """Vectors memory-mapped for reads of scattered rows: without read-ahead, a query that re-scores ~100
    passages pages in ~100 rows, not ~100 x 128 kB (which filled the RSS with a million-row file)."""
    vectors = np.load(path, mmap_mode="r")
    with contextlib.suppress(AttributeError, OSError, ValueError):
        vectors._mmap.madvise(mmap.MADV_RANDOM)
    return vectors


def index_folder(corpus: Path, model: str, root: Path | None = None) -> Path:
    """One folder per (corpus, model): another model never reads these vectors."""
    corpus = Path(corpus).resolve()
    key = hashlib.sha256(f"{corpus}\n{model}".encode("utf-8", "surrogateescape")).hexdigest()[:10]
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", f"{corpus.name}-{Path(model).name}")[:60]
    return Path(root or default_index_root()) / f"{slug}-{key}"


def open_index(
    corpus: Path,
    encoder: Encoder,
    *,
    root: Path | None = None,
    rebuild: bool = False,
    dense_kind: str = "auto",
    dense_params: dict | None = None,
    sentence_vectors: str = "auto",
    progress: bool = False,
    extra: Mapping[str, Path] | None = None,
    current: Index | None = None,
) -> Index:
    """Load the saved index of ``corpus`` if it is current, else (re)build what changed and save it.

    ``extra`` maps a name to another folder whose files join the same index, cited as ``name/file``
    (the web chat's uploads); the index folder is still keyed on ``corpus`` and the model.

    Raises:
        CorpusError: the corpus has no readable documents.
        IndexStoreError: the index folder cannot be written.
    """
    corpus = Path(corpus)
    files = corpus_files(corpus, extra)
    if not files:
        raise CorpusError(
            f"No .txt, .md or .html documents in {corpus}. Put documents there or pass another folder with --corpus."
        )
    folder = index_folder(corpus, encoder.name, root)
    old = None if rebuild else (current if _is_current(current, folder, encoder.name) else None)
    old = old or (None if rebuild else _load_current(folder, encoder))
    state, unreadable = _file_state(files, corpus, old.manifest if old else None)
    if old and _unchanged(old.manifest, state, dense_kind, sentence_vectors):
        logger.info("Loaded index %s (%d passages)", folder, len(old.passages))
        return old
    options = {"dense_kind": dense_kind, "dense_params": dense_params, "sentence_vectors": sentence_vectors}
    with _build_lock(folder):
        _remove_stale(folder, keep=_current_version(folder))  # left by a writer that was killed
        if rebuild:
            checkpoint.clear(folder / WORK)
        elif _current_version(folder) != (old.folder.name if old else None):
            # Another process saved a version while this one waited for the lock: start from it.
            old = _load_current(folder, encoder)
            if old and _unchanged(old.manifest, state, dense_kind, sentence_vectors):
                return old
        index = _build(corpus, state, unreadable, encoder, old, work=folder / WORK, progress=progress, **options)
        _save(index, folder)
        checkpoint.clear(folder / WORK)
    return index


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
        raise _unwritable(folder, exc) from exc
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            logger.warning("Another process is indexing into %s; waiting for it to finish.", folder)
            fcntl.flock(handle, fcntl.LOCK_EX)
        yield
    finally:
        handle.close()


def _unwritable(folder: Path, exc: OSError) -> IndexStoreError:
    return IndexStoreError(
        f"Cannot write the index to {folder} ({exc.strerror or exc}). "
        f"Make it writable or choose another folder with {INDEX_ENV}=PATH."
    )


def corpus_files(corpus: Path, extra: Mapping[str, Path] | None = None) -> dict[str, tuple[Path, Path]]:
    """``source → (path, root it is read relative to)`` for the corpus and each extra folder (as ``name/…``)."""
    root = corpus if corpus.is_dir() else corpus.parent
    files = {path.relative_to(root).as_posix(): (path, root) for path in find_files(corpus)}
    for name, folder in (extra or {}).items():
        if not Path(folder).is_dir():
            continue
        for path in find_files(Path(folder)):
            source = f"{name}/{path.relative_to(folder).as_posix()}"
            if source in files:
                logger.warning("Skipped %s: the corpus has a file of the same name.", path)
                continue
            files[source] = (path, Path(folder))
    return files


def _is_current(index: Index | None, folder: Path, model: str) -> bool:
    """Whether an index already in memory is the version ``CURRENT`` names (then it need not be read again)."""
    if index is None or index.folder.parent != folder or index.manifest.get("model") != model:
        return False
    return _current_version(folder) == index.folder.name


def _file_state(
    files: dict[str, tuple[Path, Path]], corpus: Path, manifest: dict | None
) -> tuple[dict[str, dict], dict[str, str]]:
    """size, mtime and sha256 per source (the hash is reused when size and mtime are unchanged),
    and why each file that cannot be read was skipped."""
    known = (manifest or {}).get("files", {})
    state, unreadable = {}, {}
    for source, (path, root) in files.items():
        if not _is_utf8(source):  # undecodable bytes in a file name: it could not be cited or saved
            shown = source.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
            unreadable[shown] = f"{shown} has a file name that is not UTF-8; rename it."
            logger.warning("Skipped: %s", unreadable[shown])
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
            logger.warning("Skipped: %s", unreadable[source])
            continue
        state[source] = {
            "size": st.st_size,
            "mtime_ns": st.st_mtime_ns,
            "sha256": digest,
            "path": str(path),
            "root": str(root),
        }
    return state, unreadable


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


def _unchanged(manifest: dict, state: dict, dense_kind: str, sentence_vectors: str = "auto") -> bool:
    files = manifest.get("files", {})
    same_files = set(files) == set(state) and all(files[s]["sha256"] == state[s]["sha256"] for s in state)
    wanted_kind = choose_kind(manifest.get("passages", 0), dense_kind)
    sentences = sentence_vectors_wanted(manifest.get("passages", 0), sentence_vectors)
    return (
        same_files
        and manifest.get("chunking") == CHUNKING
        and manifest["dense"]["kind"] == wanted_kind
        and manifest.get("sentence_vectors") == sentences
    )


@dataclass
class _FileUnit:
    """One file's share of the index: its passages, their vectors and their sentence vectors."""

    passages: list[Passage]
    vectors: np.ndarray
    sentence_vectors: np.ndarray
    sentence_counts: np.ndarray
    term_counts: object  # scipy CSR rows: the passages' keyword term counts (tokenized once)


def _old_units(old: Index | None, state: dict) -> dict[str, _FileUnit]:
    """Slices of the previous index for files whose content is unchanged."""
    if old is None:
        return {}
    old_files = old.manifest["files"]
    vectors = old.vectors_array()
    sentence_vectors = old.sentence_vectors
    offsets = old.sentence_offsets
    term_counts = old.keyword.term_counts()
    rows_by_source: dict[str, list[int]] = {}
    for i, p in enumerate(old.passages):
        rows_by_source.setdefault(p.source, []).append(i)
    units = {}
    for source, rows in rows_by_source.items():
        if source in state and old_files.get(source, {}).get("sha256") == state[source]["sha256"]:
            first, last = rows[0], rows[-1] + 1
            units[source] = _FileUnit(
                passages=old.passages[first:last],
                vectors=np.asarray(vectors[first:last]),
                sentence_vectors=np.asarray(sentence_vectors[offsets[first] : offsets[last]]),
                sentence_counts=np.diff(offsets[first : last + 1]),
                term_counts=term_counts[first:last],
            )
    return units


def _build(
    corpus,
    state,
    unreadable,
    encoder: Encoder,
    old: Index | None,
    *,
    work: Path,
    dense_kind: str,
    progress: bool,
    dense_params: dict | None = None,
    sentence_vectors: str = "auto",
) -> Index:
    """Reuse passages, vectors and keyword term counts of unchanged files; read and encode only new or changed ones.

    Encoding is checkpointed in ``work``, so a build that was killed resumes where it stopped.
    """
    started = time.perf_counter()
    units = _old_units(old, state)
    fresh: dict[str, list[Passage]] = {}
    skipped: dict[str, str] = dict(unreadable)
    for source in sorted(state):
        if source in units:
            continue
        try:
            doc = read_document(Path(state[source]["path"]), root=Path(state[source]["root"]))
            if doc.source != source:  # a file of an extra folder is cited as name/file
                doc = replace(doc, doc_id=source, source=source)
        except AssistantError as exc:
            logger.warning("Skipped: %s", exc)
            skipped[source] = str(exc)
            continue
        if not doc.paragraphs:
            skipped[source] = f"{source} is empty; add text to it or remove it."
            logger.warning("Skipped: %s", skipped[source])
            continue
        fresh[source] = make_passages(doc, **CHUNKING)
    new_passages = [p for ps in fresh.values() for p in ps]
    if not new_passages and not units:
        raise CorpusError(f"None of the documents in {corpus} could be read; see the warnings above.")
    total = len(new_passages) + sum(len(u.passages) for u in units.values())
    with_sentences = sentence_vectors_wanted(total, sentence_vectors)
    _fit_sentences(units, with_sentences, had=bool(old and old.manifest.get("sentence_vectors")))
    if new_passages:
        logger.info("Encoding %d passages with %s", len(new_passages), encoder.name)
    sentences = {s: [passage_sentences(p) if with_sentences else [] for p in ps] for s, ps in fresh.items()}
    missing = {  # reused files that had no sentence vectors and now need them
        src: [passage_sentences(p) for p in u.passages] for src, u in units.items() if u.sentence_vectors is None
    }
    jobs = {s: [embed_text(p) for p in ps] + [t for group in sentences[s] for t in group] for s, ps in fresh.items()}
    jobs.update({s: [t for group in groups for t in group] for s, groups in missing.items()})
    encoded, resumed = checkpoint.encode_resumable(jobs, encoder, work, progress=progress)
    vocab = dict(old.keyword.vocab) if old is not None and units else {}
    term_counts = count_terms(tokenize_many([keyword_text(p) for p in new_passages]), vocab)
    cursor = 0
    for source, ps in fresh.items():
        units[source] = _FileUnit(
            passages=ps,
            vectors=encoded[source][: len(ps)],
            sentence_vectors=encoded[source][len(ps) :],
            sentence_counts=np.array([len(g) for g in sentences[source]], dtype=np.int64),
            term_counts=term_counts[cursor : cursor + len(ps)],
        )
        cursor += len(ps)
    for source, groups in missing.items():
        units[source].sentence_vectors = encoded[source]
        units[source].sentence_counts = np.array([len(g) for g in groups], dtype=np.int64)
    ordered = [units[s] for s in sorted(units)]
    passages = [p for u in ordered for p in u.passages]
    dimension = encoder.dimension
    vectors = _stack([u.vectors for u in ordered], dimension)
    all_sentences = _stack([u.sentence_vectors for u in ordered], dimension)
    offsets = np.concatenate([[0], np.cumsum(np.concatenate([u.sentence_counts for u in ordered]))]).astype(np.int64)
    spec = choose_spec(len(vectors), dense_kind, **(dense_params or {}))
    dense = reuse_or_build(old.dense if old is not None else None, vectors, spec)
    logger.info("Building the keyword index of %d passages", len(passages))
    keyword = KeywordIndex.from_counts(stack_counts([u.term_counts for u in ordered], len(vocab)), vocab)
    manifest = {
        "format_version": FORMAT_VERSION,
        "model": encoder.name,
        "dimension": int(dimension),
        "corpus": str(Path(corpus).resolve()).encode("utf-8", "surrogateescape").decode("utf-8", "replace"),
        "files": {s: {k: v for k, v in e.items() if k not in ("path", "root")} for s, e in state.items()},
        "skipped": skipped,
        "passages": len(passages),
        "sentences": int(len(all_sentences)),
        "chunking": CHUNKING,
        "sentence_vectors": with_sentences,
        "dense": {"kind": dense.kind, "metric": "inner_product", "params": dense.params},
        "keyword": {
            "method": "bm25-lucene",
            "k1": keyword.k1,
            "b": keyword.b,
            "tokenizer": "jieba-search+opencc-t2s+snowball-en",
            "bridge": len(keyword.bridge),
        },
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "build_seconds": round(time.perf_counter() - started, 3),
        "encoded_passages": len(new_passages),
        "resumed_texts": resumed,
    }
    return Index(
        passages=passages,
        dense=dense,
        keyword=keyword,
        manifest=manifest,
        folder=Path(),
        vectors=vectors,
        sentence_vectors=all_sentences,
        sentence_offsets=offsets,
        encoded=len(new_passages),
    )


def _fit_sentences(units: dict[str, _FileUnit], wanted: bool, *, had: bool) -> None:
    """Drop reused sentence vectors that are no longer wanted; mark those wanted but never made (None)."""
    for unit in units.values():
        if not wanted:
            unit.sentence_vectors = unit.sentence_vectors[:0]
            unit.sentence_counts = np.zeros(len(unit.passages), dtype=np.int64)
        elif not had:
            unit.sentence_vectors = None


def _stack(blocks: list[np.ndarray], dimension: int) -> np.ndarray:
    blocks = [b for b in blocks if len(b)]
    return (
        np.ascontiguousarray(np.concatenate(blocks), dtype=np.float32)
        if blocks
        else np.zeros((0, dimension), np.float32)
    )


def _save(index: Index, folder: Path) -> None:
    """Write a new version folder, fsync it, then switch ``CURRENT`` to it with one atomic rename."""
    logger.info("Saving the index to %s", folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        version = f"v-{time.strftime('%Y%m%d%H%M%S')}-{uuid.uuid4().hex[:6]}"
        tmp = folder / f".tmp-{version}"
        tmp.mkdir()
        line = json.JSONEncoder(ensure_ascii=False).encode  # one encoder: json.dumps makes one per call
        with open(tmp / "passages.jsonl", "w", encoding="utf-8") as out:
            out.write("".join(line(vars(p)) + "\n" for p in index.passages))  # vars: asdict deep-copies, 10x slower
        np.save(tmp / "vectors.npy", index.vectors_array())
        np.save(tmp / "sentence_vectors.npy", index.sentence_vectors)
        np.save(tmp / "sentence_offsets.npy", index.sentence_offsets)
        index.dense.save(tmp / "dense.faiss")
        (tmp / "keyword").mkdir()
        index.keyword.save(tmp / "keyword")
        index.manifest["checksums"] = {
            str(p.relative_to(tmp)): file_digest(p) for p in sorted(tmp.rglob("*")) if p.is_file()
        }
        _write_synced(tmp / "manifest.json", json.dumps(index.manifest, ensure_ascii=False, indent=1))
        for p in tmp.rglob("*"):
            _fsync(p)  # files and the folders that name them
        _fsync_dir(tmp)
        os.replace(tmp, folder / version)
        _fsync_dir(folder)
        pointer = folder / f"CURRENT.{version}.tmp"
        _write_synced(pointer, version)
        os.replace(pointer, folder / "CURRENT")
        _fsync_dir(folder)
    except OSError as exc:
        raise _unwritable(folder, exc) from exc
    index.folder = folder / version
    _remove_stale(folder, keep=version)
    logger.info("Saved index %s (%d passages)", index.folder, len(index.passages))


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
    if manifest.get("format_version") != FORMAT_VERSION:
        logger.warning("Index %s has an older format; rebuilding it.", path)
        return None
    if manifest.get("model") != encoder.name:
        logger.warning("Index %s was built by %s, not %s; rebuilding it.", path, manifest.get("model"), encoder.name)
        return None
    _verify(path, manifest)
    lines = (path / "passages.jsonl").read_text("utf-8").splitlines()
    passages = [Passage(**row) for row in json.loads("[" + ",".join(lines) + "]")]  # one parse, not one per line
    mapped = manifest["dense"]["kind"] != "flat"  # a large index: leave its codes on disk until used
    dense = DenseIndex.load(path / "dense.faiss", manifest["dense"]["kind"], manifest["dense"]["params"], mmap=mapped)
    keyword = KeywordIndex.load(path / "keyword", mmap=mapped)
    # Opened now, not on first use: a writer may delete this folder later, and an open map keeps the data.
    vectors = open_vectors(path / "vectors.npy")
    sentence_vectors = np.load(path / "sentence_vectors.npy")
    offsets = np.load(path / "sentence_offsets.npy")
    n = len(passages)
    if dense.size != n or keyword.size != n or len(vectors) != n or dense.dimension != manifest["dimension"]:
        raise IndexStoreError("its parts disagree on the number of passages")
    if len(offsets) != n + 1 or offsets[-1] != len(sentence_vectors):
        raise IndexStoreError("its sentence offsets do not match its sentence vectors")
    return Index(
        passages=passages,
        dense=dense,
        keyword=keyword,
        manifest=manifest,
        folder=path,
        vectors=vectors,
        sentence_vectors=sentence_vectors,
        sentence_offsets=offsets,
    )


_REQUIRED = ("passages.jsonl", "vectors.npy", "sentence_vectors.npy", "sentence_offsets.npy", "dense.faiss")


def _verify(path: Path, manifest: dict) -> None:
    """Compare every index file with the checksum recorded when it was written."""
    checksums = manifest.get("checksums") or {}
    missing = [name for name in _REQUIRED if name not in checksums]
    if missing:
        raise IndexStoreError(f"the manifest has no checksum for {missing[0]}")
    for name, digest in checksums.items():
        if file_digest(path / name) != digest:
            raise IndexStoreError(f"checksum mismatch in {name}")


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
