"""A full disk or a read-only index folder: one sentence saying so (and how much room is needed), nothing of
the failed build left behind, the previous index untouched and still answering (with one warning).

The disks are real: small tmpfs mounts of their own, filled up or remounted read-only (root is needed to
mount; the tests skip without it).
"""

import errno
import logging
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import faiss
import numpy as np
import pytest

from assistant.api import Assistant
from assistant.errors import IndexWriteError
from assistant.storage.build import index_folder
from assistant.storage.write_errors import folder_bytes, write_errno

from .conftest import ROOT, FakeEncoder, write, write_docs

pytestmark = pytest.mark.slow

DOCS = {
    "wic.txt": "世界互联网大会\n世界互联网大会国际组织于2022年7月12日在北京正式成立，总部设在中国北京。\n",
    "food.md": "# Cooking notes\n\nSourdough bread needs a starter, flour, water and salt; bake it at 230 degrees.\n\n"
    "Green tea is brewed at 80 degrees for two minutes. It is best without sugar.\n",
}
# 150 passages of two sentences each: with the fake encoder's 1024 dimensions, ~1.8 MB of vectors to encode.
BIG = "\n\n".join(
    f"Paragraph {n} tells of river town {n} and its old stone bridges. The market opens at dawn." for n in range(150)
)
SIZE = re.compile(r"needs about ([\d.]+) (kB|MB|GB) and ([\d.]+) (bytes|kB|MB|GB) are free")
UNITS = {"bytes": 1, "kB": 1e3, "MB": 1e6, "GB": 1e9}


