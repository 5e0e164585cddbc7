"""Crash test: the indexer is killed with SIGKILL at random points, again and again, while a reader loads.

After every kill the saved index is exactly the previous one or the new one (every passage once, vectors
row-aligned), a reader in this process never fails, and a restarted build resumes from the chunks the
killed one had encoded. ``ASSISTANT_CRASH_KILLS=200 python -m pytest tests/test_crash.py -s`` is the
long form.
"""

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from assistant.storage.build import index_folder
from assistant.storage.loading import _load_current
from assistant.text import embed_text

from .conftest import ROOT, SEEDS, FakeEncoder

pytestmark = pytest.mark.slow

KILLS = int(os.environ.get("ASSISTANT_CRASH_KILLS", "20"))


def sentences() -> list[str]:
    text = (SEEDS / "wuzhen_summit_ten_years_interview.txt").read_text("utf-8")
    return [s + "。" for s in text.replace("\n", "").split("。") if len(s) > 8]


def write_corpus(folder: Path, variant: str, *, files: int = 90, paragraphs: int = 12) -> None:
    """Variant A; B: a third of the files changed, a tenth removed, a few added; C: A with a few files added
    (an update that appends a segment; their names sort among A's)."""
    rng = random.Random(7)
    pool = sentences()
    wanted = set()
    for f in range(files + (8 if variant == "B" else 0)):
        if variant == "B" and f % 10 == 3:
            continue
        name = f"doc{f:03d}.txt"
        if variant == "C" and f % 11 == 5:
            extra = f"doc{f:03d}-added.txt"
            wanted.add(extra)
            words = " ".join(random.Random(f).sample(pool, 3))  # not from rng: A's files must stay the same
            (folder / extra).write_text(f"新增文档{f}：{words}\n", "utf-8")
        wanted.add(name)
        lines = []
        for p in range(paragraphs):
            words = " ".join(rng.sample(pool, 2))
            changed = variant == "B" and f % 3 == 0
            lines.append(f"第{f}号文档第{p}段{'（修订）' if changed else ''}：{words}")
        (folder / name).write_text("\n".join(lines) + "\n", "utf-8")
    for path in folder.glob("*.txt"):
        if path.name not in wanted:
            path.unlink()


def fingerprint(index) -> list[tuple]:
    """The passages, sorted (an appended file's rows come after the others, a full build's in name order)."""
    return sorted((p.source, p.paragraph, p.part, p.text) for p in index.passages)


def check_consistent(index, encoder: FakeEncoder) -> None:
    """Every passage once, and each vector is the vector of its own passage (nothing mixed)."""
    prints = fingerprint(index)
    assert len(prints) == len(set(prints))
    vectors = np.asarray(index.vectors_array())
    assert len(vectors) == len(prints) == index.dense.size == index.keyword.size
    rows = random.Random(len(prints)).sample(range(len(prints)), 12)
    expected = encoder.encode([embed_text(index.passages[r]) for r in rows])
    assert np.allclose(vectors[rows], expected, atol=1e-5)


def start_indexer(corpus: Path, index_root: Path, log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.fake_cli", "index", str(corpus), "--json", "-v"],
        cwd=ROOT,
        env={**os.environ, "ASSISTANT_INDEX_DIR": str(index_root)},
        stdout=subprocess.PIPE,
        stderr=open(log, "wb"),  # noqa: SIM115 (closed with the process)
    )


MARKERS = {  # log lines of the indexer, in order, and the phase each one starts
    "Encoding": "encoding",
    "Building the keyword index": "keyword index",
    "Saving the index": "saving",
    "Saved index": "cleaning up",
}


def phase(log: Path) -> str:
    """How far a killed run got, from its log."""
    text = log.read_text(errors="replace")
    reached = [name for marker, name in MARKERS.items() if marker in text]
    return reached[-1] if reached else "starting"


