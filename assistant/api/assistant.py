"""The Python API that the CLI and the web chat both use."""

from __future__ import annotations

import hashlib
import logging
import math
import os
import re
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..encoders import Encoder, make_encoder
from ..errors import AssistantError, QuestionError, UploadError
from ..records import Answer, DocumentInfo, Hit, Passage, UploadReport
from ..search import (
    DEFAULT_ALPHA,
    DEFAULT_THRESHOLD,
    best_sentences,
    check_top_k,
    clean_question,
    dense_text,
    earlier_questions,
    make_answer,
    make_query,
    retrieve,
)
from ..storage import Index, default_index_root, open_index
from ..text import (
    MAX_FILES_PER_UPLOAD,
    MAX_UPLOAD_BYTES,
    UPLOADS,
    check_size,
    sentence_vectors_by_text,
    store_upload,
    upload_path,
)
from .library import Library

logger = logging.getLogger(__name__)

CORPUS_ENV = "ASSISTANT_CORPUS"


def default_corpus() -> Path:
    """``$ASSISTANT_CORPUS``, else ``seeds/`` beside the package (or in the current folder)."""
    if os.environ.get(CORPUS_ENV):
        return Path(os.environ[CORPUS_ENV])
    beside = Path(__file__).resolve().parent.parent / "seeds"
    return beside if beside.is_dir() else Path("seeds")


def default_uploads(corpus: str | Path, index_root: str | Path | None = None) -> Path:
    """Where the web chat keeps documents uploaded for ``corpus``: ``<index root>/uploads/<corpus>-<hash>/``."""
    corpus = Path(corpus).resolve()
    key = hashlib.sha256(str(corpus).encode("utf-8", "surrogateescape")).hexdigest()[:10]
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", corpus.name)[:40]
    return Path(index_root or default_index_root()) / "uploads" / f"{slug}-{key}"


