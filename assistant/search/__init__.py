"""Stage 5: questions and chat history, hybrid retrieval, and the extractive answer with its citations."""

from .answer import (
    LABELS,
    answer_sentences,
    best_sentences,
    language,
    make_answer,
    render_conversation,
    render_markdown,
    render_text,
    uncited,
)
from .conversation import MAX_HISTORY_ITEMS, Query, earlier_questions, make_query, text_of
from .retriever import (
    DEFAULT_ALPHA,
    DEFAULT_THRESHOLD,
    MAX_QUESTION_CHARS,
    MAX_TOP_K,
    check_top_k,
    clean_question,
    dense_text,
    retrieve,
)

__all__ = [
    "DEFAULT_ALPHA",
    "DEFAULT_THRESHOLD",
    "LABELS",
    "MAX_HISTORY_ITEMS",
    "MAX_QUESTION_CHARS",
    "MAX_TOP_K",
    "Query",
    "answer_sentences",
    "best_sentences",
    "check_top_k",
    "clean_question",
    "dense_text",
    "earlier_questions",
    "language",
    "make_answer",
    "make_query",
    "render_conversation",
    "render_markdown",
    "render_text",
    "retrieve",
    "text_of",
    "uncited",
]