def wait_for(log: Path, marker: str, proc: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if marker in log.read_text(errors="replace"):
            return
        time.sleep(0.01)


class Reader(threading.Thread):
    """Loads the saved index over and over, as a server in another process would."""

    def __init__(self, folder: Path, allowed: list):
        super().__init__(daemon=True)
        self.folder, self.allowed = folder, allowed
        self.loads, self.failures = 0, []
        self.stop = threading.Event()

    def run(self):
        encoder = FakeEncoder()
        while not self.stop.is_set():
            try:
                index = _load_current(self.folder, encoder)
                if index is None or fingerprint(index) not in self.allowed:
                    self.failures.append("no index" if index is None else "unexpected passages")
                self.loads += 1
            except Exception as exc:  # the reader must never see an error
                self.failures.append(repr(exc))
            time.sleep(0.2)


def test_sigkill_at_random_points_leaves_old_or_new_index_and_resumes(tmp_path):
    corpus, root = tmp_path / "corpus", tmp_path / "embeddings"
    corpus.mkdir()
    encoder = FakeEncoder()
    expected = {}
    for variant in ("A", "B", "C"):  # the exact passages each variant must give, built in this process
        write_corpus(corpus, variant)
        from assistant.api import Assistant

        expected[variant] = fingerprint(Assistant(corpus, encoder=FakeEncoder(), index_root=tmp_path / variant).index)
    assert len({tuple(v) for v in expected.values()}) == 3

    write_corpus(corpus, "A")
    started = time.perf_counter()
    first = start_indexer(corpus, root, tmp_path / "first.log")
    assert first.wait(timeout=300) == 0
    full_run = time.perf_counter() - started
    folder = index_folder(corpus, "fake-bigrams", root)
    observed = fingerprint(_load_current(folder, encoder))
    assert observed == expected["A"]
    segments = {name for name, _ in _load_current(folder, encoder).segments}

    reader = Reader(folder, list(expected.values()))
    reader.start()
    rng = random.Random(int(os.environ.get("ASSISTANT_CRASH_SEED", "20240611")))
    # A → B changes and deletes files (a full rewrite), B → A likewise, A → C only adds (a new segment).
    targets = iter(["B", "A", "C", "A"] * KILLS)
    target, kills, completed, phases, resumed, appended = next(targets), 0, 0, {}, 0, 0
    write_corpus(corpus, target)
    attempts = 0
    while kills < KILLS:
        attempts += 1
        assert attempts < KILLS * 4, "the indexer keeps finishing before it can be killed"
        log = tmp_path / f"run{attempts}.log"
        proc = start_indexer(corpus, root, log)
        # Half the kills at any time, half within a chosen phase (the short save phase more often).
        marker = rng.choice(
            [None, None, None, None, "Encoding", "Building the keyword index", "Saving the index", "Saving the index"]
        )
        if marker is None:
            time.sleep(rng.uniform(0.1, full_run * 1.1))
        else:
            wait_for(log, marker, proc, timeout=full_run * 3)
            time.sleep(rng.uniform(0.0, 0.1 if marker.startswith("Saving") else 0.5))
        proc.send_signal(signal.SIGKILL)
        code = proc.wait(timeout=60)
        if code == -signal.SIGKILL:
            kills += 1
            phases[phase(log)] = phases.get(phase(log), 0) + 1
        else:
            assert code == 0, log.read_text()
            completed += 1
            resumed += json.loads(proc.stdout.read())["resumed_texts"]
        index = _load_current(folder, encoder)
        assert index is not None, "the saved index was lost"
        now = fingerprint(index)
        assert now in (observed, expected[target]), "the index is neither the old nor the new one"
        check_consistent(index, encoder)
        observed = now
        if now == expected[target]:  # done: switch the corpus so that the next run has work to do
            if target == "C":  # only files added: the previous segments are all kept, one is added
                appended += 1
                assert segments < {name for name, _ in index.segments}, "A → C should append a segment"
            segments = {name for name, _ in index.segments}  # of the version the next update starts from
            target = next(targets)
            write_corpus(corpus, target)

    # Whatever the random kills hit, one kill always lands just after a checkpoint chunk is written (the
    # machine's speed decides how often the random ones do): the final build must then resume from it.
    # A kill between saving an index and clearing its checkpoints leaves chunks of an older corpus behind,
    # which the next build cannot use: wait for a chunk this build writes.
    for attempt in range(3):
        stale = set((folder / "work").glob("*.npy"))
        proc = start_indexer(corpus, root, tmp_path / f"chunked{attempt}.log")
        deadline = time.monotonic() + 300
        while proc.poll() is None and time.monotonic() < deadline and not set((folder / "work").glob("*.npy")) - stale:
            time.sleep(0.002)
        proc.send_signal(signal.SIGKILL)
        if proc.wait(timeout=60) == -signal.SIGKILL:
            kills += 1
            phases["encoding"] = phases.get("encoding", 0) + 1
            break
        resumed += json.loads(proc.stdout.read())["resumed_texts"]  # it finished first: give it new work
        observed = fingerprint(_load_current(folder, encoder))
        target = next(targets)
        write_corpus(corpus, target)
    proc = start_indexer(corpus, root, tmp_path / "final.log")
    assert proc.wait(timeout=300) == 0
    summary = json.loads(proc.stdout.read())
    resumed += summary["resumed_texts"]
    index = _load_current(folder, encoder)
    assert fingerprint(index) == expected[target]
    check_consistent(index, encoder)
    reader.stop.set()
    reader.join(timeout=30)
    leftovers = sorted(p.name for p in folder.iterdir())
    assert leftovers == sorted(["CURRENT", "build.lock", index.folder.name]), leftovers
    assert reader.failures == [] and reader.loads > 0
    assert resumed > 0, "no restarted build re-used the chunks of a killed one"
    print(
        f"\n{kills} SIGKILLs survived ({phases}); {completed} runs finished before their kill; "
        f"{resumed} texts resumed from checkpoints; {reader.loads} concurrent loads, 0 failures; "
        f"full run {full_run:.1f} s; {appended} of the updates that were reached appended a segment"
    )
