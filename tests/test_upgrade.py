"""Two tiers: answers from the fast index at once, the stronger model's index built in the background and
switched to atomically (``assistant.api.Upgrade``); fake encoders, the real index, the real page panel."""

import logging
import threading
from html import unescape

import numpy as np
import pytest

from assistant.api import STRONG_MODEL, Assistant, Upgrade, upgrade_model
from assistant.errors import ModelError

from .conftest import FakeEncoder, write_docs

DOCS = {
    "wic.md": "世界互联网大会国际组织于2022年7月在北京成立。\n\n目前，国际组织已有来自六大洲的近130家会员。",
    "leave.md": "Every employee has 25 days of paid leave a year.\n\nSick leave needs a doctor's note after three days.",
}


class StrongFake(FakeEncoder):
    """A 'stronger' encoder of another name and size, which can be held back (``gate``) or made to fail."""

    dimension = 1024

    def __init__(self, name="strong-fake", *, gate: threading.Event | None = None, fail_after: int | None = None):
        super().__init__(name)
        self.gate, self.fail_after, self.encoded = gate, fail_after, 0
        self.started = threading.Event()

    def encode(self, texts, *, progress=False):
        if texts != ["warm up"]:
            self.started.set()
            if self.gate is not None:
                assert self.gate.wait(30), "the test never let the strong encoder go on"
            if self.fail_after is not None and self.encoded >= self.fail_after:
                raise ModelError("The stronger model ran out of memory; close other programs and start again.")
            self.encoded += len(texts)
        return super().encode(texts)


@pytest.fixture
def corpus(tmp_path):
    return write_docs(tmp_path / "docs", DOCS)


def test_answers_come_from_the_fast_index_until_the_strong_one_is_switched_in(corpus):
    bot = Assistant(corpus, encoder=FakeEncoder("fast-fake"))
    gate = threading.Event()
    strong = StrongFake(gate=gate)
    upgrade = Upgrade(bot, "strong-fake", encoder=strong)
    assert bot.upgrade is upgrade and upgrade.state == "waiting"
    bot.index  # noqa: B018  (searchable first)
    upgrade.start()
    assert strong.started.wait(10)
    answer = bot.ask("How many days of paid leave?")
    assert answer.found and answer.hits[0].passage.source == "leave.md"
    assert bot.encoder.name == "fast-fake" and bot.index.manifest["model"] == "fast-fake"
    assert upgrade.state == "building" and upgrade.total == len(bot.index.passages)
    assert "fast index" in upgrade.status() and "strong-fake" in bot.indexing_status
    gate.set()
    upgrade.thread.join(30)
    assert upgrade.state == "ready" and upgrade.seconds is not None
    assert bot.encoder is strong and bot.index.manifest["model"] == "strong-fake"
    assert upgrade.done == upgrade.total  # every passage counted once
    assert upgrade.status() == "" and bot.indexing_status == ""
    answer = bot.ask("世界互联网大会国际组织有多少会员?")
    assert answer.found and answer.hits[0].passage.source == "wic.md"


def test_files_saved_during_the_build_are_in_the_strong_index_after_the_switch(corpus):
    bot = Assistant(corpus, encoder=FakeEncoder("fast-fake"))
    gate = threading.Event()
    strong = StrongFake(gate=gate)
    upgrade = Upgrade(bot, "strong-fake", encoder=strong)
    bot.index  # noqa: B018
    upgrade.start()
    assert strong.started.wait(10)
    (corpus / "it.md").write_text("The VPN password is changed every 90 days.", encoding="utf-8")
    bot.refresh()  # the fast index takes the new file at once
    assert "it.md" in {p.source for p in bot.index.passages}
    gate.set()
    upgrade.thread.join(30)
    assert bot.index.manifest["model"] == "strong-fake"
    assert {p.source for p in bot.index.passages} == {"wic.md", "leave.md", "it.md"}
    assert bot.ask("How often is the VPN password changed?").hits[0].passage.source == "it.md"


def test_a_failed_upgrade_keeps_the_fast_index_and_says_why_in_one_line(corpus, caplog):
    bot = Assistant(corpus, encoder=FakeEncoder("fast-fake"))
    upgrade = Upgrade(bot, "strong-fake", encoder=StrongFake(fail_after=0))
    with caplog.at_level(logging.WARNING):
        assert upgrade.run() is None
    assert upgrade.state == "failed" and "out of memory" in upgrade.error
    assert bot.encoder.name == "fast-fake" and bot.index.manifest["model"] == "fast-fake"
    assert bot.ask("How many days of paid leave?").found
    warned = [r for r in caplog.records if r.name == "assistant.api.upgrade"]
    assert len(warned) == 1 and warned[0].exc_info is None and "\n" not in warned[0].getMessage()
    assert "out of memory" in warned[0].getMessage() and "fast-fake" in warned[0].getMessage()
    assert "not built" in bot.indexing_status


