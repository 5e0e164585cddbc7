"""Build, save and load the index of a corpus (passages, vectors, FAISS, BM25) atomically."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..dense import choose_kind, choose_spec, reuse_or_build
from ..encoders import Encoder
from ..errors import CorpusError
from ..records import Passage
from ..text import (
    CHUNKING,
    encoder_jobs,
    sentence_spans,
    split_rows,
    stack_rows,
)
from . import checkpoint
from .changes import corpus_files, file_state, held_sources
from .loading import _current_version, _load_current
from .passage_files import source_codes
from .reading import keyword_index, read_new
from .sentences import SentenceBlock, SentenceVectors
from .settings import IndexSettings
from .update import updatable, update
from .versions import PASSAGE_BYTES, Index, _build_lock, _remove_stale, _save, describe
from .write_errors import INDEX_ENV, WriteFailed, folder_bytes, unwritable_error, writing

logger = logging.getLogger(__name__)

WORK = "work"  # checkpoints of an unfinished build


def default_index_root() -> Path:
    """``$ASSISTANT_INDEX_DIR``, else ``embeddings/`` in the current folder."""
    return Path(os.environ.get(INDEX_ENV) or "embeddings")


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
    settings: IndexSettings | None = None,
    progress: bool = False,
    extra: Mapping[str, Path] | None = None,
    current: Index | None = None,
    fallback: bool = False,
    stale_ok: bool = False,
) -> Index:
    """Load the saved index of ``corpus`` if it is current, else (re)build what changed and save it.

    ``extra`` maps a name to another folder whose files join the same index, cited as ``name/file``
    (the web chat's uploads); the index folder is still keyed on ``corpus`` and the model. With
    ``stale_ok`` the saved index is returned as it is even if files changed since (the web chat answers
    from it while it brings it up to date); only when there is none is one built first.

    A build that cannot be written (full disk, read-only folder, no permission) removes what it wrote; with
    ``fallback`` the previous saved index, if there is one, is then returned with one warning saying why.

    Raises:
        CorpusError: the corpus has no readable documents.
        IndexWriteError: the index folder cannot be written (and ``fallback`` found no previous index).
    """
    corpus, settings = Path(corpus), settings or IndexSettings()
    files = corpus_files(corpus, extra)
    if not files:
        raise CorpusError(
            f"No documents in {corpus} (.txt, .md, .html, .pdf, .docx, .pptx, .xlsx, .csv, .epub); put documents there or pass another folder.",
            wrong_folder=True,
        )
    folder = index_folder(corpus, encoder.name, root)
    seen = _current_version(folder)  # a version that is not loaded (damaged, another model) is not read twice
    old = None if rebuild else (current if _is_current(current, folder, encoder.name) else None)
    old = old or (None if rebuild else _load_current(folder, encoder))
    if old and stale_ok:
        logger.info("Loaded index %s (%d passages) as saved", folder, len(old.passages))
        return old
    state, unreadable = file_state(files, corpus, old.manifest if old else None)
    if old and (renamed := [s for s in state if s.startswith("./") and s[2:] in old.manifest["files"]]):
        logger.warning(
            "%d corpus file(s) such as %s are now cited %s, apart from uploaded documents; re-indexing them.",
            len(renamed),
            renamed[0][2:],
            renamed[0],
        )
    if old and _unchanged(old.manifest, state, settings, encoder.pools_spans):
        logger.info("Loaded index %s (%d passages)", folder, len(old.passages))
        still = {s: why for s, why in old.manifest.get("skipped", {}).items() if s in state}
        return _as_read(old, state, still | unreadable)
    try:
        with _build_lock(folder):
            with writing():
                _remove_stale(folder, keep=_current_version(folder))  # left by a writer that was killed
            if rebuild:
                checkpoint.clear(folder / WORK)
            elif _current_version(folder) not in ((old.folder.name,) if old else (None, seen)):
                # Another process saved a version while this one waited for the lock: start from it.
                old = _load_current(folder, encoder)
                if old and _unchanged(old.manifest, state, settings, encoder.pools_spans):
                    return old
            return _build_and_save(
                corpus, state, unreadable, encoder, old, folder, settings=settings, progress=progress
            )
    except WriteFailed as failed:
        if fallback and old is not None:
            logger.warning("%s", unwritable_error(folder, failed, previous=True, answering=True))
            return old
        kept = _current_version(folder) is not None  # never touched by a failed build
        raise unwritable_error(folder, failed, previous=kept) from failed.cause


def _build_and_save(corpus, state, unreadable, encoder: Encoder, old: Index | None, folder: Path, **how) -> Index:
    """Build the index (``_build``) and save it as the new version; called with the build lock held.

    A write that fails (``WriteFailed``) takes the failed build's files with it: the unfinished version and
    the encoding checkpoints, which cannot be completed and would only keep the disk full.
    """
    work, index = folder / WORK, None
    try:
        index = _build(corpus, state, unreadable, encoder, old, work=work, **how)
        if index is not old:  # old itself: only skipped files changed, and no passage did
            _save(index, folder)
    except WriteFailed as failed:
        if index is not None:  # the checkpoints were complete: the next build needs their room again
            failed.needed += folder_bytes(work)
        checkpoint.clear(work)
        with contextlib.suppress(OSError):
            _remove_stale(folder, keep=_current_version(folder))
        raise
    checkpoint.clear(work)
    return index


def _is_current(index: Index | None, folder: Path, model: str) -> bool:
    """Whether an index already in memory is the version ``CURRENT`` names (then it need not be read again)."""
    if index is None or index.folder.parent != folder or index.manifest.get("model") != model:
        return False
    return _current_version(folder) == index.folder.name


def _unchanged(manifest: dict, state: dict, settings: IndexSettings, cheap: bool = True) -> bool:
    """Whether the saved index holds every file as it is now, with these settings. A skipped file that is
    gone, or still there unchanged, changes no passage."""
    files = manifest.get("files", {})
    held = set(files) - set(manifest.get("skipped", {}))
    same_files = held <= set(state) and all(s in files and files[s]["sha256"] == state[s]["sha256"] for s in state)
    return same_files and _same_settings(manifest, settings, cheap)


def _same_settings(manifest: dict, settings: IndexSettings, cheap: bool) -> bool:
    wanted_kind = choose_kind(manifest.get("passages", 0), settings.dense_kind)
    sentences = settings.sentences_wanted(cheap=cheap)
    return (
        manifest.get("chunking") == CHUNKING
        and manifest["dense"]["kind"] == wanted_kind
        and manifest.get("sentence_vectors") == sentences
    )


def _as_read(old: Index, state: dict, skipped: dict[str, str]) -> Index:
    """``old``, its manifest (in memory; the saved one is unchanged) listing the files as they are now:
    skipped files that are gone are forgotten, new ones that cannot be read are listed."""
    old.manifest["files"] = {s: {k: v for k, v in e.items() if k not in ("path", "root")} for s, e in state.items()}
    old.manifest["skipped"] = skipped
    return old


@dataclass
class _FileUnit:
    """One file's share of the index: its passages, their vectors and their sentence vectors."""

    passages: list[Passage]
    vectors: np.ndarray
    sentences: SentenceBlock | None  # None: wanted but never made (an index built without them)
    term_counts: object  # scipy CSR rows: the passages' keyword term counts (tokenized once)


def _old_units(old: Index | None, state: dict) -> dict[str, _FileUnit]:
    """Slices of the previous index for files whose content is unchanged."""
    if old is None:
        return {}
    old_files = old.manifest["files"]
    term_counts = old.keyword.term_counts()
    rows_by_source: dict[str, list[int]] = {}
    codes = source_codes(old.passages)
    for i, code in enumerate(codes.codes.tolist()):
        rows_by_source.setdefault(codes.names[code], []).append(i)
    units = {}
    for source, rows in rows_by_source.items():
        if source in state and old_files.get(source, {}).get("sha256") == state[source]["sha256"]:
            first, last = rows[0], rows[-1] + 1
            units[source] = _FileUnit(
                passages=old.passages[first:last],
                vectors=old.vector_slice(first, last),
                sentences=old.sentence_vectors.block_of(np.arange(first, last)),
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
    settings: IndexSettings,
    progress: bool,
) -> Index:
    """Reuse passages, vectors and keyword term counts of unchanged files; read and encode only new or changed ones.

    An update keeps the old index's segments that lose no passage and adds one for new files (``_update``).
    Encoding is checkpointed in ``work``, so a build that was killed resumes where it stopped.
    """
    started = time.perf_counter()
    held = held_sources(old)
    reused = {s for s in held if s in state and old.manifest["files"][s]["sha256"] == state[s]["sha256"]}
    fresh, skipped = read_new(state, unreadable, skip=reused)
    if old is not None and not fresh and reused == held and _same_settings(old.manifest, settings, encoder.pools_spans):
        return _as_read(old, state, skipped)  # only skipped files changed: nothing to encode, nothing to save
    new_passages = [p for ps in fresh.values() for p in ps]
    if old is not None:  # an update: the segments that keep all their passages are kept as they are
        drop = ~source_codes(old.passages).rows_of(reused)  # from the manifest's runs: no passage is read
        total = len(new_passages) + len(old.passages) - int(drop.sum())
        with_sentences = settings.sentences_wanted(cheap=encoder.pools_spans)
        spec = choose_spec(total, settings.dense_kind, **settings.dense_params)
        if total and updatable(old, with_sentences, spec, dropping=bool(drop.any())):
            return update(
                old,
                drop,
                fresh,
                skipped,
                state,
                encoder,
                spec,
                settings=settings,
                work=work,
                progress=progress,
                started=started,
            )
    units = _old_units(old, state)
    if not new_passages and not units:
        raise CorpusError(f"None of the documents in {corpus} could be read; see the warnings above.")
    with_sentences = settings.sentences_wanted(cheap=encoder.pools_spans)
    dimension = encoder.dimension
    _fit_sentences(units, with_sentences, dimension, had=bool(old and old.manifest.get("sentence_vectors")))
    if new_passages:
        logger.info("Encoding %d passages with %s", len(new_passages), encoder.name)
    spans = {s: [sentence_spans(p) if with_sentences else [] for p in ps] for s, ps in fresh.items()}
    missing = {  # reused files that had no sentence vectors and now need them
        src: [sentence_spans(p) for p in u.passages] for src, u in units.items() if u.sentences is None
    }
    jobs = encoder_jobs(fresh, spans)
    jobs.update(encoder_jobs({s: units[s].passages for s in missing}, missing))
    # The keyword index is built meanwhile, in a thread: encoding spends most of its time in numpy, which
    # lets go of the GIL, so tokenizing, the dictionary bridge and BM25 cost the build little wall time.
    order = sorted(set(units) | set(fresh))
    reused_counts = {s: u.term_counts for s, u in units.items()}
    vocab = dict(old.keyword.vocab) if old is not None and units else {}
    with ThreadPoolExecutor(1, thread_name_prefix="keyword") as pool:
        keyword_job = pool.submit(keyword_index, fresh, reused_counts, order, vocab, settings)
        try:
            reserve = len(new_passages) * PASSAGE_BYTES + (folder_bytes(old.folder) if old is not None else 0)
            encoded, resumed = checkpoint.encode_resumable(jobs, encoder, work, progress=progress, reserve=reserve)
        except BaseException:
            keyword_job.cancel()
            raise
        keyword, term_counts = keyword_job.result()
    cursor = 0
    for source, ps in fresh.items():  # each file's float32 rows are let go once its sentences are quantized
        vectors, sentence_rows, counts = split_rows(encoded.pop(source), spans[source])
        units[source] = _FileUnit(
            passages=ps,
            vectors=vectors,
            sentences=SentenceBlock.of(sentence_rows, counts),
            term_counts=term_counts[cursor : cursor + len(ps)],
        )
        cursor += len(ps)
    for source, groups in missing.items():
        units[source].sentences = SentenceBlock.of(*split_rows(encoded.pop(source), groups)[1:])
    ordered = [units[s] for s in order]
    passages = [p for u in ordered for p in u.passages]
    vectors = stack_rows([u.vectors for u in ordered], dimension)
    blocks = [vectors[s.start : s.start + s.rows] for s in keyword.segments]
    whole = SentenceBlock.joined([u.sentences for u in ordered], dimension)
    sentence_vectors = SentenceVectors.split(whole, [s.rows for s in keyword.segments], dimension)
    spec = choose_spec(len(vectors), settings.dense_kind, **settings.dense_params)
    dense = reuse_or_build(old.dense if old is not None else None, vectors, spec)
    return Index(
        passages=passages,
        dense=dense,
        keyword=keyword,
        manifest=describe(corpus, encoder, state, skipped, passages, sentence_vectors, dense, keyword, with_sentences),
        folder=Path(),
        vectors=blocks,
        sentence_vectors=sentence_vectors,
        encoded=len(new_passages),
    ).recorded(started, resumed)


def _fit_sentences(units: dict[str, _FileUnit], wanted: bool, dimension: int, *, had: bool) -> None:
    """Drop reused sentence vectors that are no longer wanted; mark those wanted but never made (None)."""
    for unit in units.values():
        if not wanted:
            unit.sentences = SentenceBlock.empty(len(unit.passages), dimension)
        elif not had:
            unit.sentences = None
