"""Nothing lost, nothing mixed: damaged indexes, other models, concurrent writers and readers, resumed builds."""

import json
import logging
import os
import subprocess
import sys
import threading

import numpy as np
import pytest

import assistant.dense.faiss_index
import assistant.errors
from assistant.api import Assistant
from assistant.storage import checkpoint
from assistant.storage.build import _load_current, index_folder

from .conftest import ROOT, FakeEncoder, write, write_docs

DOCS = {
    "wic.txt": "世界互联网大会\n世界互联网大会国际组织于2022年7月12日在北京正式成立，总部设在中国北京。\n"
    "目前国际组织已有来自25个国家和地区的近130家会员单位加入。\n",
    "food.md": "# Cooking notes\n\nSourdough bread needs a starter, flour, water and salt; bake it at 230 degrees.\n\n"
    "Green tea is brewed at 80 degrees for two minutes. It is best without sugar.\n",
}
INDEX_FILES = [  # every file of a version (segment files by pattern: their names are made when written)
    "manifest.json",
    "passages-*.jsonl",
    "vectors-*.npy",
    "sentences-*.npy",
    "sentence-scales-*.npy",
    "sentence-counts-*.npy",
    "dense.faiss",
    "keyword/keyword.json",
    "keyword/df.npy",
    "keyword/*.data.npy",
    "keyword/*.indices.npy",
    "keyword/*.indptr.npy",
    "keyword/*.lengths.npy",
]


@pytest.fixture
def corpus(tmp_path):
    return write_docs(tmp_path / "docs", DOCS)


def texts(index) -> list[str]:
    return [p.text for p in index.passages]


def damage(path, how: str) -> None:
    data = path.read_bytes()
    if how == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif how == "bit flipped":
        middle = len(data) // 2
        path.write_bytes(data[:middle] + bytes([data[middle] ^ 0x01]) + data[middle + 1 :])
    elif how == "emptied":
        path.write_bytes(b"")
    elif how == "deleted":
        path.unlink()


@pytest.mark.parametrize("how", ["truncated", "bit flipped", "emptied", "deleted"])
@pytest.mark.parametrize("name", INDEX_FILES)
def test_damaged_index_file_is_detected_and_rebuilt(corpus, name, how, caplog):
    index = Assistant(corpus, encoder=FakeEncoder()).index
    assert sorted(p.relative_to(index.folder).as_posix() for p in index.folder.rglob("*") if p.is_file()) == sorted(
        p.relative_to(index.folder).as_posix() for pattern in INDEX_FILES for p in index.folder.glob(pattern)
    )
    (path,) = index.folder.glob(name)
    damage(path, how)
    encoder = FakeEncoder()
    with caplog.at_level(logging.WARNING):
        rebuilt = Assistant(corpus, encoder=encoder).index
    assert "damaged" in caplog.text or "rebuilding" in caplog.text
    assert texts(rebuilt) == texts(index) and sum(encoder.calls) > 0
    assert rebuilt.folder != index.folder and not index.folder.exists()


@pytest.mark.parametrize(
    "pointer",
    ["", "garbage", "../../../etc", "v-20240101000000-abcdef", "\x00\xff".encode("latin-1").decode("latin-1")],
)
def test_bad_current_pointer_is_rebuilt(corpus, pointer, caplog):
    index = Assistant(corpus, encoder=FakeEncoder()).index
    (index.folder.parent / "CURRENT").write_text(pointer, "latin-1")
    rebuilt = Assistant(corpus, encoder=FakeEncoder()).index
    assert texts(rebuilt) == texts(index)
    assert (index.folder.parent / "CURRENT").read_text() == rebuilt.folder.name


def test_manifest_without_checksums_is_not_trusted(corpus, caplog):
    index = Assistant(corpus, encoder=FakeEncoder()).index
    manifest = json.loads((index.folder / "manifest.json").read_text())
    del manifest["checksums"]
    (index.folder / "manifest.json").write_text(json.dumps(manifest))
    with caplog.at_level(logging.WARNING):
        rebuilt = Assistant(corpus, encoder=FakeEncoder()).index
    assert "no checksum" in caplog.text and texts(rebuilt) == texts(index)