class Assistant:
    """Answers questions from a folder of documents, with citations.

    Args:
        corpus: folder (or file) of documents; default ``seeds/``.
        model: embedding model alias or local path; default ``$ASSISTANT_MODEL`` or the bundled USE.
        index_root: where indexes are saved; default ``$ASSISTANT_INDEX_DIR`` or ``embeddings/``.
        top_k: passages per answer.
        alpha: weight of dense similarity against keyword score (0 keyword only, 1 dense only).
        threshold: fused score under which the assistant says nothing relevant was found.
        dense_kind: FAISS index: ``auto`` (exact up to 50k passages, then IVF with 8-bit codes), ``flat``,
            ``ivf`` or ``hnsw``; ``dense_params`` overrides its parameters (``nlist``, ``nprobe``, ``m`` …).
        sentence_vectors: ``auto`` (up to 2,000 passages), ``on`` or ``off``: sentences' own vectors.
        encoder: an ``Encoder`` to use instead of loading ``model`` (tests pass a fake one).
        uploads: folder for documents added with :meth:`add_documents`, indexed with the corpus and
            cited as ``uploads/<name>``; None (the default) allows no uploads.

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
        dense_params: dict | None = None,
        sentence_vectors: str = "auto",
        progress: bool = False,
        encoder: Encoder | None = None,
        uploads: str | Path | None = None,
    ):
        self.corpus = Path(corpus) if corpus else default_corpus()
        self.encoder = encoder or make_encoder(model)
        self.index_root = Path(index_root) if index_root else None
        self.top_k = check_top_k(top_k)
        self.alpha = _number(DEFAULT_ALPHA if alpha is None else alpha, _ALPHA_MESSAGE)
        self.threshold = _number(DEFAULT_THRESHOLD if threshold is None else threshold, _THRESHOLD_MESSAGE)
        self.dense_kind = dense_kind
        self.dense_params = dense_params
        self.sentence_vectors = sentence_vectors
        self.progress = progress
        self.uploads = Path(uploads) if uploads else None
        self._index: Index | None = None
        self._documents: Library | None = None
        self._lock = threading.RLock()

    @property
    def index(self) -> Index:
        """The corpus index, loaded (or built) on first use; the previous saved index, with a warning, when
        the documents changed but the update cannot be written (full disk, read-only folder)."""
        if self._index is None:
            self.refresh(fallback=True)
        return self._index

    def _searchable_index(self) -> Index:
        """The index, rebuilt if the model at the same name now gives vectors of another size."""
        index = self.index
        if index.manifest["dimension"] != self.encoder.dimension:
            logger.warning("The model %s changed since the index was built; rebuilding it.", self.encoder.name)
            index = self.refresh(rebuild=True)
        return index

    def refresh(self, *, rebuild: bool = False, progress: bool | None = None, fallback: bool = False) -> Index:
        """Re-read the corpus folder: re-index changed files only, or everything with ``rebuild``.

        Questions asked meanwhile are answered from the previous index, which is swapped out at the end.
        An update that cannot be written removes what it wrote and raises ``IndexWriteError``; with
        ``fallback`` the previous saved index stays in use instead, with one warning saying why.
        """
        with self._lock:
            if self._index is not None:
                self._index.vector_blocks()  # map the old vectors before their folder is replaced
            index = open_index(
                self.corpus,
                self.encoder,
                root=self.index_root,
                rebuild=rebuild,
                dense_kind=self.dense_kind,
                dense_params=self.dense_params,
                sentence_vectors=self.sentence_vectors,
                current=self._index,
                progress=self.progress if progress is None else progress,
                extra={UPLOADS: self.uploads} if self.uploads else None,
                fallback=fallback,
            )
            self._index = index
            return index

    def warm_up(self) -> Index:
        """Load (or build) the index, the tokenizer and the documents list while the model loads in a
        background thread, so that neither the page nor the first question pays for them."""
        from ..keyword import tokenize

        model = threading.Thread(target=self._load_model, name="model-warm-up", daemon=True)
        model.start()
        try:
            index = self.index
            tokenize("预热 warm up")  # jieba-rs's dictionary and the OpenCC tables load on first use
            self.documents()  # the page lists them when it opens: a saved index's passage columns are read now
        finally:
            model.join()
        return index

    def load_models(self) -> None:
        """Load the encoder, FAISS and the keyword side's dictionaries (jieba-rs, OpenCC, CC-CEDICT) now instead
        of on first use: the first index build then measures building alone."""
        import faiss  # noqa: F401  (imported where used; this only moves its loading here)

        from ..keyword import load_dictionary, tokenize

        self.encoder.encode(["warm up"])
        tokenize("预热 warm up")
        load_dictionary()

    def _load_model(self) -> None:
        try:
            self.encoder.encode(["warm up"])
        except Exception:  # the same error is raised again, to the caller, on the next encode
            logger.debug("Model warm-up failed", exc_info=True)

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
        """Answer one question; ``history`` holds the earlier questions of the chat, oldest first (or its
        [question, answer] pairs or {"role", "content"} messages)."""
        question = clean_question(question)
        query = make_query(question, earlier_questions(history))
        k = check_top_k(top_k if top_k is not None else self.top_k)
        index = self._searchable_index()
        hits = retrieve(index, self.encoder, [query], k=k, alpha=self._alpha(alpha))[0]
        limit = self.threshold if threshold is None else _number(threshold, _THRESHOLD_MESSAGE)
        found = bool(hits) and hits[0].score >= limit
        if found:
            known = self._sentence_vectors(index, hits)
            hits = best_sentences(hits, dense_text(index, question), self.encoder, known=known)
        return make_answer(question, hits, found=found, search_query=query.text)

    def _alpha(self, alpha: float | None) -> float:
        if alpha is None:
            return self.alpha
        return _number(alpha, _ALPHA_MESSAGE)

    def documents(self) -> list[DocumentInfo]:
        """The documents in the index, by source: title, passage and paragraph counts, uploaded or not."""
        return self._library().documents(uploads=self.uploads is not None)

    def add_documents(
        self, files: Sequence[str | Path | tuple[str, bytes | Path]], *, progress: bool | None = None
    ) -> UploadReport:
        """Store files in the uploads folder and index them with the corpus (only they are encoded).

        Each file is a path, or a ``(name, bytes)`` or ``(name, path)`` pair. A file of the wrong type or size, with a path
        for a name, or that is not readable text is refused with the reason; the others are added. A
        file named like an earlier upload replaces it.

        Raises:
            UploadError: this assistant has no uploads folder, or too many files at once.
        """
        if self.uploads is None:
            raise UploadError("Uploads are off: start the assistant with an uploads folder (serve --uploads DIR).")
        if len(files) > MAX_FILES_PER_UPLOAD:
            raise UploadError(f"{len(files)} files at once; upload at most {MAX_FILES_PER_UPLOAD} at a time.")
        with self._lock:
            stored, refused = {}, []
            for item in files:
                name = item[0] if isinstance(item, tuple) else Path(item).name
                try:
                    stored[UPLOADS + "/" + self._store(item)] = name
                except AssistantError as exc:
                    refused.append((name, str(exc)))
            if stored:
                self.refresh(progress=progress)
            added = [d for d in self.documents() if d.source in stored]
            return UploadReport(added=tuple(added), refused=tuple(refused))

    def _store(self, item: str | Path | tuple[str, bytes | Path]) -> str:
        """One upload, checked and moved into the uploads folder; its file name there.

        A file on disk is read only after its size is checked, one at a time: an upload of 20 files holds one
        in memory, not all of them.
        """
        if isinstance(item, tuple) and isinstance(item[1], bytes | bytearray):
            return store_upload(self.uploads, item[0], bytes(item[1]))
        name, path = item if isinstance(item, tuple) else (Path(item).name, Path(item))
        try:
            check_size(name, Path(path).stat().st_size, MAX_UPLOAD_BYTES)
            data = Path(path).read_bytes()
        except OSError as exc:
            raise UploadError(f"{name} cannot be read ({exc.strerror or exc}); upload it again.") from exc
        return store_upload(self.uploads, name, data)

    def remove_document(self, source: str, *, progress: bool | None = None) -> None:
        """Delete an uploaded document (``uploads/<name>``) and drop it from the index.

        Raises:
            UploadError: the document was not uploaded, is not in the index, or is the last one.
        """
        if self.uploads is None:
            raise UploadError("Uploads are off, so there is nothing uploaded to remove.")
        path = upload_path(self.uploads, source)
        with self._lock:
            known = self._library().rows
            if source not in known or not path.exists():
                raise UploadError(f"{source} is not in the knowledge base; refresh the list.")
            if len(known) == 1:
                raise UploadError(f"{source} is the only document; add another before removing it.")
            path.unlink()
            self.refresh(progress=progress)

    def context(self, passage: Passage, *, before: int = 1, after: int = 1) -> list[Passage]:
        """The passage's whole paragraph (all its parts) with ``before``/``after`` paragraphs around it,
        in reading order; just the passage when it is no longer in the index."""
        return self._library().context(passage, before=before, after=after)

    def passage(self, source: str, paragraph: int, part: int = 0) -> Passage:
        """The indexed passage at ``source`` ¶``paragraph`` (``part`` of a long one).

        Raises:
            QuestionError: no such passage.
        """
        return self._library().passage(source, paragraph, part)

    def _sentence_vectors(self, index: Index, hits: Sequence[Hit]) -> dict[str, np.ndarray]:
        """The index's vectors of the hits' sentences, by sentence text (for choosing each hit's best
        sentence without encoding them again); empty when the index keeps no sentence vectors."""
        library, known = self._library(index), {}
        for hit in hits:
            vectors = library.sentence_vectors(hit.passage)
            if vectors is not None:
                known.update(sentence_vectors_by_text(hit.passage, vectors))
        return known

    def _library(self, index: Index | None = None) -> Library:
        """The documents view of ``index`` (the current one by default), made once per index."""
        index = index or self.index
        library = self._documents
        if library is None or library.index is not index:
            library = self._documents = Library(index)
        return library


_ALPHA_MESSAGE = "The keyword/dense balance (alpha) must be a number between 0 and 1"
_THRESHOLD_MESSAGE = "The not-found threshold must be a finite number, e.g. 0.2"


def _number(value, message: str) -> float:
    """A finite real number, or a ``QuestionError`` saying what is expected."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise QuestionError(f"{message}; got {value!r}.")
    return float(value)
