"""The index kept in Milvus (Lite, Standalone, Distributed or Zilliz): passages with their citations and
vectors, their sentences' vectors, and the manifest, in three collections; the keyword side is the assistant's
own BM25, built in memory from the passages read back (the client calls are in ``milvus_client``)."""

from __future__ import annotations

import logging
import os
import tempfile
import time
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path

import numpy as np

from ..encoders import Encoder
from ..errors import CorpusError, MilvusStoreError
from ..keyword import KeywordIndex
from ..records import Passage
from ..text import CHUNKING, encoder_jobs, keyword_text, sentence_spans, split_rows
from . import checkpoint
from .changes import corpus_files, file_state
from .milvus_client import (
    BATCH,
    INT_FIELDS,
    TEXT_FIELDS,
    URI_ENV,
    MilvusStore,
    Names,
    check_uri,
    collection_name,
    passage_id,
    quoted,
)
from .reading import read_new
from .sentences import SentenceBlock, SentenceVectors
from .settings import IndexSettings
from .versions import Index, traditional_sample

logger = logging.getLogger(__name__)


class MilvusDense:
    """The dense side searched in a Milvus collection; ids are the rows of the in-memory passages (DenseSide)."""

    kind = "milvus"

    def __init__(self, store: MilvusStore, name: str, ids: list[str], dimension: int):
        self.store, self.name, self.dimension = store, name, dimension
        self.ids = list(ids)
        self.rows = {pid: row for row, pid in enumerate(self.ids)}
        self.params = {"index": "AUTOINDEX", "metric": "IP"}

    @property
    def size(self) -> int:
        return len(self.ids)

    def search(self, queries: np.ndarray, *, k: int = 50) -> tuple[np.ndarray, np.ndarray]:
        """Top ``k`` (rows, inner products) per query; rows are -1 where fewer exist."""
        k = max(1, min(k, self.size or 1))
        ids = np.full((len(queries), k), -1, dtype=np.int64)
        scores = np.zeros((len(queries), k), dtype=np.float32)
        if not self.size:
            return ids, scores
        for q, hits in enumerate(self.store.search(self.name, queries, k)):
            for j, (pid, score) in enumerate(hits[:k]):
                ids[q, j], scores[q, j] = self.rows.get(pid, -1), score
        return ids, scores

    def add(self, vectors: np.ndarray) -> None:
        raise MilvusStoreError(
            "Rows are added to Milvus by indexing their files; run: python -m assistant index --milvus URI"
        )

    def delete(self, rows: np.ndarray) -> None:
        raise MilvusStoreError(
            "Rows leave Milvus when their files are re-indexed; run: python -m assistant index --milvus URI"
        )

    def count(self) -> int:
        return self.store.count(self.name)

    def describe(self) -> dict:
        return {"kind": self.kind, "metric": "inner_product", "params": dict(self.params)}

    def saved_bytes(self) -> int:
        return 0  # kept by Milvus, not on this machine's disk


def open_milvus_index(
    corpus: Path,
    encoder: Encoder,
    uri: str,
    *,
    rebuild: bool = False,
    settings: IndexSettings | None = None,
    progress: bool = False,
    extra: Mapping[str, Path] | None = None,
) -> Index:
    """Bring the Milvus collection of ``corpus`` up to date (only new, changed or deleted files are touched)
    and load it as an in-memory ``Index`` whose dense side searches Milvus.

    Raises:
        CorpusError: the corpus has no readable documents.
        MilvusStoreError: Milvus cannot be reached or used, or the collection was built with another model.
    """
    started = time.perf_counter()
    address, named = check_uri(uri)
    files = corpus_files(Path(corpus), extra)
    if not files:
        raise CorpusError(f"No documents in {corpus}; put documents there or pass another folder.", wrong_folder=True)
    names = Names(named or collection_name(Path(corpus), encoder.name))
    store = MilvusStore(address)
    old = None if rebuild else store.manifest(names)
    if old is not None:
        _check_model(old, encoder, names.passages, address)
    state, unreadable = file_state(files, Path(corpus), old)
    settings = settings or IndexSettings()
    with_sentences = settings.sentences_wanted(cheap=encoder.pools_spans)
    if old is not None and (old.get("chunking") != CHUNKING or old.get("sentence_vectors") != with_sentences):
        old = None  # other settings: everything is written again
    if old is None:
        store.drop(names)
    store.create(names, encoder.dimension)
    known = (old or {}).get("files", {})
    held = set(known) - set((old or {}).get("skipped", {}))
    changed = {s for s in state if s not in known or known[s]["sha256"] != state[s]["sha256"]}
    gone = held - set(state)
    fresh, skipped = read_new(state, unreadable, skip=set(state) - changed)
    skipped.update({s: why for s, why in (old or {}).get("skipped", {}).items() if s in state and s not in changed})
    encoded = _write_files(store, names, encoder, fresh, (changed | gone) & held, with_sentences, progress)
    index = load_milvus_index(store, names, encoder, address)
    files_now = {s: {k: v for k, v in e.items() if k not in ("path", "root")} for s, e in state.items()}
    if old is None or changed or gone or skipped != old.get("skipped", {}):
        index.manifest = _describe(index, encoder, corpus, f"{address} collection {names.passages}", started)
        index.manifest.update(files=files_now, skipped=skipped, sentence_vectors=with_sentences)
        store.write_manifest(names, index.manifest)  # last: an interrupted update is redone from the old one
    else:
        index.manifest = {**old, "files": files_now}
    index.encoded = encoded
    if encoded or gone:
        logger.info("Updated %s: %d passages (%d encoded)", names.passages, len(index.passages), encoded)
    return index