def test_an_interrupted_upgrade_resumes_and_a_saved_strong_index_is_loaded_without_encoding(corpus, monkeypatch):
    from assistant.storage import checkpoint

    monkeypatch.setattr(checkpoint, "CHUNK_TEXTS", 1)  # one file per chunk: the first one is kept
    first = Assistant(corpus, encoder=FakeEncoder("fast-fake"))
    broken = StrongFake(fail_after=1)
    assert Upgrade(first, "strong-fake", encoder=broken).run() is None
    assert broken.encoded >= 1
    second = Assistant(corpus, encoder=FakeEncoder("fast-fake"))
    strong = StrongFake()
    index = Upgrade(second, "strong-fake", encoder=strong).run()
    assert index is not None and index.manifest["resumed_texts"] > 0
    third = Assistant(corpus, encoder=FakeEncoder("fast-fake"))
    again = StrongFake()
    upgrade = Upgrade(third, "strong-fake", encoder=again)
    assert upgrade.run() is not None and again.encoded == 0 and upgrade.done == 0
    assert np.array_equal(third.index.vector_rows([0]), index.vector_rows([0]))


def test_no_upgrade_when_the_strong_model_is_already_in_use(corpus):
    bot = Assistant(corpus, encoder=StrongFake())
    upgrade = Upgrade(bot, "strong-fake", encoder=bot.encoder)
    assert upgrade.run() is bot.index and upgrade.state == "ready"


def test_which_model_the_command_line_upgrades_to(monkeypatch):
    monkeypatch.delenv("ASSISTANT_UPGRADE", raising=False)
    monkeypatch.delenv("ASSISTANT_MODEL", raising=False)
    assert upgrade_model(None, None) == STRONG_MODEL == "multilingual-e5-small"
    assert upgrade_model("none", None) is None and upgrade_model("Off", None) is None
    assert upgrade_model(None, "minilm") is None  # a named model is used as it is
    assert upgrade_model("e5-small", "minilm") == "e5-small"  # unless an upgrade is named too
    monkeypatch.setenv("ASSISTANT_MODEL", "minilm")
    assert upgrade_model(None, None) is None
    monkeypatch.delenv("ASSISTANT_MODEL")
    monkeypatch.setenv("ASSISTANT_UPGRADE", "none")
    assert upgrade_model(None, None) is None
    monkeypatch.setenv("ASSISTANT_UPGRADE", "my-model")
    assert upgrade_model(None, None) == "my-model"


@pytest.mark.parametrize("lang, words", [("en", "Building the stronger index"), ("zh", "正在后台构建更强的索引")])
def test_the_page_says_the_stronger_index_is_being_built(corpus, lang, words):
    from assistant.api import KnowledgeBases
    from assistant.web import kbpanel

    bot = Assistant(corpus, encoder=FakeEncoder("fast-fake"))
    upgrade = Upgrade(bot, "strong-fake", encoder=StrongFake())
    upgrade.state, upgrade.done, upgrade.total = "building", 3, 4
    html = kbpanel.panel(KnowledgeBases.of([bot]), "all", lang)[0]["value"]
    assert words in html and "strong-fake" in html and "3" in html and "4" in html
    upgrade.state = "ready"
    assert words not in kbpanel.panel(KnowledgeBases.of([bot]), "all", lang)[0]["value"]


def _serve(corpus, emb, port, log):
    import os
    import subprocess
    import sys

    from .conftest import ROOT

    env = {k: v for k, v in os.environ.items() if k != "ASSISTANT_UPGRADE"}  # the command line's default
    with open(log, "ab") as err:
        return subprocess.Popen(
            [sys.executable, "-m", "assistant", "-v", "serve", "--corpus", str(corpus), "--port", str(port)],
            cwd=ROOT,
            env={**env, "ASSISTANT_INDEX_DIR": str(emb)},
            stdout=subprocess.DEVNULL,
            stderr=err,
        )


def _wait_for_model(client, proc, log, model: str, seconds: float) -> dict:
    import time

    import httpx

    deadline = time.monotonic() + seconds
    while True:
        assert proc.poll() is None, log.read_text(errors="replace")[-2000:]
        try:
            kb = client.get("/kbs").json()[0]
            if kb["model"] == model:
                return kb
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, f"no {model} index in time: {log.read_text(errors='replace')[-1500:]}"
        time.sleep(0.3)


