"""Update a saved index segment by segment: keep the segments that lose no passage, rewrite those
that lose some, put new and changed files' passages in a new one."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from ..encoders import Encoder
from ..keyword import KeywordIndex, count_terms, plan_segments, tokenize_many
from ..records import Passage
from ..text import encoder_jobs, keyword_text, sentence_spans, split_rows, stack_rows
from . import checkpoint
from .passage_files import kept_and_added
from .sentences import SentenceBlock, SentenceVectors
from .settings import IndexSettings
from .versions import PASSAGE_BYTES, Index, describe, traditional_sample
from .write_errors import folder_bytes

logger = logging.getLogger(__name__)

# Passages, vectors and term counts are stored in segments (``IndexSettings.rows_per_segment``); an update
# rewrites only the segments that lose passages and adds one for new files. A more fragmented index than this
# is rewritten in full by the next update.
MAX_ALL_SEGMENTS = 64


def updatable(old: Index, with_sentences: bool, spec, *, dropping: bool) -> bool:
    """Whether ``old`` can be updated segment by segment: same sentence setting, same kind of dense index
    (an IVF index of about the right size keeps its centroids; HNSW cannot drop rows), not too fragmented."""
    if old.manifest.get("sentence_vectors") != with_sentences or old.dense.kind != spec.kind:
        return False
    if len(old.segments) > MAX_ALL_SEGMENTS or (dropping and spec.kind == "hnsw"):
        return False
    return spec.kind != "ivf" or 0.5 <= spec.params["nlist"] / old.dense.params["nlist"] <= 2


def update(
    old: Index,
    drop: np.ndarray,
    fresh,
    skipped,
    state,
    encoder: Encoder,
    spec,
    *,
    settings: IndexSettings,
    work: Path,
    progress,
    started,
) -> Index:
    """``old`` without its ``drop`` rows (deleted and changed files), with the passages of ``fresh`` (new
    and changed files) after its own: segments that lose no passage are shared with the new version
    (hard links), those that lose some are rewritten, the new passages make one new segment; the FAISS
    index drops and adds rows in a copy. The work is proportional to the change and the segments it touches.
    """
    with_sentences = bool(old.manifest.get("sentence_vectors"))
    new_passages = [p for ps in fresh.values() for p in ps]
    if new_passages:
        logger.info("Encoding %d passages with %s", len(new_passages), encoder.name)
    spans = {s: [sentence_spans(p) if with_sentences else [] for p in ps] for s, ps in fresh.items()}
    total = len(old.passages) - int(drop.sum()) + len(new_passages)
    parts = plan_segments(
        old.segments,
        drop,
        len(new_passages),
        segment_rows=settings.rows_per_segment(total),
        max_small=settings.max_segments,
    )
    with ThreadPoolExecutor(1, thread_name_prefix="keyword") as pool:  # as in _build
        keyword_job = pool.submit(_updated_keyword, old.keyword, parts, new_passages)
        try:
            reserve = len(new_passages) * PASSAGE_BYTES + folder_bytes(old.folder)  # at most: shared files are links
            jobs = encoder_jobs(fresh, spans)
            encoded, resumed = checkpoint.encode_resumable(jobs, encoder, work, progress=progress, reserve=reserve)
        except BaseException:
            keyword_job.cancel()
            raise
        keyword = keyword_job.result()
    rows = [split_rows(encoded[s], spans[s]) for s in fresh]
    dimension = encoder.dimension
    vectors = stack_rows([v for v, _, _ in rows], dimension)
    blocks_by_name = dict(zip((name for name, _ in old.segments), old.vector_blocks(), strict=True))
    blocks = [
        blocks_by_name[part.name]
        if part.name is not None
        else stack_rows([old.vector_rows(part.old_rows), vectors[slice(*part.new_rows)]], dimension)
        for part in parts
    ]
    new_sentences = SentenceBlock.joined([SentenceBlock.of(s, c) for _, s, c in rows], dimension)
    sentences_by_name = dict(zip((name for name, _ in old.segments), old.sentence_vectors.blocks, strict=True))
    sentence_vectors = SentenceVectors(
        [
            sentences_by_name[part.name]
            if part.name is not None
            else SentenceBlock.joined(
                [old.sentence_vectors.block_of(part.old_rows), new_sentences.passages(*part.new_rows)], dimension
            )
            for part in parts
        ],
        dimension,
    )
    kept = ~drop
    dense = old.dense.extended(
        vectors, saved=old.folder / "dense.faiss", nprobe=spec.params.get("nprobe"), dropped=np.flatnonzero(drop)
    )
    passages = kept_and_added(old.passages, kept, new_passages)
    corpus = old.manifest["corpus"]
    kept_rows = int(kept.sum())  # the script: the old share for the passages kept, the new passages' own
    traditional = (old.traditional * kept_rows + traditional_sample(new_passages) * len(new_passages)) / max(
        1, kept_rows + len(new_passages)
    )
    return Index(
        passages=passages,
        dense=dense,
        keyword=keyword,
        manifest=describe(
            corpus,
            encoder,
            state,
            skipped,
            passages,
            sentence_vectors,
            dense,
            keyword,
            with_sentences,
            traditional=traditional,
        ),
        folder=Path(),
        vectors=blocks,
        sentence_vectors=sentence_vectors,
        encoded=len(new_passages),
        shares=old.folder,
    ).recorded(started, resumed)


def _updated_keyword(old: KeywordIndex, parts, passages: list[Passage]) -> KeywordIndex:
    vocab = dict(old.vocab)
    counts = count_terms(tokenize_many([keyword_text(p) for p in passages]), vocab)
    logger.info("Building the keyword index of %d passages", sum(part.rows for part in parts))
    return old.rebuilt(parts, counts, vocab)