@pytest.mark.slow
def test_damage_is_reported_by_the_cli_which_still_answers(corpus):
    def cli(*argv):
        return subprocess.run(
            [sys.executable, "-m", "tests.fake_cli", *argv], cwd=ROOT, capture_output=True, text=True, timeout=120
        )

    assert cli("index", str(corpus)).returncode == 0
    folder = index_folder(corpus, "fake-bigrams")
    damage(folder / (folder / "CURRENT").read_text() / "dense.faiss", "bit flipped")
    done = cli("ask", "Sourdough bread starter", "--corpus", str(corpus))
    assert done.returncode == 0 and "food.md" in done.stdout
    assert "is damaged (checksum mismatch in dense.faiss); rebuilding it." in done.stderr
    assert "Traceback" not in done.stderr


def test_index_of_another_model_is_never_used(corpus):
    a = Assistant(corpus, encoder=FakeEncoder("model-a")).index
    b_encoder = FakeEncoder("model-b")
    b = Assistant(corpus, encoder=b_encoder).index
    assert a.folder.parent != b.folder.parent and b.manifest["model"] == "model-b" and sum(b_encoder.calls) > 0


def test_same_model_name_with_other_dimension_is_rebuilt(corpus, caplog):
    class Smaller(FakeEncoder):
        @property
        def dimension(self):
            return 256

        def encode(self, texts, *, progress=False):
            return np.ascontiguousarray(super().encode(texts)[:, :256])

    Assistant(corpus, encoder=FakeEncoder("same-name")).refresh()
    bot = Assistant(corpus, encoder=Smaller("same-name"))
    with caplog.at_level(logging.WARNING):
        answer = bot.ask("Sourdough bread starter")
    assert "changed since the index was built" in caplog.text
    assert bot.index.manifest["dimension"] == 256 and answer.hits[0].passage.source == "food.md"


def test_failed_save_keeps_the_old_index(corpus, monkeypatch):
    old = Assistant(corpus, encoder=FakeEncoder()).index
    write(corpus, "new.txt", "A new document about the history of paper making in ancient China.")

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(assistant.dense.faiss_index.DenseIndex, "save", disk_full)
    with pytest.raises(assistant.errors.IndexStoreError, match="No space left on device"):
        Assistant(corpus, encoder=FakeEncoder()).refresh()
    assert texts(_load_current(old.folder.parent, FakeEncoder())) == texts(old)
    monkeypatch.undo()
    new = Assistant(corpus, encoder=FakeEncoder()).index
    assert "new.txt" in {p.source for p in new.passages}
    assert sorted(p.name for p in new.folder.parent.iterdir()) == sorted(["CURRENT", "build.lock", new.folder.name])


def test_interrupted_encoding_resumes_from_saved_chunks(tmp_path, monkeypatch):
    folder = tmp_path / "docs"
    for i in range(40):
        write(
            folder, f"d{i:02d}.txt", "\n".join(f"文档{i}的第{p}段讲述了造纸术和印刷术的历史与传播。" for p in range(30))
        )
    monkeypatch.setattr(checkpoint, "CHUNK_TEXTS", 64)

    class Dies(FakeEncoder):
        def encode(self, texts, *, progress=False):
            if len(self.calls) == 5:
                raise KeyboardInterrupt  # as if the process were stopped mid-build
            return super().encode(texts, progress=progress)

    with pytest.raises(KeyboardInterrupt):
        Assistant(folder, encoder=Dies()).refresh()
    work = index_folder(folder, "fake-bigrams") / "work"
    assert len(list(work.glob("*.npy"))) == 5
    resumed_encoder = FakeEncoder()
    resumed = Assistant(folder, encoder=resumed_encoder).refresh()
    clean = Assistant(folder, encoder=FakeEncoder(), index_root=tmp_path / "clean").refresh()
    assert resumed.manifest["resumed_texts"] > 0 and not work.exists()
    total = clean.manifest["passages"] + clean.manifest["sentences"]
    assert sum(resumed_encoder.calls) == total - resumed.manifest["resumed_texts"]  # only the rest was encoded
    assert texts(resumed) == texts(clean)
    assert np.array_equal(np.asarray(resumed.vectors_array()), np.asarray(clean.vectors_array()))
    assert np.array_equal(resumed.sentence_vectors.array(), clean.sentence_vectors.array())


