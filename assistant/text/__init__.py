"""Stage 1: documents read into paragraphs and passages, what each index sees of a passage, upload checks."""

from .documents import SUFFIXES, file_digest, file_digests, find_files, read_document
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
from .passages import CHUNKING, make_passages, split_sentences, weight
from .uploads import MAX_FILES_PER_UPLOAD, MAX_UPLOAD_BYTES, UPLOADS, check_size, store_upload, upload_path

__all__ = [
    "CHUNKING",
    "MAX_FILES_PER_UPLOAD",
    "MAX_UPLOAD_BYTES",
    "SUFFIXES",
    "UPLOADS",
    "check_size",
    "embed_text",
    "encoder_jobs",
    "file_digest",
    "file_digests",
    "find_files",
    "keyword_text",
    "make_passages",
    "passage_sentences",
    "read_document",
    "sentence_spans",
    "sentence_vectors_by_text",
    "split_rows",
    "split_sentences",
    "stack_rows",
    "store_upload",
    "upload_path",
    "weight",
]
