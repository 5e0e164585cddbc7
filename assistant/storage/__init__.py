"""Stage 4: the saved index: build, update by segments, checkpoints, versions switched atomically, loading."""

from .build import default_index_root, index_folder, open_index
from .changes import changed_sources, corpus_files, folder_files
from .passage_files import columns
from .settings import IndexSettings
from .versions import Index
from .write_errors import INDEX_ENV

__all__ = [
    "changed_sources",
    "corpus_files",
    "folder_files",
    "INDEX_ENV",
    "Index",
    "columns",
    "default_index_root",
    "index_folder",
    "open_index",
    "IndexSettings",
]