def test_damaged_checkpoint_chunk_is_encoded_again(tmp_path, caplog):
    vectors = FakeEncoder().encode(["甲", "乙乙", "丙丙丙"])
    jobs = {"a.txt": ["甲乙", "乙乙丙"], "b.txt": ["丙丙丙丁"]}
    work = tmp_path / "work"
    first, reused = checkpoint.encode_resumable(jobs, FakeEncoder(), work)
    assert reused == 0 and vectors.shape[1] == first["a.txt"].shape[1]
    again, reused = checkpoint.encode_resumable(jobs, FakeEncoder(), work)
    assert reused == 3 and all(np.array_equal(first[s], again[s]) for s in jobs)
    for path in work.glob("*.npy"):
        path.write_bytes(path.read_bytes()[:-8])
    with caplog.at_level(logging.WARNING):
        third, reused = checkpoint.encode_resumable(jobs, FakeEncoder(), work)
    assert reused == 0 and "damaged checkpoint" in caplog.text
    assert all(np.array_equal(first[s], third[s]) for s in jobs)


@pytest.mark.slow
def test_loaded_index_keeps_answering_after_another_process_replaces_it(corpus):
    """A server holds an index; an indexer in another process saves a new version and deletes the old one."""
    bot = Assistant(corpus, encoder=FakeEncoder())
    old = bot.index
    write(corpus, "new.txt", "A new document about the history of paper making in ancient China.")
    done = subprocess.run(
        [sys.executable, "-m", "tests.fake_cli", "index", str(corpus)],
        cwd=ROOT,
        env=dict(os.environ),
        capture_output=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert not old.folder.exists()
    assert bot.ask("Sourdough bread starter").hits[0].passage.source == "food.md"  # the old, deleted version
    assert "new.txt" in {p.source for p in bot.refresh().passages}


@pytest.mark.slow
def test_two_indexers_at_once_take_turns(corpus):
    for i in range(30):
        write(corpus, f"extra{i}.txt", "\n".join(f"第{i}篇文档第{p}段：关于纸张与印刷的历史。" for p in range(20)))
    command = [sys.executable, "-m", "tests.fake_cli", "index", str(corpus), "--json"]
    procs = [
        subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=dict(os.environ))
        for _ in range(3)
    ]
    results = [(p.wait(timeout=300), p.stdout.read(), p.stderr.read()) for p in procs]
    assert all(code == 0 for code, _, _ in results), results
    summaries = [json.loads(out) for _, out, _ in results]
    assert len({s["index"] for s in summaries}) == 1  # one built it, the others found it built
    assert sum(s["encoded_passages"] > 0 for s in summaries) == 1
    assert any(b"waiting for it to finish" in err for _, _, err in results)
    folder = index_folder(corpus, "fake-bigrams")
    index = _load_current(folder, FakeEncoder())
    assert len({(p.source, p.paragraph, p.part) for p in index.passages}) == len(index.passages)


def test_concurrent_refreshes_in_one_process(corpus):
    bots = [Assistant(corpus, encoder=FakeEncoder()) for _ in range(4)]
    errors = []

    def refresh(bot):
        try:
            bot.refresh()
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=refresh, args=(b,)) for b in bots]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len({b.index.folder for b in bots}) == 1


def test_rebuild_re_encodes_everything(corpus):
    Assistant(corpus, encoder=FakeEncoder()).refresh()
    encoder = FakeEncoder()
    index = Assistant(corpus, encoder=encoder).refresh(rebuild=True)
    assert index.encoded == len(index.passages) and sum(encoder.calls) >= len(index.passages)


def test_leftovers_of_a_killed_writer_are_removed_by_the_next_build(corpus):
    index = Assistant(corpus, encoder=FakeEncoder()).index
    folder = index.folder.parent
    (folder / ".tmp-v-20240101000000-aaaaaa").mkdir()
    (folder / "v-20240101000000-bbbbbb").mkdir()
    (folder / "CURRENT.v-20240101000000-bbbbbb.tmp").write_text("v-20240101000000-bbbbbb")
    assert texts(Assistant(corpus, encoder=FakeEncoder()).index) == texts(index)  # a reader leaves them alone
    write(corpus, "new.txt", "A new document about the history of paper making in ancient China.")
    new = Assistant(corpus, encoder=FakeEncoder()).index
    assert sorted(p.name for p in folder.iterdir()) == sorted(["CURRENT", "build.lock", new.folder.name])
