"""Stage 3b: the dense side: a FAISS index over the passage vectors, its kind chosen by size."""

from .faiss_index import KINDS, DenseIndex, choose_kind, choose_spec, reuse_or_build

__all__ = ["KINDS", "DenseIndex", "choose_kind", "choose_spec", "reuse_or_build"]