@pytest.fixture
def disk(tmp_path):
    """``disk(size)``: a new tmpfs of ``size`` (e.g. ``"1m"``) mounted under ``tmp_path``; unmounted afterwards."""
    mounts = []

    def mount(size: str) -> Path:
        path = tmp_path / f"disk{len(mounts)}"
        path.mkdir()
        done = _run_mount("-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(path))
        if done.returncode != 0:
            pytest.skip(f"cannot mount a small tmpfs here, which needs root ({done.stderr.strip()})")
        mounts.append(path)
        return path

    yield mount
    for path in reversed(mounts):
        if subprocess.run(["umount", str(path)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(path)], capture_output=True)  # still mapped by this process


def _run_mount(*args: str) -> subprocess.CompletedProcess:
    if shutil.which("mount") is None:
        pytest.skip("no mount command here, so no small disk can be made")
    return subprocess.run(["mount", *args], capture_output=True, text=True)


def remount(path: Path, options: str) -> None:
    done = _run_mount("-o", f"remount,{options}", str(path))
    assert done.returncode == 0, done.stderr


@pytest.fixture
def corpus(tmp_path):
    return write_docs(tmp_path / "docs", DOCS)


def leftovers(folder: Path) -> list[str]:
    """What is in an index folder besides its one current version (nothing, after a failed build)."""
    current = (folder / "CURRENT").read_text()
    return sorted(p.name for p in folder.iterdir() if p.name not in ("CURRENT", "build.lock", current))


def sizes(message: str) -> tuple[float, float]:
    """(needed, free) in bytes, as the message gives them."""
    found = SIZE.search(message)
    assert found, message
    return float(found[1]) * UNITS[found[2]], float(found[3]) * UNITS[found[4]]


def warnings_about(caplog, words: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and words in r.getMessage()]


@pytest.mark.parametrize("writer", ["numpy", "faiss", "open"])
def test_every_writer_s_error_on_a_full_disk_is_known_as_one(disk, writer):
    """numpy's short write has no errno, FAISS's is a RuntimeError: both are read as a full disk."""
    root = disk("64k")
    vectors = np.ones((100, 1024), np.float32)  # 400 kB
    with pytest.raises((OSError, RuntimeError)) as info:
        if writer == "numpy":
            np.save(root / "v.npy", vectors)
        elif writer == "faiss":
            index = faiss.IndexFlatIP(1024)
            index.add(vectors)
            faiss.write_index(index, str(root / "dense.faiss"))
        else:
            (root / "a.txt").write_bytes(vectors.tobytes())
    assert write_errno(info.value) == errno.ENOSPC
    assert write_errno(RuntimeError("a bug")) is None


def test_update_that_does_not_fit_keeps_answering_from_the_previous_index(disk, corpus, caplog):
    root = disk("1m")
    old = Assistant(corpus, index_root=root, encoder=FakeEncoder()).refresh()
    folder, version = old.folder.parent, old.folder.name
    write(corpus, "big.txt", BIG)

    encoder = FakeEncoder()
    with pytest.raises(IndexWriteError) as info:
        Assistant(corpus, index_root=root, encoder=encoder).refresh()
    message = str(info.value)
    assert message.startswith(f"The disk holding {folder} is full (No space left on device): the new index needs")
    assert message.endswith("ASSISTANT_INDEX_DIR=PATH; the previous index is kept.")
    needed, free = sizes(message)
    assert free == pytest.approx(shutil.disk_usage(root).free, rel=0.1) and needed > free
    assert encoder.calls == []  # it did not encode for nothing: the vectors alone could never fit
    assert leftovers(folder) == [] and (folder / "CURRENT").read_text() == version

    with caplog.at_level(logging.WARNING):
        bot = Assistant(corpus, index_root=root, encoder=FakeEncoder())
        answer = bot.ask("Sourdough bread starter")
        assert bot.warm_up() is bot.index  # what serve does first: the previous index, no second warning
    assert answer.found and answer.hits[0].passage.source == "food.md"
    assert "big.txt" not in {p.source for p in bot.index.passages}
    (warning,) = warnings_about(caplog, "is full")
    assert "so the index is not updated with the changed documents" in warning
    assert warning.endswith("; answering from the previous index meanwhile.")

    remount(root, "size=16m")  # room made: the next build adds the document, and needed about what it said
    new = Assistant(corpus, index_root=root, encoder=FakeEncoder()).refresh()
    assert "big.txt" in {p.source for p in new.passages} and leftovers(folder) == []
    rows = len(new.passages) + len(new.sentence_vectors)  # the checkpoint held the new ones (most of them)
    assert 0.7 * (folder_bytes(new.folder) + rows * 4096) < needed < 2 * (folder_bytes(new.folder) + rows * 4096)


@pytest.mark.parametrize(
    "spare, writer",
    [(16 << 10, OSError), (128 << 10, RuntimeError)],  # numpy fails on the sentence vectors, FAISS on its copy
    ids=["numpy", "faiss"],
)
def test_save_that_does_not_fit_removes_its_version_and_checkpoints(disk, corpus, tmp_path, caplog, spare, writer):
    """The vectors fit in the checkpoint, the index after them does not: a real failed write while saving."""
    write(tmp_path / "trial", "big.txt", BIG)
    trial = Assistant(tmp_path / "trial", index_root=tmp_path / "unlimited", encoder=FakeEncoder()).refresh()
    rows = len(trial.passages) + len(trial.sentence_vectors)  # what the update encodes: big.txt's rows
    saved = len(trial.passages) * 4096 + len(trial.sentence_vectors) * (1024 + 4)  # float32; 8-bit codes, scales

    root = disk("8m")
    old = Assistant(corpus, index_root=root, encoder=FakeEncoder()).refresh()
    folder, version = old.folder.parent, old.folder.name
    write(corpus, "big.txt", BIG)
    room = rows * 4096 + saved + spare  # the checkpoint and its vectors in the index, not FAISS's copy
    (root / "filler").write_bytes(b"x" * (shutil.disk_usage(root).free - room))

    with caplog.at_level(logging.INFO), pytest.raises(IndexWriteError) as info:
        Assistant(corpus, index_root=root, encoder=FakeEncoder()).refresh()
    assert "Saving the index to" in caplog.text  # it failed while saving, after encoding
    assert type(info.value.__cause__) is writer
    message = str(info.value)
    assert message.startswith(f"The disk holding {folder} is full (No space left on device)")
    needed, free = sizes(message)
    assert free == pytest.approx(shutil.disk_usage(root).free, rel=0.1) and needed > free
    assert leftovers(folder) == [] and not (folder / "work").exists()
    assert (folder / "CURRENT").read_text() == version

    answer = Assistant(corpus, index_root=root, encoder=FakeEncoder()).ask("green tea degrees")
    assert answer.found and answer.hits[0].passage.source == "food.md"
    (root / "filler").unlink()
    new = Assistant(corpus, index_root=root, encoder=FakeEncoder()).refresh()
    assert "big.txt" in {p.source for p in new.passages} and leftovers(folder) == []


def test_read_only_index_folder_answers_from_the_last_index(disk, corpus, caplog):
    root = disk("16m")
    old = Assistant(corpus, index_root=root, encoder=FakeEncoder()).refresh()
    folder = old.folder.parent
    remount(root, "ro")

    with caplog.at_level(logging.WARNING):  # nothing changed: a pure load writes nothing
        answer = Assistant(corpus, index_root=root, encoder=FakeEncoder()).ask("Sourdough bread starter")
    assert answer.hits[0].passage.source == "food.md" and caplog.records == []

    write(corpus, "big.txt", BIG)
    with caplog.at_level(logging.WARNING):
        bot = Assistant(corpus, index_root=root, encoder=FakeEncoder())
        answer = bot.ask("Sourdough bread starter")
    assert answer.found and answer.hits[0].passage.source == "food.md" and bot.index.folder == old.folder
    (warning,) = [r.getMessage() for r in caplog.records]
    assert warning == (
        f"Cannot write the index to {folder} (Read-only file system), so the index is not updated with the "
        "changed documents. Make it writable or choose another folder with ASSISTANT_INDEX_DIR=PATH; "
        "answering from the previous index meanwhile."
    )
    with pytest.raises(IndexWriteError, match=r"\(Read-only file system\)\. .*; the previous index is kept\.$"):
        Assistant(corpus, index_root=root, encoder=FakeEncoder()).refresh()

    remount(root, "rw")
    assert "big.txt" in {p.source for p in Assistant(corpus, index_root=root, encoder=FakeEncoder()).index.passages}


def fake_cli(*argv: str, index_dir: Path) -> subprocess.CompletedProcess:
    """The real CLI with the fake encoder, in a process of its own."""
    return subprocess.run(
        [sys.executable, "-m", "tests.fake_cli", *argv],
        cwd=ROOT,
        env={**os.environ, "ASSISTANT_INDEX_DIR": str(index_dir)},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_cli_on_a_full_then_read_only_disk(disk, corpus):
    root = disk("1m")
    assert fake_cli("index", str(corpus), index_dir=root).returncode == 0
    folder = index_folder(corpus, "fake-bigrams", root)
    version = (folder / "CURRENT").read_text()
    write(corpus, "big.txt", BIG)

    built = fake_cli("index", str(corpus), index_dir=root)
    assert built.returncode == 2 and "Traceback" not in built.stderr
    (line,) = built.stderr.strip().splitlines()
    assert line.startswith(f"error: The disk holding {folder} is full (No space left on device): the new index needs")
    assert line.endswith("; the previous index is kept.")
    assert leftovers(folder) == [] and (folder / "CURRENT").read_text() == version

    asked = fake_cli("ask", "Sourdough bread starter", "--corpus", str(corpus), index_dir=root)
    assert asked.returncode == 0 and "food.md" in asked.stdout and "big.txt" not in asked.stdout
    assert asked.stderr.count("is full") == 1 and "answering from the previous index meanwhile" in asked.stderr
    assert "Traceback" not in asked.stderr

    remount(root, "ro")
    asked = fake_cli("ask", "Sourdough bread starter", "--corpus", str(corpus), index_dir=root)
    assert asked.returncode == 0 and "food.md" in asked.stdout, asked.stderr
    (line,) = asked.stderr.strip().splitlines()
    assert "(Read-only file system), so the index is not updated" in line and "Traceback" not in asked.stderr
    built = fake_cli("index", str(corpus), index_dir=root)
    assert built.returncode == 2 and "(Read-only file system)" in built.stderr and "Traceback" not in built.stderr
