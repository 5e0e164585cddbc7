"""Shared fixtures: indexes go to a temporary folder; a deterministic fake encoder for logic tests."""

from __future__ import annotations

import hashlib
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from assistant.encoders.encoder import Encoder

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
DATA = ROOT / "eval" / "data"  # copies of ../shared/data: a clone anywhere can run the tests
# Debian's chromium, started the way this machine allows (no sandbox as root, no background traffic).
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@pytest.fixture(autouse=True)
def _index_in_tmp(tmp_path, monkeypatch):
    """Tests never write to the repo or the home folder."""
    monkeypatch.setenv("ASSISTANT_INDEX_DIR", str(tmp_path / "embeddings"))
    monkeypatch.delenv("ASSISTANT_MODEL", raising=False)
    monkeypatch.delenv("ASSISTANT_CORPUS", raising=False)


class FakeEncoder(Encoder):
    """Hashes character bigrams and words into 1024 dimensions: similar strings get similar vectors."""

    pools_spans = True  # stands in for the bundled USE: sentence vectors by default, as it gets them

    def __init__(self, name: str = "fake-bigrams"):
        super().__init__("use-multilingual-v3")
        self.name = name
        self.calls: list[int] = []

    @property
    def dimension(self) -> int:
        return 1024

    def _span_pooler(self):
        return None  # spans are encoded as texts of their own, through encode

    def encode(self, texts, *, progress=False):
        self.calls.append(len(texts))
        out = np.zeros((len(texts), 1024), dtype=np.float32)
        for row, text in enumerate(texts):
            text = text.lower()
            grams = [text[i : i + 2] for i in range(len(text) - 1)] + re.findall(r"[a-z0-9]+", text)
            for gram in grams:
                out[row, int(hashlib.md5(gram.encode()).hexdigest(), 16) % 1024] += 1.0
            norm = np.linalg.norm(out[row])
            out[row] = out[row] / norm if norm else out[row]
        return out


@pytest.fixture
def fake_encoder():
    return FakeEncoder()


@pytest.fixture
def fake_models():
    """Every encoder the API, the CLI and ``eval`` make in this test is a ``FakeEncoder`` (named as asked)."""
    from assistant.encoders import set_encoder_factory

    set_encoder_factory(lambda name=None: FakeEncoder(name or "fake-bigrams"))
    yield
    set_encoder_factory(None)


def write(folder: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode(encoding))
    return path


def write_docs(folder: Path, docs: dict[str, str]) -> Path:
    """``folder`` with one file per ``name: text`` of ``docs``."""
    for name, text in docs.items():
        write(folder, name, text)
    return folder


def dense_scores(index, ids, query):
    """The retriever's dense score of passages ``ids`` as one step: each passage's cosine, averaged with
    its best sentence's when the index has sentence vectors (the reference its two stages must match)."""
    from assistant.search.retriever import has_sentence_vectors, with_best_sentence

    whole = index.vector_rows(ids) @ query
    return with_best_sentence(index, ids, query, whole) if has_sentence_vectors(index) else whole
