"""How an index is built, as one validated record: the dense index's kind and parameters, sentence vectors,
segment sizes. Checked once, when made; recorded in the manifest where a change must rebuild."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..dense import KINDS
from ..errors import SettingsError

# Passages per segment of keyword term counts, vectors and saved passages (at least; at most ~16 segments:
# each costs a query ~0.05 ms of BM25). Beyond ``MAX_SEGMENTS`` small segments at the end, an update merges them.
SEGMENT_ROWS = 20_000
MAX_SEGMENTS = 8
SENTENCE_SETTINGS = ("auto", "on", "off")
DENSE_PARAMS = {"flat": (), "ivf": ("nlist", "nprobe"), "hnsw": ("m", "ef_construction", "ef_search")}


@dataclass(frozen=True)
class IndexSettings:
    """How to build an index.

    Args:
        dense_kind: ``auto`` (exact up to 50k passages, then IVF with 8-bit codes), ``flat``, ``ivf`` or ``hnsw``.
        dense_params: overrides of the dense index's parameters (``nlist``, ``nprobe``; ``m``, ``ef_search`` …).
        sentence_vectors: ``auto`` (with an encoder that pools them from the passages' own pass, at any size:
            they are kept as 8-bit codes, ``storage.sentences``), ``on`` (any model) or ``off``.
        segment_rows, max_segments: see the module's constants.
    """

    dense_kind: str = "auto"
    dense_params: dict = field(default_factory=dict)
    sentence_vectors: str = "auto"
    segment_rows: int = SEGMENT_ROWS
    max_segments: int = MAX_SEGMENTS

    def __post_init__(self):
        if self.dense_kind not in ("auto", *KINDS):
            raise SettingsError(
                f"The dense index kind must be one of auto, {', '.join(KINDS)}; got {self.dense_kind!r}."
            )
        params = dict(self.dense_params or {})
        known = {p for names in DENSE_PARAMS.values() for p in names}
        for name, value in params.items():
            if name not in known or isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise SettingsError(
                    f"Dense index parameters are whole numbers from 1 named {', '.join(sorted(known))}; "
                    f"got {name}={value!r}."
                )
        object.__setattr__(self, "dense_params", params)
        if self.sentence_vectors not in SENTENCE_SETTINGS:
            raise SettingsError(f"sentence_vectors must be auto, on or off; got {self.sentence_vectors!r}.")
        for name in ("segment_rows", "max_segments"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise SettingsError(f"{name} must be a whole number from 1; got {value!r}.")

    def sentences_wanted(self, *, cheap: bool = True) -> bool:
        """Whether passages' sentences get vectors: ``on``, ``off``, or ``auto``: when they are ``cheap`` (the
        encoder pools them from the passages' own pass, ``Encoder.pools_spans``), whatever the index's size, so
        a large upload never switches sentence-level matching off for the rest. A model that cannot pool them
        encodes each sentence on its own, which more than doubles the build (all-MiniLM-L6-v2 on the CMRC
        benchmark: 21 -> 47 s, hit@1 0.79 -> 0.88): that is ``on``'s to ask for."""
        setting = self.sentence_vectors
        return setting == "on" or (setting == "auto" and cheap)

    def rows_per_segment(self, passages: int) -> int:
        """Passages per segment for an index of ``passages`` (at most ~16 segments)."""
        return max(self.segment_rows, -(-passages // 16))
