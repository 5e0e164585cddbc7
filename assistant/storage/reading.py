"""What a build reads and counts anew: the new or changed files' passages, and the keyword index over all."""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

from ..errors import AssistantError
from ..keyword import KeywordIndex, count_terms, stack_counts, tokenize_many
from ..records import Passage
from ..text import CHUNKING, keyword_text, make_passages, read_document
from .changes import warn_skipped
from .settings import IndexSettings

logger = logging.getLogger(__name__)


def read_new(state: dict, unreadable: dict, *, skip: set[str]) -> tuple[dict[str, list[Passage]], dict[str, str]]:
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
            skipped[source] = str(exc)
            warn_skipped(skipped[source], *_ident(source, state[source]))
            continue
        if not doc.paragraphs:
            skipped[source] = f"{source} is empty; add text to it or remove it."
            warn_skipped(skipped[source], *_ident(source, state[source]))
            continue
        fresh[source] = make_passages(doc, **CHUNKING)
    return fresh, skipped


def _ident(source: str, entry: dict) -> tuple[str, str, str]:
    return str(entry.get("root", "")), source, str(entry.get("sha256", ""))


def keyword_index(
    fresh: dict[str, list[Passage]],
    reused: dict[str, object],
    order: list[str],
    vocab: dict[str, int],
    settings: IndexSettings,
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
    return KeywordIndex.from_counts(counts, vocab, segment_rows=settings.rows_per_segment(counts.shape[0])), term_counts
