"""Where the assistant looks by default: the corpus folder, and the folder the web chat keeps uploads in."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

from ..storage import default_index_root

CORPUS_ENV = "ASSISTANT_CORPUS"


def default_corpus() -> Path:
    """``$ASSISTANT_CORPUS``, else ``seeds/`` beside the package (or in the current folder)."""
    if os.environ.get(CORPUS_ENV):
        return Path(os.environ[CORPUS_ENV])
    beside = Path(__file__).resolve().parent.parent / "seeds"
    return beside if beside.is_dir() else Path("seeds")


def default_uploads(corpus: str | Path, index_root: str | Path | None = None) -> Path:
    """Where the web chat keeps documents uploaded for ``corpus``: ``<index root>/uploads/<corpus>-<hash>/``."""
    corpus = Path(corpus).resolve()
    key = hashlib.sha256(str(corpus).encode("utf-8", "surrogateescape")).hexdigest()[:10]
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", corpus.name)[:40]
    return Path(index_root or default_index_root()) / "uploads" / f"{slug}-{key}"
