"""Search settings as one validated record, and the not-found policy that every front end shares."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

from ..errors import QuestionError
from ..records import Hit

DEFAULT_TOP_K = 5
DEFAULT_ALPHA = 0.5
# The least calibrated probability that the best passage answers the question (see ``calibration``); chosen on
# the tuning halves (eval/calibrate.py sweep): the highest that answers the seed's 37 user-style tuning questions
# as often as the former rule (fused score >= 0.2) did, 0.865, while refusing far more off-topic questions.
DEFAULT_THRESHOLD = 0.3
MAX_TOP_K = 50
# Where an encoder's cosines start to mean something: e5-small scores unrelated text about 0.75, so its cosine is
# stretched from this floor, (cos - floor) / (1 - floor), before it is fused with BM25 (``retriever.fuse``). Chosen
# on the tuning halves (eval/fusion.py, alpha 0.5, four sets with 89 seed tuning questions: mean hit@1 0.888 at
# floor 0, 0.889 at 0.6, 0.876 at 0.7; the seed's 0.764 / 0.764 / 0.708). With 39 seed questions 0.7 had looked best.
DENSE_FLOORS = {"multilingual-e5-small": 0.6}


# Weight of a cross-language question's word-by-word translation (``KeywordIndex.translation``) in its dense score
# for the passages in the other language (``retriever.translation``); encoders not listed take none. e5 scores a
# passage in the question's own language well above one in the other (the seed beside 40 Chinese and 8 English
# Wikipedia files: the right passage first for 2 of its 23 English tuning questions); the translation meets the
# passages in their own language. Chosen on the seed's tuning half, alone and beside two
# mixed folders (questions ranked first, of 3 × 63, against none: +10 at 0.3, +20 at 0.5, +21 at 0.7, which loses
# the seed alone's gain). USE, trained to align languages, lost 1 at 0.3 (README, *Questions in the other language*).
TRANSLATION_WEIGHTS = {"multilingual-e5-small": 0.5}


def translation_weight(encoder_name: str) -> float:
    """How much a cross-language question's translation counts for ``encoder_name`` (0: not made)."""
    return TRANSLATION_WEIGHTS.get(encoder_name, 0.0)


def dense_floor(encoder_name: str) -> float:
    """The cosine ``encoder_name``'s similarities are measured from (0 for encoders not listed)."""
    return DENSE_FLOORS.get(encoder_name, 0.0)


@dataclass(frozen=True)
class SearchSettings:
    """How to search: passages per answer, dense weight against keywords, and the not-found threshold (the least
    probability, 0 to 1, that a passage answers the question for it to be cited; 0 cites every passage).

    Checked once, when made, with one message per setting (the web page shows them in its language).
    """

    top_k: int = DEFAULT_TOP_K
    alpha: float = DEFAULT_ALPHA
    threshold: float = DEFAULT_THRESHOLD

    def __post_init__(self):
        k = self.top_k
        if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= MAX_TOP_K:
            raise QuestionError(f"The number of passages must be a whole number from 1 to {MAX_TOP_K}; got {k!r}.")
        if not _real(self.alpha) or not 0.0 <= self.alpha <= 1.0:
            raise QuestionError(
                f"The keyword/dense balance (alpha) must be a number between 0 and 1; got {self.alpha!r}."
            )
        if not _real(self.threshold) or not 0.0 <= self.threshold <= 1.0:
            raise QuestionError(
                f"The not-found threshold is the least probability that a passage answers; give a number between "
                f"0 and 1, e.g. {DEFAULT_THRESHOLD}; got {self.threshold!r}."
            )
        object.__setattr__(self, "alpha", float(self.alpha))
        object.__setattr__(self, "threshold", float(self.threshold))

    def but(self, *, top_k=None, alpha=None, threshold=None) -> SearchSettings:
        """These settings with the ones given (not None) changed, checked."""
        changes = {k: v for k, v in (("top_k", top_k), ("alpha", alpha), ("threshold", threshold)) if v is not None}
        return replace(self, **changes) if changes else self


def _real(value) -> bool:
    return not isinstance(value, bool) and isinstance(value, int | float) and math.isfinite(value)


def check_top_k(k) -> int:
    """``k`` if it is a valid number of passages, else the one sentence saying what it must be."""
    return SearchSettings(top_k=k).top_k


def relevant(hits: Sequence[Hit], threshold: float) -> list[Hit]:
    """The not-found policy: no hit when the best one's calibrated probability (``Hit.confidence``, set by
    ``calibrate``) is under ``threshold``; otherwise the best one and every other that reaches it (no filler
    cards). The chat, ``/ask``, the CLI and ``eval`` all go through here."""
    if not hits or hits[0].confidence < threshold:
        return []
    return [hit for n, hit in enumerate(hits) if n == 0 or hit.confidence >= threshold]
