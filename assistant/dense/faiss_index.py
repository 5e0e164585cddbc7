"""The dense index: FAISS inner product over normalised vectors, exact while cheap, else approximate."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)

# Exact search reads every vector per query (memory bound: 50k x 512 floats is 100 MB, a few ms);
# beyond that an inverted file over 8-bit scalar-quantised vectors scans a few percent of a quarter
# of the bytes. With the exact re-scoring of its 100 candidates that the retriever does, recall@10 against
# exact search is >= 0.95 at these defaults (0.99 at 1M passages: tests/test_scale.py, benchmarks/scale.py).
EXACT_LIMIT = 50_000
KINDS = ("flat", "ivf", "hnsw")


@dataclass(frozen=True)
class DenseSpec:
    """Which FAISS index and with which parameters; recorded in the manifest, overridable."""

    kind: str
    params: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"kind": self.kind, "params": dict(self.params)}


def choose_kind(size: int, kind: str = "auto") -> str:
    """``flat`` (exact) up to ``EXACT_LIMIT`` vectors, ``ivf`` (IVF + 8-bit scalar quantisation) beyond."""
    if kind != "auto":
        if kind not in KINDS:
            raise ValueError(f"unknown dense index kind {kind!r}; use auto, {', '.join(KINDS)}")
        return kind
    return "flat" if size <= EXACT_LIMIT else "ivf"


def choose_spec(size: int, kind: str = "auto", **overrides) -> DenseSpec:
    """The index kind for ``size`` vectors and its parameters (``overrides`` win)."""
    kind = choose_kind(size, kind)
    if kind == "ivf":
        nlist = max(16, int(round(math.sqrt(max(size, 1)))))
        params = {"nlist": nlist, "nprobe": max(16, nlist // 40), "quantizer": "sq8"}
    elif kind == "hnsw":
        params = {"m": 32, "ef_construction": 80, "ef_search": 128}
    else:
        params = {}
    params.update({k: v for k, v in overrides.items() if v is not None})
    return DenseSpec(kind, params)


class DenseIndex:
    """A FAISS index of passage vectors; row ``i`` is passage ``i``."""

    def __init__(self, index, kind: str, params: dict | None = None):
        self.index = index
        self.kind = kind
        self.params = dict(params or {})

    @property
    def size(self) -> int:
        return int(self.index.ntotal)

    @property
    def dimension(self) -> int:
        return int(self.index.d)

    @property
    def spec(self) -> DenseSpec:
        return DenseSpec(self.kind, self.params)

    @classmethod
    def build(
        cls, vectors: np.ndarray, *, kind: str = "auto", spec: DenseSpec | None = None, **overrides
    ) -> DenseIndex:
        """Index ``vectors`` (already L2-normalised float32 rows)."""
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        spec = spec or choose_spec(len(vectors), kind, **overrides)
        dense = cls(_new_index(spec, vectors.shape[1], vectors), spec.kind, spec.params)
        dense.add(vectors)
        return dense

    def emptied(self) -> DenseIndex:
        """The same kind of index with no vectors; a trained IVF keeps its centroids."""
        import faiss

        if self.kind != "ivf":
            index = faiss.clone_index(self.index)
        else:
            # FAISS cannot clone memory-mapped lists: clone with empty ones lent for the moment.
            ivf = faiss.extract_index_ivf(self.index)
            lists, owned = ivf.invlists, ivf.own_invlists
            ivf.own_invlists = False
            empty = faiss.ArrayInvertedLists(ivf.nlist, ivf.code_size)
            ivf.replace_invlists(empty, False)
            try:
                index = faiss.clone_index(self.index)
            finally:
                ivf.replace_invlists(lists, owned)
        index.reset()
        return DenseIndex(index, self.kind, self.params)

    def extended(
        self,
        vectors: np.ndarray,
        *,
        saved: Path | None = None,
        nprobe: int | None = None,
        dropped: np.ndarray | None = None,
    ) -> DenseIndex:
        """A new index: this one's vectors without the rows ``dropped`` (ascending; later rows move up), then
        ``vectors``. This one is left as it is (questions may be searching it); ``saved``, the file it was
        loaded from, gives a writable copy of a memory-mapped one."""
        import faiss

        try:
            index = faiss.read_index(str(saved)) if saved is not None else None
        except RuntimeError:
            index = None
        if index is None or index.ntotal != self.size:  # no file: copy the one in memory (FAISS cannot
            index = faiss.clone_index(self.index)  # clone memory-mapped lists, but a mapped index has its file)
        if dropped is not None and len(dropped):
            _remove_rows(index, self.kind, np.asarray(dropped, dtype=np.int64))
        params = {**self.params, **({"nprobe": nprobe} if nprobe is not None and self.kind == "ivf" else {})}
        dense = DenseIndex(index, self.kind, params)
        dense._apply_search_params()
        dense.add(vectors)
        return dense

    def add(self, vectors: np.ndarray, *, batch: int = 65_536) -> None:
        """Append rows (they get the next row numbers)."""
        for start in range(0, len(vectors), batch):
            self.index.add(np.ascontiguousarray(vectors[start : start + batch], dtype=np.float32))

    def search(self, queries: np.ndarray, *, k: int = 50) -> tuple[np.ndarray, np.ndarray]:
        """Top ``k`` (ids, cosine scores) per query row; ids are -1 where fewer exist."""
        k = max(1, min(k, self.size))
        if self.size == 0:
            n = len(queries)
            return np.full((n, 1), -1, dtype=np.int64), np.zeros((n, 1), dtype=np.float32)
        scores, ids = self.index.search(np.ascontiguousarray(queries, dtype=np.float32), k)
        return ids, scores

    def delete(self, rows: np.ndarray) -> None:
        """Remove ``rows`` (the rows after each move up, as passages' rows do)."""
        _remove_rows(self.index, self.kind, np.sort(np.asarray(rows, dtype=np.int64)))

    def count(self) -> int:
        return self.size

    def describe(self) -> dict:
        return {"kind": self.kind, "metric": "inner_product", "params": dict(self.params)}

    def saved_bytes(self) -> int:
        """About the size of the file ``save`` writes: the vectors' codes, HNSW's links, IVF's ids and centroids."""
        rows, dimension = self.size, self.dimension
        if self.kind == "ivf":
            code = dimension if self.params.get("quantizer", "sq8") == "sq8" else 4 * dimension
            return rows * (code + 8) + self.params.get("nlist", 0) * dimension * 4
        links = 8 * self.params.get("m", 0) if self.kind == "hnsw" else 0
        return rows * (4 * dimension + links)

    def save(self, path: Path) -> None:
        import faiss

        faiss.write_index(self.index, str(path))

    @classmethod
    def load(cls, path: Path, kind: str, params: dict | None = None, *, mmap: bool = False) -> DenseIndex:
        """Read a saved index; ``mmap`` leaves the (IVF lists or flat) codes on disk, paged in on use."""
        import faiss

        # IVF maps its inverted lists, flat and HNSW their vector codes (FAISS refuses both flags at once).
        flags = (
            (faiss.IO_FLAG_MMAP if kind == "ivf" else faiss.IO_FLAG_MMAP_IFC) | faiss.IO_FLAG_READ_ONLY if mmap else 0
        )
        dense = cls(faiss.read_index(str(path), flags), kind, params)
        dense._apply_search_params()
        return dense

    def _apply_search_params(self) -> None:
        import faiss

        if self.kind == "ivf":
            faiss.extract_index_ivf(self.index).nprobe = int(self.params.get("nprobe", 16))
        elif self.kind == "hnsw":
            faiss.downcast_index(self.index).hnsw.efSearch = int(self.params.get("ef_search", 128))


def reuse_or_build(old: DenseIndex | None, vectors: np.ndarray, spec: DenseSpec) -> DenseIndex:
    """The index of ``vectors``; an IVF index of similar size keeps its trained centroids (no k-means again)."""
    if old is not None and old.kind == spec.kind == "ivf" and 0.5 <= spec.params["nlist"] / old.params["nlist"] <= 2:
        params = {**old.params, **{k: v for k, v in spec.params.items() if k == "nprobe"}}
        dense = DenseIndex(old.emptied().index, "ivf", params)
        dense._apply_search_params()
        dense.add(np.ascontiguousarray(vectors, dtype=np.float32))
        return dense
    return DenseIndex.build(vectors, spec=spec)


def _remove_rows(index, kind: str, rows: np.ndarray) -> None:
    """Remove ``rows`` (ascending) from a FAISS index; the rows after each move up, as passages' rows do."""
    import faiss

    if kind == "flat":
        index.remove_ids(faiss.IDSelectorBatch(rows))  # a flat index renumbers what follows itself
        return
    if kind != "ivf":
        raise ValueError(f"rows cannot be removed from a {kind} index; rebuild it")
    ivf = faiss.extract_index_ivf(index)
    ivf.remove_ids(faiss.IDSelectorBatch(rows))
    lists = ivf.invlists
    for number in range(ivf.nlist):
        size = lists.list_size(number)
        if not size:
            continue
        ids = faiss.rev_swig_ptr(lists.get_ids(number), size).copy()
        moved = ids - np.searchsorted(rows, ids)
        if (moved != ids).any():
            codes = faiss.rev_swig_ptr(lists.get_codes(number), size * lists.code_size).copy()
            lists.update_entries(number, 0, size, faiss.swig_ptr(moved), faiss.swig_ptr(codes))


def _new_index(spec: DenseSpec, dimension: int, sample: np.ndarray):
    """An empty FAISS index of ``spec``, trained on ``sample`` where the kind needs training."""
    import faiss

    p = spec.params
    if spec.kind == "flat":
        return faiss.IndexFlatIP(dimension)
    if spec.kind == "hnsw":
        index = faiss.IndexHNSWFlat(dimension, int(p["m"]), faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = int(p["ef_construction"])
        index.hnsw.efSearch = int(p["ef_search"])
        return index
    nlist = int(p["nlist"])
    quantizer = faiss.IndexFlatIP(dimension)
    if p.get("quantizer", "sq8") == "sq8":
        index = faiss.IndexIVFScalarQuantizer(
            quantizer, dimension, nlist, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT
        )
    else:
        index = faiss.IndexIVFFlat(quantizer, dimension, nlist, faiss.METRIC_INNER_PRODUCT)
    # k-means on a sample: FAISS wants >= 39 points per list; more buys little and costs time.
    rng = np.random.default_rng(0)
    n = min(len(sample), 64 * nlist)
    rows = np.sort(rng.choice(len(sample), n, replace=False)) if n < len(sample) else np.arange(len(sample))
    index.train(np.ascontiguousarray(sample[rows], dtype=np.float32))
    index.nprobe = int(p["nprobe"])
    return index


def recall_at(approx: DenseIndex, vectors: np.ndarray, queries: np.ndarray, k: int = 10) -> float:
    """Share of the exact top ``k`` (inner product over ``vectors``) that ``approx`` also returns."""
    exact = DenseIndex.build(vectors, kind="flat")
    truth, _ = exact.search(queries, k=k)
    found, _ = approx.search(queries, k=k)
    return float(np.mean([len(set(t) & set(f)) / k for t, f in zip(truth, found, strict=True)]))
