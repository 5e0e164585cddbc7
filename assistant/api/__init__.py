"""Stage 6: the Python API that the CLI and the web chat both use."""

from .assistant import Assistant
from .defaults import CORPUS_ENV, default_corpus, default_uploads
from .watch import Watcher, WatchSettings

__all__ = ["Assistant", "CORPUS_ENV", "WatchSettings", "Watcher", "default_corpus", "default_uploads"]
