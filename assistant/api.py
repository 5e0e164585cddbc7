"""The Python API that the CLI and the web chat both use."""

from __future__ import annotations

import logging
import math
import os
import threading
from collections.abc import Sequence
from pathlib import Path

from .answer import best_sentences, make_answer
from .encoder import Encoder
from .errors import QuestionError
from .records import Answer, Hit
from .retriever import DEFAULT_ALPHA, DEFAULT_THRESHOLD, check_top_k, clean_question, make_query, retrieve
from .store import Index, open_index

logger = logging.getLogger(__name__)

CORPUS_ENV = "ASSISTANT_CORPUS"


def default_corpus() -> Path:
    """``$ASSISTANT_CORPUS``, else ``seeds/`` beside the package (or in the current folder)."""
    if os.environ.get(CORPUS_ENV):
        return Path(os.environ[CORPUS_ENV])
    beside = Path(__file__).resolve().parent.parent / "seeds"
    return beside if beside.is_dir() else Path("seeds")


class Assistant:
    """Answers questions from a folder of documents, with citations.

    Args:
        corpus: folder (or file) of documents; default ``seeds/``.
        model: embedding model alias or local path; default ``$ASSISTANT_MODEL`` or the bundled USE.
        index_root: where indexes are saved; default ``$ASSISTANT_INDEX_DIR`` or ``embeddings/``.
        top_k: passages per answer.
        alpha: weight of dense similarity against keyword score (0 keyword only, 1 dense only).
        threshold: fused score under which the assistant says nothing relevant was found.
        encoder: an ``Encoder`` to use instead of loading ``model`` (tests pass a fake one).

    Example:
        >>> bot = Assistant("seeds")
        >>> bot.ask("世界互联网大会国际组织是什么时候成立的?").hits[0].passage.paragraph
        15
    """

    def __init__(
        self,
        corpus: str | Path | None = None,
        *,
        model: str | None = None,
        index_root: str | Path | None = None,
        top_k: int = 5,
        alpha: float = DEFAULT_ALPHA,
        threshold: float = DEFAULT_THRESHOLD,
        dense_kind: str = "auto",
        progress: bool = False,
        encoder: Encoder | None = None,
    ):
        self.corpus = Path(corpus) if corpus else default_corpus()
        self.encoder = encoder or Encoder(model)
        self.index_root = Path(index_root) if index_root else None
        self.top_k = check_top_k(top_k)
        self.alpha = _number(DEFAULT_ALPHA if alpha is None else alpha, _ALPHA_MESSAGE)
        self.threshold = _number(DEFAULT_THRESHOLD if threshold is None else threshold, _THRESHOLD_MESSAGE)
        self.dense_kind = dense_kind
        self.progress = progress
        self._index: Index | None = None
        self._lock = threading.RLock()

    @property
    def index(self) -> Index:
        """The corpus index, loaded (or built) on first use."""
        if self._index is None:
            self.refresh()
        return self._index

    def _searchable_index(self) -> Index:
        """The index, rebuilt if the model at the same name now gives vectors of another size."""
        index = self.index
        if index.manifest["dimension"] != self.encoder.dimension:
            logger.warning("The model %s changed since the index was built; rebuilding it.", self.encoder.name)
            index = self.refresh(rebuild=True)
        return index

    def refresh(self, *, rebuild: bool = False) -> Index:
        """Re-read the corpus folder: re-index changed files only, or everything with ``rebuild``."""
        with self._lock:
            index = open_index(
                self.corpus,
                self.encoder,
                root=self.index_root,
                rebuild=rebuild,
                dense_kind=self.dense_kind,
                progress=self.progress,
            )
            self._index = index
            return index

    def search(
        self, questions: Sequence[str], *, top_k: int | None = None, alpha: float | None = None
    ) -> list[list[Hit]]:
        """Ranked passages for each question (no follow-up handling, no threshold)."""
        queries = [clean_question(q) for q in questions]
        return retrieve(
            self._searchable_index(),
            self.encoder,
            queries,
            k=self.top_k if top_k is None else top_k,
            alpha=self._alpha(alpha),
        )

    def ask(
        self,
        question: str,
        history: Sequence[str] = (),
        *,
        top_k: int | None = None,
        alpha: float | None = None,
        threshold: float | None = None,
    ) -> Answer:
        """Answer one question; ``history`` holds the earlier questions of the chat, oldest first."""
        question = clean_question(question)
        query = make_query(question, history)
        k = check_top_k(top_k if top_k is not None else self.top_k)
        hits = retrieve(self._searchable_index(), self.encoder, [query], k=k, alpha=self._alpha(alpha))[0]
        limit = self.threshold if threshold is None else _number(threshold, _THRESHOLD_MESSAGE)
        found = bool(hits) and hits[0].score >= limit
        if found:
            hits = best_sentences(hits, question, self.encoder)
        return make_answer(question, hits, found=found, search_query=query.text)

    def _alpha(self, alpha: float | None) -> float:
        if alpha is None:
            return self.alpha
        return _number(alpha, _ALPHA_MESSAGE)


_ALPHA_MESSAGE = "The keyword/dense balance (alpha) must be a number between 0 and 1"
_THRESHOLD_MESSAGE = "The not-found threshold must be a finite number, e.g. 0.2"


def _number(value, message: str) -> float:
    """A finite real number, or a ``QuestionError`` saying what is expected."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise QuestionError(f"{message}; got {value!r}.")
    return float(value)
