"""Stage 4: the saved index: build, update by segments, checkpoints, versions switched atomically, loading;
or the same index kept in Milvus (``milvus``)."""

from .build import default_index_root, index_folder, open_index
from .changes import changed_sources, corpus_files, folder_files
from .milvus import milvus_uri, open_milvus_index
from .milvus_client import TOKEN_ENV as MILVUS_TOKEN_ENV
from .milvus_client import URI_ENV as MILVUS_URI_ENV
from .passage_files import columns
from .settings import IndexSettings
from .versions import Index
from .write_errors import INDEX_ENV

__all__ = [
    "changed_sources",
    "corpus_files",
    "folder_files",
    "INDEX_ENV",
    "MILVUS_TOKEN_ENV",
    "MILVUS_URI_ENV",
    "Index",
    "columns",
    "default_index_root",
    "index_folder",
    "milvus_uri",
    "open_milvus_index",
    "open_index",
    "IndexSettings",
]
