"""Stage 6: the Python API that the CLI and the web chat both use."""

from .assistant import CORPUS_ENV, Assistant, default_corpus, default_uploads

__all__ = ["Assistant", "CORPUS_ENV", "default_corpus", "default_uploads"]
