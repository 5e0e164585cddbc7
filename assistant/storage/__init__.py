"""Stage 4: the saved index: build, update by segments, checkpoints, versions switched atomically, loading."""

from .build import default_index_root, index_folder, open_index, sentence_vectors_wanted
from .passage_files import columns
from .versions import Index
from .write_errors import INDEX_ENV

__all__ = [
    "INDEX_ENV",
    "Index",
    "columns",
    "default_index_root",
    "index_folder",
    "open_index",
    "sentence_vectors_wanted",
]
