"""Stage 5: questions and chat history, hybrid retrieval, and the extractive answer with its citations."""

from .answer import (
    LABELS,
    answer_sentences,
    best_sentences,
    known_sentence_vectors,
    language,
    make_answer,
    render_conversation,
    render_markdown,
    render_text,
)
from .calibration import POOL, calibrate, calibrated, retrieve_calibrated
from .conversation import (
    MAX_HISTORY_ITEMS,
    MAX_QUESTION_CHARS,
    Query,
    clean_question,
    earlier_questions,
    make_query,
    text_of,
)
from .retriever import Retrieval, dense_text, retrieve
from .settings import (
    DEFAULT_ALPHA,
    DEFAULT_THRESHOLD,
    DEFAULT_TOP_K,
    MAX_TOP_K,
    SearchSettings,
    check_top_k,
    relevant,
)

__all__ = [
    "DEFAULT_ALPHA",
    "DEFAULT_THRESHOLD",
    "DEFAULT_TOP_K",
    "LABELS",
    "MAX_HISTORY_ITEMS",
    "MAX_QUESTION_CHARS",
    "MAX_TOP_K",
    "POOL",
    "Query",
    "Retrieval",
    "SearchSettings",
    "answer_sentences",
    "best_sentences",
    "calibrate",
    "calibrated",
    "known_sentence_vectors",
    "check_top_k",
    "clean_question",
    "dense_text",
    "earlier_questions",
    "language",
    "make_answer",
    "make_query",
    "relevant",
    "render_conversation",
    "render_markdown",
    "render_text",
    "retrieve",
    "retrieve_calibrated",
    "text_of",
]
