"""The Python API that the CLI and the web chat both use."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from pathlib import Path

from ..encoders import Encoder, make_encoder
from ..errors import AssistantError, UploadError
from ..readers import PageImage
from ..records import Answer, DocumentInfo, Hit, Passage, UploadReport
from ..search import (
    SearchSettings,
    best_sentences,
    clean_question,
    dense_text,
    earlier_questions,
    known_sentence_vectors,
    make_answer,
    make_query,
    relevant,
    retrieve,
    retrieve_calibrated,
)
from ..storage import (
    Index,
    IndexSettings,
    changed_sources,
    corpus_files,
    folder_files,
    milvus_uri,
    open_index,
    open_milvus_index,
)
from ..text import MAX_FILES_PER_UPLOAD, MAX_UPLOAD_BYTES, UPLOADS, check_size, store_upload, upload_path
from .defaults import default_corpus
from .library import Library
from .pages import indexed_file, page_view

logger = logging.getLogger(__name__)


class Assistant:
    """Answers questions from a folder of documents, with citations.

    Args:
        corpus: folder (or file) of documents; default ``seeds/``.
        model: embedding model alias or local path; default ``$ASSISTANT_MODEL`` or the bundled USE.
        index_root: where indexes are saved; default ``$ASSISTANT_INDEX_DIR`` or ``embeddings/``.
        top_k: passages per answer (default 5).
        alpha: weight of dense similarity against keyword score (0 keyword only, 1 dense only; default 0.5).
        threshold: least calibrated probability (0-1) that a passage answers, for it to be cited (see ``relevant``).
            The three are checked once, as ``SearchSettings`` (``self.settings``).
        dense_kind: FAISS index: ``auto`` (exact up to 50k passages, then IVF with 8-bit codes), ``flat``,
            ``ivf`` or ``hnsw``; ``dense_params`` overrides its parameters (``nlist``, ``nprobe``, ``m`` …).
        sentence_vectors: ``auto`` (with the bundled USE, at any size), ``on`` or ``off``: sentences' own vectors.
        encoder: an ``Encoder`` to use instead of loading ``model`` (tests pass a fake one).
        uploads: folder for documents added with :meth:`add_documents`, indexed with the corpus and
            cited as ``uploads/<name>``; None (the default) allows no uploads.
        index_settings: all of how the index is built (``IndexSettings``: the dense kind and parameters,
            sentence vectors, segment sizes); ``dense_kind``, ``dense_params`` and ``sentence_vectors`` are the
            common part of it, checked once as one record.
        milvus: keep the index in Milvus instead of ``index_root``: a local ``x.db`` file (Milvus Lite) or
            ``http(s)://host:port``, optionally ``#collection``; default ``$ASSISTANT_MILVUS_URI`` (unset: the
            local store). The token is read from ``$ASSISTANT_MILVUS_TOKEN`` only.

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
        top_k: int | None = None,
        alpha: float | None = None,
        threshold: float | None = None,
        dense_kind: str = "auto",
        dense_params: dict | None = None,
        sentence_vectors: str = "auto",
        progress: bool = False,
        encoder: Encoder | None = None,
        uploads: str | Path | None = None,
        index_settings: IndexSettings | None = None,
        milvus: str | None = None,
    ):
        self.corpus = Path(corpus) if corpus else default_corpus()
        self.encoder = encoder or make_encoder(model)
        self.index_root = Path(index_root) if index_root else None
        self.settings = SearchSettings().but(top_k=top_k, alpha=alpha, threshold=threshold)
        self.index_settings = index_settings or IndexSettings(
            dense_kind=dense_kind, dense_params=dense_params or {}, sentence_vectors=sentence_vectors
        )
        self.progress = progress
        self.uploads = Path(uploads) if uploads else None
        self.milvus = milvus_uri(milvus)
        self._index: Index | None = None
        self._documents: Library | None = None
        self._lock = threading.RLock()
        self._swap = threading.Lock()  # the encoder and its index change together (``Upgrade`` switches both)
        self.indexing = 0  # files being indexed by update_in_background (0: none)
        self.upgrade = None  # an ``Upgrade`` building a stronger model's index in the background, if any

    @property
    def top_k(self) -> int:
        return self.settings.top_k

    @property
    def alpha(self) -> float:
        return self.settings.alpha

    @property
    def threshold(self) -> float:
        return self.settings.threshold

    @property
    def index(self) -> Index:
        """The corpus index, loaded (or built) on first use; the previous saved index, with a warning, when
        the documents changed but the update cannot be written (full disk, read-only folder)."""
        if self._index is None:
            self.refresh(fallback=True)
        return self._index

    def _searchable(self) -> tuple[Index, Encoder]:
        """The index and the encoder of its vectors (taken together: an ``Upgrade`` switches both), the index
        rebuilt if the model at the same name now gives vectors of another size."""
        self.index  # noqa: B018  (loaded or built on first use)
        with self._swap:
            index, encoder = self._index, self.encoder
        if index.manifest["dimension"] != encoder.dimension:
            logger.warning("The model %s changed since the index was built; rebuilding it.", encoder.name)
            index = self.refresh(rebuild=True)
        return index, encoder

    def switch(self, encoder: Encoder, index: Index) -> Index:
        """Answer from ``index`` (``encoder``'s vectors) from the next question on, then index into it the files
        changed since it was built (no update of the previous index runs in between: ``Upgrade``)."""
        with self._lock:
            with self._swap:
                self.encoder, self._index = encoder, index
            return self.refresh(progress=False)

    def refresh(
        self, *, rebuild: bool = False, progress: bool | None = None, fallback: bool = False, stale_ok: bool = False
    ) -> Index:
        """Re-read the corpus folder: re-index changed files only, or everything with ``rebuild``; with
        ``stale_ok``, take the saved index as it is if there is one (see :meth:`update_in_background`).

        Questions asked meanwhile are answered from the previous index, which is swapped out at the end.
        An update that cannot be written removes what it wrote and raises ``IndexWriteError``; with
        ``fallback`` the previous saved index stays in use instead, with one warning saying why.
        """
        with self._lock:
            if self._index is not None:
                self._index.vector_blocks()  # map the old vectors before their folder is replaced
            if self.milvus:
                self._index = open_milvus_index(
                    self.corpus,
                    self.encoder,
                    self.milvus,
                    rebuild=rebuild,
                    settings=self.index_settings,
                    progress=self.progress if progress is None else progress,
                    extra={UPLOADS: self.uploads},
                )
                return self._index
            index = open_index(
                self.corpus,
                self.encoder,
                root=self.index_root,
                rebuild=rebuild,
                settings=self.index_settings,
                current=self._index,
                progress=self.progress if progress is None else progress,
                extra={UPLOADS: self.uploads},  # reserved even when off: corpus files never take its names
                fallback=fallback,
                stale_ok=stale_ok,
            )
            self._index = index
            return index

    def warm_up(self, *, stale_ok: bool = False) -> Index:
        """Load (or build) the index, the tokenizer and the documents list while the model loads in a
        background thread, so that neither the page nor the first question pays for them.

        With ``stale_ok`` the saved index is loaded as it is, even if files changed since: bring it up to
        date with :meth:`update_in_background`. Only when there is none is one built first.
        """
        from ..keyword import tokenize

        model = threading.Thread(target=self._load_model, name="model-warm-up", daemon=True)
        model.start()
        try:
            index = self.refresh(stale_ok=True) if stale_ok and self._index is None else self.index
            tokenize("预热 warm up")  # jieba-rs's dictionary and the OpenCC tables load on first use
            self.documents()  # the page lists them when it opens: a saved index's passage columns are read now
        finally:
            model.join()
        return index

    @property
    def indexing_status(self) -> str:
        """What :meth:`update_in_background` (and an ``Upgrade``) is doing, in a line ("" when nothing)."""
        n, upgrade = self.indexing, self.upgrade.status() if self.upgrade else ""
        return f"Indexing {n} changed file{'s' * (n != 1)} in the background…" if n else upgrade

    def update_in_background(self) -> threading.Thread:
        """Index what changed since the loaded index was saved (files of the corpus, uploads a stopped server
        had not indexed) in a daemon thread; questions are answered from the loaded index meanwhile, and
        :attr:`indexing` counts the files being indexed until the new index replaces it."""
        index = self.index
        self.indexing = len(changed_sources(corpus_files(self.corpus, {UPLOADS: self.uploads}), index.manifest))
        if self.indexing:
            logger.warning("%s Questions are answered from the last index until it is done.", self.indexing_status)
        thread = threading.Thread(target=self._update, name="index-update", daemon=True)
        thread.start()
        return thread

    def _update(self) -> None:
        try:
            index = self.refresh()
            if self.indexing:
                logger.warning("Indexed the changes: %d passages now (%d encoded).", len(index.passages), index.encoded)
        except AssistantError as exc:
            logger.warning("Could not index the changes (%s); answering from the last index.", exc)
        except Exception:  # a bug: the page keeps answering from the last index
            logger.exception("Indexing the changes failed; answering from the last index.")
        finally:
            self.indexing = 0

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
            self.encoder.encode_queries(["warm up"])
        except Exception:  # the same error is raised again, to the caller, on the next encode
            logger.debug("Model warm-up failed", exc_info=True)

    def search(
        self, questions: Sequence[str], *, top_k: int | None = None, alpha: float | None = None
    ) -> list[list[Hit]]:
        """Ranked passages for each question (no follow-up handling, no threshold)."""
        settings = self.settings.but(top_k=top_k, alpha=alpha)
        queries = [clean_question(q) for q in questions]
        found = retrieve(*self._searchable(), queries, k=settings.top_k, alpha=settings.alpha)
        return [list(r.hits) for r in found]

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
        [question, answer] pairs or {"role", "content"} messages).

        The not-found policy (``relevant``, on calibrated probabilities) is applied here, so the chat, ``/ask``,
        the CLI and ``eval`` agree: not found when the best passage is under the threshold, weaker ones not cited."""
        settings = self.settings.but(top_k=top_k, alpha=alpha, threshold=threshold)
        question = clean_question(question)
        query = make_query(question, earlier_questions(history))
        index, encoder = self._searchable()
        found = retrieve_calibrated(index, encoder, query, k=settings.top_k, alpha=settings.alpha)
        hits = relevant(found.hits, settings.threshold)[: settings.top_k]
        words = found.words[0] if found.words else ()
        if hits:
            vector = found.vectors[0] if found.vectors is not None else None
            known = known_sentence_vectors(index, hits)
            hits = best_sentences(hits, dense_text(index, question), encoder, words=words, vector=vector, known=known)
        return make_answer(question, hits, found=bool(hits), search_query=query.text, terms=words)

    def documents(self) -> list[DocumentInfo]:
        """The documents in the index, by source: title, passage and paragraph counts, uploaded or not."""
        return self._library().documents(uploaded=self._uploaded())

    def _uploaded(self) -> set[str]:
        """The sources of the files in the uploads folder (decided by where a file is, not by its name)."""
        return set(folder_files(UPLOADS, self.uploads))

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
            raise UploadError(
                "Uploads are off: give the assistant an uploads folder (Assistant(corpus, uploads=DIR) in Python; "
                "the web chat has one unless it was started with --no-uploads)."
            )
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
        """The indexed passage at ``source`` ¶``paragraph`` (``part`` of a long one); ``QuestionError`` if none."""
        return self._library().passage(source, paragraph, part)

    def page(self, source: str, page: int | None = None, *, paragraph: int = 0, part: int = 0) -> PageImage:
        """A page of an indexed PDF as a PNG at most 1,400 pixels wide; with ``paragraph`` (and ``part``), that
        passage's page by default, the passage marked on it.

        Raises:
            QuestionError: no such passage, the source is not an indexed PDF, or its file is gone or changed.
            CorpusError: no such page.
        """
        passage = self.passage(source, paragraph, part) if paragraph else None
        page = page or (passage.page if passage else 1)
        text = passage.text if passage and passage.page == page else ""
        return page_view(self.index, self.corpus, self.uploads, source, page, text)

    def indexed_file(self, source: str) -> Path:
        """The file ``source`` was indexed from, as it was indexed (for downloading the original); raises
        ``QuestionError`` when the source is not indexed, or its file is gone or changed since."""
        return indexed_file(self.index, self.corpus, self.uploads, source)

    def _library(self, index: Index | None = None) -> Library:
        """The documents view of ``index`` (the current one by default), made once per index."""
        index = index or self.index
        library = self._documents
        if library is None or library.index is not index:
            library = self._documents = Library(index)
        return library
