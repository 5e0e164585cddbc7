"""Stage 1: documents read into paragraphs and passages, what each index sees of a passage, upload checks."""

from .documents import (
    SUFFIXES,
    decode,
    file_digest,
    file_digests,
    find_files,
    html_to_text,
    read_document,
    split_paragraphs,
)
from .indexed_text import (
    embed_text,
    encoder_jobs,
    keyword_text,
    passage_sentences,
    sentence_spans,
    sentence_vectors_by_text,
    split_rows,
    stack_rows,
)
from .passages import CHUNKING, make_passages
from .rules import CJK, CONTROL, CREDIT, is_question, join_parts, split_sentences, weight
from .uploads import MAX_FILES_PER_UPLOAD, MAX_UPLOAD_BYTES, UPLOADS, check_size, store_upload, upload_path

__all__ = [
    "CJK",
    "CONTROL",
    "CREDIT",
    "is_question",
    "join_parts",
    "CHUNKING",
    "MAX_FILES_PER_UPLOAD",
    "MAX_UPLOAD_BYTES",
    "SUFFIXES",
    "UPLOADS",
    "check_size",
    "decode",
    "embed_text",
    "encoder_jobs",
    "file_digest",
    "file_digests",
    "find_files",
    "html_to_text",
    "keyword_text",
    "make_passages",
    "passage_sentences",
    "read_document",
    "sentence_spans",
    "sentence_vectors_by_text",
    "split_paragraphs",
    "split_rows",
    "split_sentences",
    "stack_rows",
    "store_upload",
    "upload_path",
    "weight",
]