@pytest.mark.slow
def test_the_real_server_answers_with_use_at_once_then_switches_to_e5_and_loads_it_next_time(tmp_path):
    """``serve`` with the command line's defaults: the seed corpus searchable with USE, e5-small's index
    built in the background and switched in; restarted, the saved e5 index is loaded, nothing re-encoded."""
    import httpx

    from .conftest import SEEDS, free_port

    corpus = tmp_path / "seeds"
    corpus.mkdir()
    for seed in SEEDS.iterdir():
        (corpus / seed.name).write_bytes(seed.read_bytes())
    emb, log = tmp_path / "emb", tmp_path / "server.log"
    for start in (1, 2):
        port = free_port()
        proc = _serve(corpus, emb, port, log)
        try:
            with httpx.Client(base_url=f"http://127.0.0.1:{port}/api/v1", timeout=120) as client:
                first = _wait_for_model(client, proc, log, "use-multilingual-v3", 300) if start == 1 else None
                if first:  # answered from the fast index while e5's is built
                    assert first["settings"]["model"] == "use-multilingual-v3"
                    found = client.post("/search", json={"question": "世界互联网大会国际组织是什么时候成立的?"}).json()
                    assert found["found"] and found["passages"][0]["paragraph"] == 15
                kb = _wait_for_model(client, proc, log, STRONG_MODEL, 600)
                assert kb["passages"] == 26
                found = client.post(
                    "/search", json={"question": "When was the WIC international organization founded?"}
                )
                body = found.json()
                assert body["found"] and body["passages"][0]["paragraph"] == 15
                assert client.post("/search", json={"question": "明天北京会下雨吗?"}).json()["found"] is False
        finally:
            proc.terminate()
            proc.wait(timeout=60)
        encoded = log.read_text(errors="replace").count("passages encoded")
        if start == 1:
            assert encoded >= 1
            first_encoded = encoded
    assert encoded == first_encoded  # the restart encoded nothing: e5's saved index was loaded
    text = log.read_text(errors="replace")
    assert text.count("Switched to the stronger index: 26 passages with multilingual-e5-small") == 2
    assert "Traceback" not in text
    e5_folders = [p for p in emb.iterdir() if "multilingual-e5-small" in p.name]
    assert len(e5_folders) == 1 and len([v for v in e5_folders[0].iterdir() if v.name.startswith("v-")]) == 1


def test_index_builds_both_tiers_and_times_each_and_ask_uses_the_stronger(
    fake_models, corpus, monkeypatch, capsys, caplog
):
    import json

    from assistant.cli import main

    monkeypatch.delenv("ASSISTANT_UPGRADE")  # the command line's default
    assert main(["index", str(corpus), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["model"] == "fake-bigrams" and summary["stronger"]["model"] == STRONG_MODEL
    assert summary["stronger"]["passages"] == summary["passages"] and summary["stronger"]["seconds"] >= 0
    assert main(["index", str(corpus)]) == 0
    printed = capsys.readouterr().out
    assert "stronger index: 4 passages with multilingual-e5-small" in printed
    # (the fake encoder named as e5 gets e5's floor and calibration, so this asks at threshold 0)
    with caplog.at_level(logging.INFO, logger="assistant"):
        assert main(["ask", "How many days of paid leave?", "--corpus", str(corpus), "--threshold", "0", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["passages"][0]["source"] == "leave.md"
    loaded = [r.getMessage() for r in caplog.records if r.getMessage().startswith("Loaded index")]
    assert loaded and all("multilingual-e5-small" in m for m in loaded)  # the stronger index, as saved
    assert main(["index", str(corpus), "--upgrade", "none", "--json"]) == 0
    assert "stronger" not in json.loads(capsys.readouterr().out)


@pytest.mark.parametrize(
    "lang, words",
    [
        ("en", "Not indexed: broken.pdf is a damaged PDF"),
        ("zh", "未编入索引：broken.pdf 已损坏；请用原程序重新保存或导出。"),
    ],
)
def test_the_panel_names_each_corpus_file_left_out_and_why(tmp_path, lang, words):
    """A file of the folder that could not be read is named in the knowledge-base panel, in the page's
    language, not only in the server log: the documents it lists are not all the folder holds."""
    from assistant.api import KnowledgeBases
    from assistant.web import kbpanel

    folder = write_docs(tmp_path / "docs", {"good.txt": "世界互联网大会在乌镇举行。\n"})
    (folder / "broken.pdf").write_bytes(b"not a pdf at all")
    (folder / "latin1.txt").write_bytes(b"caf\xe9 \xff\xfe\x00\x81 bytes")
    bot = Assistant(folder, encoder=FakeEncoder("fast-fake"), index_root=tmp_path / "index")
    assert set(bot.index.manifest["skipped"]) == {"broken.pdf", "latin1.txt"}
    html = kbpanel.panel(KnowledgeBases.of([bot]), "all", lang)[0]["value"]
    assert words in unescape(html) and html.count('class="kb-bad kb-skipped"') == 2 and "latin1.txt" in html
    assert "good.txt" in html and html.count('class="kb-row"') == 1  # the one document it did index


def test_the_panel_counts_the_skipped_files_it_does_not_name():
    from assistant.web.kbpanel import SKIPPED_SHOWN, render_skipped

    skipped = {
        f"f{n}.pdf": f"f{n}.pdf is a damaged PDF (x); re-save or re-export it." for n in range(SKIPPED_SHOWN + 5)
    }
    html = unescape(render_skipped(skipped, "en"))
    assert html.count("Not indexed: ") == SKIPPED_SHOWN and "… and 5 more files not indexed" in html
    assert render_skipped({}, "zh") == ""
    assert "&lt;b&gt;" in render_skipped({"<b>.pdf": "<b>.pdf cannot be read (x)."}, "en")  # escaped
