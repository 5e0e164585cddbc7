"""Stage 3b: the dense side (``DenseSide``): a FAISS index over the passage vectors, its kind chosen by size
(a Milvus collection satisfies the same interface: ``storage.milvus``)."""

from .faiss_index import KINDS, DenseIndex, choose_kind, choose_spec, reuse_or_build
from .side import DenseSide

__all__ = ["KINDS", "DenseIndex", "DenseSide", "choose_kind", "choose_spec", "reuse_or_build"]
