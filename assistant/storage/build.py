"""Stage 5: build, save and load the index of a corpus (passages, vectors, FAISS, BM25) atomically."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ..dense import choose_kind, choose_spec, reuse_or_build
from ..encoders import Encoder
from ..errors import AssistantError, CorpusError
from ..keyword import KeywordIndex, count_terms, stack_counts, tokenize_many
from ..records import Passage
from ..text import (
    CHUNKING,
    encoder_jobs,
    keyword_text,
    make_passages,
    read_document,
    sentence_spans,
    split_rows,
    stack_rows,
)
from . import checkpoint
from .changes import corpus_files, file_state, held_sources
from .loading import _current_version, _load_current
from .passage_files import source_codes
from .update import segment_rows, updatable, update
from .versions import (  # noqa: F401  (FORMAT_VERSION, RELEASE_BYTES, open_vectors: part of this module's API)
    FORMAT_VERSION,
    PASSAGE_BYTES,
    RELEASE_BYTES,
    Index,
    _build_lock,
    _remove_stale,
    _save,
    describe,
    open_vectors,
)
from .write_errors import INDEX_ENV, WriteFailed, folder_bytes, unwritable_error, writing

logger = logging.getLogger(__name__)

WORK = "work"  # checkpoints of an unfinished build
# Above this many passages sentences get no vectors of their own: they multiply the memory of the vectors
# by ~6 (~12k sentences, 25 MB, at the limit; a query reads only its ~30 best passages' sentences) and add
# ~6% to encoding. Recorded in the manifest; ``sentence_vectors`` (auto, on, off) overrides.
SENTENCE_LIMIT = 2_000


def sentence_vectors_wanted(passages: int, setting: str = "auto", *, cheap: bool = True) -> bool:
    """Whether passages' sentences get vectors: ``on``, ``off``, or ``auto``: up to ``SENTENCE_LIMIT`` passages,
    when they are ``cheap`` (the encoder pools them from the passages' own pass, ``Encoder.pools_spans``).

    A model that cannot pool them encodes each sentence on its own, which more than doubles the build
    (all-MiniLM-L6-v2 on the CMRC benchmark: 21 → 47 s, hit@1 0.79 → 0.88): that is ``on``'s to ask for.
    """
    if setting not in ("auto", "on", "off"):
        raise ValueError(f"sentence_vectors must be auto, on or off; got {setting!r}")
    return setting == "on" or (setting == "auto" and cheap and passages <= SENTENCE_LIMIT)


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
    dense_kind: str = "auto",
    dense_params: dict | None = None,
    sentence_vectors: str = "auto",
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
    corpus = Path(corpus)
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
    if old and _unchanged(old.manifest, state, dense_kind, sentence_vectors, encoder.pools_spans):
        logger.info("Loaded index %s (%d passages)", folder, len(old.passages))
        still = {s: why for s, why in old.manifest.get("skipped", {}).items() if s in state}
        return _as_read(old, state, still | unreadable)
    options = {"dense_kind": dense_kind, "dense_params": dense_params, "sentence_vectors": sentence_vectors}
    try:
        with _build_lock(folder):
            with writing():
                _remove_stale(folder, keep=_current_version(folder))  # left by a writer that was killed
            if rebuild:
                checkpoint.clear(folder / WORK)
            elif _current_version(folder) not in ((old.folder.name,) if old else (None, seen)):
                # Another process saved a version while this one waited for the lock: start from it.
                old = _load_current(folder, encoder)
                if old and _unchanged(old.manifest, state, dense_kind, sentence_vectors, encoder.pools_spans):
                    return old
            return _build_and_save(corpus, state, unreadable, encoder, old, folder, progress=progress, **options)
    except WriteFailed as failed:
        if fallback and old is not None:
            logger.warning("%s", unwritable_error(folder, failed, previous=True, answering=True))
            return old
        kept = _current_version(folder) is not None  # never touched by a failed build
        raise unwritable_error(folder, failed, previous=kept) from failed.cause


def _build_and_save(corpus, state, unreadable, encoder: Encoder, old: Index | None, folder: Path, **options) -> Index:
    """Build the index (``_build``) and save it as the new version; called with the build lock held.

    A write that fails (``WriteFailed``) takes the failed build's files with it: the unfinished version and
    the encoding checkpoints, which cannot be completed and would only keep the disk full.
    """
    work, index = folder / WORK, None
    try:
        index = _build(corpus, state, unreadable, encoder, old, work=work, **options)
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


def _unchanged(
    manifest: dict, state: dict, dense_kind: str, sentence_vectors: str = "auto", cheap: bool = True
) -> bool:
    """Whether the saved index holds every file as it is now, with these settings. A skipped file that is
    gone, or still there unchanged, changes no passage."""
    files = manifest.get("files", {})
    held = set(files) - set(manifest.get("skipped", {}))
    same_files = held <= set(state) and all(s in files and files[s]["sha256"] == state[s]["sha256"] for s in state)
    return same_files and _same_settings(manifest, dense_kind, sentence_vectors, cheap)


def _same_settings(manifest: dict, dense_kind: str, sentence_vectors: str, cheap: bool) -> bool:
    wanted_kind = choose_kind(manifest.get("passages", 0), dense_kind)
    sentences = sentence_vectors_wanted(manifest.get("passages", 0), sentence_vectors, cheap=cheap)
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
    sentence_vectors: np.ndarray
    sentence_counts: np.ndarray
    term_counts: object  # scipy CSR rows: the passages' keyword term counts (tokenized once)


def _old_units(old: Index | None, state: dict) -> dict[str, _FileUnit]:
    """Slices of the previous index for files whose content is unchanged."""
    if old is None:
        return {}
    old_files = old.manifest["files"]
    sentence_vectors = old.sentence_vectors
    offsets = old.sentence_offsets
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

    An update keeps the old index's segments that lose no passage and adds one for new files (``_update``).
    Encoding is checkpointed in ``work``, so a build that was killed resumes where it stopped.
    """
    started = time.perf_counter()
    held = held_sources(old)
    reused = {s for s in held if s in state and old.manifest["files"][s]["sha256"] == state[s]["sha256"]}
    fresh, skipped = _read_new(state, unreadable, skip=reused)
    if (
        old is not None
        and not fresh
        and reused == held
        and _same_settings(old.manifest, dense_kind, sentence_vectors, encoder.pools_spans)
    ):
        return _as_read(old, state, skipped)  # only skipped files changed: nothing to encode, nothing to save
    new_passages = [p for ps in fresh.values() for p in ps]
    if old is not None:  # an update: the segments that keep all their passages are kept as they are
        drop = ~source_codes(old.passages).rows_of(reused)  # from the manifest's runs: no passage is read
        total = len(new_passages) + len(old.passages) - int(drop.sum())
        with_sentences = sentence_vectors_wanted(total, sentence_vectors, cheap=encoder.pools_spans)
        spec = choose_spec(total, dense_kind, **(dense_params or {}))
        if total and updatable(old, with_sentences, spec, dropping=bool(drop.any())):
            return update(
                old, drop, fresh, skipped, state, encoder, spec, work=work, progress=progress, started=started
            )
    units = _old_units(old, state)
    if not new_passages and not units:
        raise CorpusError(f"None of the documents in {corpus} could be read; see the warnings above.")
    total = len(new_passages) + sum(len(u.passages) for u in units.values())
    with_sentences = sentence_vectors_wanted(total, sentence_vectors, cheap=encoder.pools_spans)
    _fit_sentences(units, with_sentences, had=bool(old and old.manifest.get("sentence_vectors")))
    if new_passages:
        logger.info("Encoding %d passages with %s", len(new_passages), encoder.name)
    spans = {s: [sentence_spans(p) if with_sentences else [] for p in ps] for s, ps in fresh.items()}
    missing = {  # reused files that had no sentence vectors and now need them
        src: [sentence_spans(p) for p in u.passages] for src, u in units.items() if u.sentence_vectors is None
    }
    jobs = encoder_jobs(fresh, spans)
    jobs.update(encoder_jobs({s: units[s].passages for s in missing}, missing))
    # The keyword index is built meanwhile, in a thread: encoding spends most of its time in numpy, which
    # lets go of the GIL, so tokenizing, the dictionary bridge and BM25 cost the build little wall time.
    order = sorted(set(units) | set(fresh))
    reused_counts = {s: u.term_counts for s, u in units.items()}
    vocab = dict(old.keyword.vocab) if old is not None and units else {}
    with ThreadPoolExecutor(1, thread_name_prefix="keyword") as pool:
        keyword_job = pool.submit(_keyword_index, fresh, reused_counts, order, vocab)
        try:
            reserve = len(new_passages) * PASSAGE_BYTES + (folder_bytes(old.folder) if old is not None else 0)
            encoded, resumed = checkpoint.encode_resumable(jobs, encoder, work, progress=progress, reserve=reserve)
        except BaseException:
            keyword_job.cancel()
            raise
        keyword, term_counts = keyword_job.result()
    cursor = 0
    for source, ps in fresh.items():
        vectors, sentence_rows, counts = split_rows(encoded[source], spans[source])
        units[source] = _FileUnit(
            passages=ps,
            vectors=vectors,
            sentence_vectors=sentence_rows,
            sentence_counts=counts,
            term_counts=term_counts[cursor : cursor + len(ps)],
        )
        cursor += len(ps)
    for source, groups in missing.items():
        _, units[source].sentence_vectors, units[source].sentence_counts = split_rows(encoded[source], groups)
    ordered = [units[s] for s in order]
    passages = [p for u in ordered for p in u.passages]
    dimension = encoder.dimension
    vectors = stack_rows([u.vectors for u in ordered], dimension)
    blocks = [vectors[s.start : s.start + s.rows] for s in keyword.segments]
    all_sentences = stack_rows([u.sentence_vectors for u in ordered], dimension)
    offsets = np.concatenate([[0], np.cumsum(np.concatenate([u.sentence_counts for u in ordered]))]).astype(np.int64)
    spec = choose_spec(len(vectors), dense_kind, **(dense_params or {}))
    dense = reuse_or_build(old.dense if old is not None else None, vectors, spec)
    return Index(
        passages=passages,
        dense=dense,
        keyword=keyword,
        manifest=describe(corpus, encoder, state, skipped, passages, all_sentences, dense, keyword, with_sentences),
        folder=Path(),
        vectors=blocks,
        sentence_vectors=all_sentences,
        sentence_offsets=offsets,
        encoded=len(new_passages),
    ).recorded(started, resumed)


def _read_new(state: dict, unreadable: dict, *, skip: set[str]) -> tuple[dict[str, list[Passage]], dict[str, str]]:
    """Passages of each file not in ``skip``, and why each file that gave none was skipped."""
    fresh: dict[str, list[Passage]] = {}
    skipped: dict[str, str] = dict(unreadable)
    for source in sorted(state):
        if source in skip:
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
    return fresh, skipped


def _keyword_index(
    fresh: dict[str, list[Passage]], reused: dict[str, object], order: list[str], vocab: dict[str, int]
) -> tuple[KeywordIndex, object]:
    """The keyword index of all files in ``order`` (new files tokenized, others' term counts reused), and
    the new files' term counts."""
    new_passages = [p for ps in fresh.values() for p in ps]
    term_counts = count_terms(tokenize_many([keyword_text(p) for p in new_passages]), vocab)
    blocks, cursor = dict(reused), 0
    for source, ps in fresh.items():
        blocks[source] = term_counts[cursor : cursor + len(ps)]
        cursor += len(ps)
    logger.info("Building the keyword index of %d passages", sum(blocks[s].shape[0] for s in order))
    counts = stack_counts([blocks[s] for s in order], len(vocab))
    return KeywordIndex.from_counts(counts, vocab, segment_rows=segment_rows(counts.shape[0])), term_counts


def _fit_sentences(units: dict[str, _FileUnit], wanted: bool, *, had: bool) -> None:
    """Drop reused sentence vectors that are no longer wanted; mark those wanted but never made (None)."""
    for unit in units.values():
        if not wanted:
            unit.sentence_vectors = unit.sentence_vectors[:0]
            unit.sentence_counts = np.zeros(len(unit.passages), dtype=np.int64)
        elif not had:
            unit.sentence_vectors = None