def _describe(index: Index, encoder: Encoder, corpus: Path, location: str, started: float) -> dict:
    """What the manifest records of the collection's contents (the caller adds files, skipped, sentence_vectors)."""
    return {
        "store": "milvus",
        "location": location,
        "model": encoder.name,
        "dimension": int(encoder.dimension),
        "corpus": str(Path(corpus).resolve()),
        "passages": len(index.passages),
        "sentences": int(len(index.sentence_vectors)),
        "traditional_share": traditional_sample(index.passages),
        "chunking": CHUNKING,
        "dense": index.dense.describe(),
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "build_seconds": round(time.perf_counter() - started, 3),
    }


def _check_model(manifest: dict, encoder: Encoder, name: str, address: str) -> None:
    if manifest.get("model") != encoder.name or manifest.get("dimension") != encoder.dimension:
        raise MilvusStoreError(
            f"Collection {name} in {address} was built with model {manifest.get('model')} "
            f"(dimension {manifest.get('dimension')}); use that model or another collection."
        )


def _write_files(store, names: Names, encoder, fresh: dict, replaced: set[str], with_sentences: bool, progress) -> int:
    """Per file: its old rows deleted by source, then its new rows upserted (ids are deterministic)."""
    for source in sorted(replaced | set(fresh)):
        expression = f"source == {quoted(source)}"
        ids = [r["id"] for r in store.rows(names.passages, ["id"], expression)]
        store.delete(names.passages, expression)
        for start in range(0, len(ids), BATCH):
            listed = ", ".join(quoted(i) for i in ids[start : start + BATCH])
            store.delete(names.sentences, f"passage in [{listed}]")
    if not fresh:
        return 0
    spans = {s: [sentence_spans(p) if with_sentences else [] for p in ps] for s, ps in fresh.items()}
    work = Path(tempfile.mkdtemp(prefix="assistant-milvus-"))
    try:
        encoded, _ = checkpoint.encode_resumable(encoder_jobs(fresh, spans), encoder, work, progress=progress)
    finally:
        checkpoint.clear(work)
    for source, ps in fresh.items():
        vectors, sentence_rows, counts = split_rows(encoded[source], spans[source])
        rows, sentences, first = [], [], 0
        for position, (p, vector, n) in enumerate(zip(ps, vectors, counts, strict=True)):
            pid = passage_id(p)
            rows.append({"id": pid, "vector": vector.tolist(), "position": position, **passage_fields(p)})
            sentences += [
                {"id": f"{pid}/{i}", "passage": pid, "number": i, "vector": sentence_rows[first + i].tolist()}
                for i in range(int(n))
            ]
            first += int(n)
        store.upsert(names.passages, rows)
        store.upsert(names.sentences, sentences)
    store.flush(names.passages)
    store.flush(names.sentences)
    return sum(len(ps) for ps in fresh.values())


def passage_fields(p: Passage) -> dict:
    values = asdict(p)
    return {k: values[k] for k in (*TEXT_FIELDS, *INT_FIELDS)}


def load_milvus_index(store: MilvusStore, names: Names, encoder: Encoder, address: str) -> Index:
    """The collection's passages (sorted by file, then reading order), their vectors and sentence vectors, and
    a BM25 index over them in memory; the dense side searches Milvus."""
    fields = ["id", "vector", "position", *TEXT_FIELDS, *INT_FIELDS]
    rows = sorted(store.rows(names.passages, fields), key=lambda r: (r["source"], r["position"]))
    passages = [Passage(**{k: r[k] for k in (*TEXT_FIELDS, *INT_FIELDS)}) for r in rows]
    dimension = encoder.dimension
    vectors = np.array([r["vector"] for r in rows], dtype=np.float32).reshape(len(rows), dimension)
    by_passage: dict[str, list[tuple[int, list[float]]]] = {}
    for r in store.rows(names.sentences, ["passage", "number", "vector"]):
        by_passage.setdefault(r["passage"], []).append((r["number"], r["vector"]))
    groups = [sorted(by_passage.get(r["id"], [])) for r in rows]
    counts = np.array([len(g) for g in groups], dtype=np.int64)
    sentence_rows = np.array([v for g in groups for _, v in g], dtype=np.float32).reshape(-1, dimension)
    sentences = SentenceVectors([SentenceBlock.of(sentence_rows, counts)], dimension)  # kept as 8-bit codes
    keyword = KeywordIndex.build([keyword_text(p) for p in passages])
    return Index(
        passages=passages,
        dense=MilvusDense(store, names.passages, [r["id"] for r in rows], dimension),
        keyword=keyword,
        manifest={},
        folder=Path(address),
        vectors=vectors,
        sentence_vectors=sentences,
    )


def milvus_uri(flag: str | None = None) -> str | None:
    """``--milvus``, else ``$ASSISTANT_MILVUS_URI``, else None (the local store)."""
    return flag or os.environ.get(URI_ENV) or None
