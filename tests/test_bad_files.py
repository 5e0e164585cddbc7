"""Hostile corpus files through the Python API and the CLI: each is indexed correctly or skipped with one sentence.

Encodings, binaries, truncation, odd names, permissions, links, a huge line, a huge file and a folder of
10,000 files. The fake encoder keeps these fast; real models and the server are covered elsewhere.
"""

import codecs
import io
import json
import os
import struct
import subprocess
import sys
import tempfile
import time
import zipfile
import zlib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from assistant.api import Assistant
from assistant.cli import main
from assistant.errors import CorpusError, IndexStoreError
from assistant.records import Document, Paragraph
from assistant.text.documents import UndecodableFile, decode, read_document, split_paragraphs
from assistant.text.passages import make_passages

from .conftest import ROOT, FakeEncoder, assert_one_clear_sentence, write, write_docs

ZH = "世界互联网大会国际组织于2022年7月12日在北京正式成立，总部设在中国北京。"
TW = "世界網際網路大會國際組織於二零二二年在北京成立，總部設於中國北京。"
ANCHOR = "Sourdough bread needs a starter, flour, water and salt every single day."


def png() -> bytes:
    """A real 1×1 PNG image."""

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00"))
        + chunk(b"IEND", b"")
    )


def zip_file() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("notes.txt", "hello world " * 200)
    return buffer.getvalue()


# name: (bytes, expected): ("text", a phrase its passages must contain) or ("skipped", words of the reason).
FILES = {
    "empty.txt": (b"", ("skipped", "is empty")),
    "blank.md": (b"  \n\n\t\r\n\xe3\x80\x80\n", ("skipped", "is empty")),
    "image.txt": (png(), ("skipped", "binary")),
    "archive.txt": (zip_file(), ("skipped", "binary")),
    "gif.md": (b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04", ("skipped", "binary")),
    "random.txt": (bytes((i * 7919 + 13) % 255 + 1 for i in range(20_000)), ("skipped", "re-save it as UTF-8")),
    "latin1.txt": ("Crème brûlée, naïve café résumé. ".encode("latin-1") * 20, ("skipped", "re-save it as UTF-8")),
    "truncated-utf8.txt": ((ZH * 3).encode("utf-8")[:-1], ("text", ZH[:20])),
    "truncated-gb18030.txt": ((ZH * 3).encode("gb18030")[:-1], ("text", ZH[:20])),
    "gb18030.txt": ((ZH * 3).encode("gb18030"), ("text", ZH)),
    "big5.txt": ((TW * 3).encode("big5"), ("text", TW)),
    "utf16-le-bom.txt": ((ZH * 3).encode("utf-16"), ("text", ZH)),
    "utf16-be-bom.txt": (codecs.BOM_UTF16_BE + (ZH * 3).encode("utf-16-be"), ("text", ZH)),
    "utf32-bom.txt": ((ZH * 3).encode("utf-32"), ("text", ZH)),
    "utf8-bom.md": (codecs.BOM_UTF8 + f"# 标题\n\n{ZH}".encode(), ("text", ZH)),
    "crlf.txt": (f"{ZH}\r\n\r\n{ZH}\r\n".encode(), ("text", ZH)),
    "control.txt": (f"\x1b[2J\x1b[31m{ZH}\x07\x08\x7f\x9b\x0c".encode(), ("text", ZH)),
    "nul-late.txt": (b"a" * 9000 + b"\x00" + ANCHOR.encode(), ("text", ANCHOR)),
    "script.html": (
        f"<html><script>alert(1)</script><style>p{{}}</style><p>{ZH}</p><img src=x onerror=alert(2)></html>".encode(),
        ("text", ZH),
    ),
    "my notes.txt": (ANCHOR.encode(), ("text", ANCHOR)),
    "中文 文件名.md": (ANCHOR.encode(), ("text", ANCHOR)),
    'it\'s "quoted".txt': (ANCHOR.encode(), ("text", ANCHOR)),
    "back`tick $(reboot); rm -rf.txt": (ANCHOR.encode(), ("text", ANCHOR)),
    "<img src=x onerror=alert(1)>.md": (ANCHOR.encode(), ("text", ANCHOR)),
    "new\nline\ttab\x1b[2J.txt": (ANCHOR.encode(), ("text", ANCHOR)),
    "-rf.txt": (ANCHOR.encode(), ("text", ANCHOR)),
    " spaces .txt": (ANCHOR.encode(), ("text", ANCHOR)),
    "UPPER.TXT": (ANCHOR.encode(), ("text", ANCHOR)),
    "很长的名字" * 12 + ".txt": (ANCHOR.encode(), ("text", ANCHOR)),
    "one-1MB-line.txt": ((ZH * 30_000)[:340_000].encode(), ("text", ZH)),
    "one-1MB-english-line.txt": (("word " * 210_000).encode(), ("text", "word word")),
}


@pytest.fixture
def fake_cli(fake_models, tmp_path, capsys):
    """The real CLI in this process with the fake encoder."""

    def run(*argv):  # the index folder is the test's $ASSISTANT_INDEX_DIR, shared with the API calls
        code = main(list(argv))
        out = capsys.readouterr()
        return code, out.out, out.err

    return run


def corpus_with(tmp_path: Path, name: str, data: bytes) -> Path:
    folder = tmp_path / "docs"
    write(folder, "anchor.txt", "世界互联网大会的会员来自25个国家和地区，近130家单位。")
    path = folder / name
    path.write_bytes(data)
    return folder


@pytest.mark.parametrize(
    "name",
    [pytest.param(n, marks=pytest.mark.slow) if "1MB" in n else n for n in FILES],  # the 1 MB lines take seconds
)
def test_hostile_file_through_the_api_and_the_cli(tmp_path, fake_cli, name):
    data, (outcome, words) = FILES[name]
    folder = corpus_with(tmp_path, name, data)
    bot = Assistant(folder, encoder=FakeEncoder())
    index = bot.refresh()
    if outcome == "skipped":
        assert_one_clear_sentence(index.manifest["skipped"][name], name, words)
        assert {p.source for p in index.passages} == {"anchor.txt"}
    else:
        assert name not in index.manifest["skipped"]
        texts = [p.text for p in index.passages if p.source == name]
        assert any(words in t for t in texts), texts[:3]
        assert all(t and not any(c in t for c in "\x00\x07\x1b\x7f\x9b") for t in texts)
        assert all(len(t) <= 400 for t in texts)  # long lines are windowed
        answer = bot.ask(words[:60], top_k=3, threshold=0.0)
        assert name in [h.passage.source for h in answer.hits]
    code, out, err = fake_cli("index", str(folder))
    assert code == 0 and "Traceback" not in err
    assert "\x1b" not in out and "\x1b" not in err
    if outcome == "skipped":
        assert "skipped" in out and words in out


def test_passages_of_a_long_english_line_end_at_word_boundaries():
    doc = Document("d", "d.txt", "d", (Paragraph(1, "alpha beta gamma delta " * 1000),))
    passages = make_passages(doc)
    assert len(passages) > 50 and all(p.text.split()[-1] in {"alpha", "beta", "gamma", "delta"} for p in passages)
    assert " ".join(p.text for p in passages).split() == ("alpha beta gamma delta " * 1000).split()


def test_symlink_loops_and_broken_links_are_reported_not_followed_forever(tmp_path):
    folder = tmp_path / "docs"
    write(folder, "real.txt", ANCHOR)
    os.symlink("loop-b.txt", folder / "loop-a.txt")
    os.symlink("loop-a.txt", folder / "loop-b.txt")
    os.symlink("self.txt", folder / "self.txt")
    os.symlink("/definitely/not/here.txt", folder / "dangling.md")
    (folder / "sub").mkdir()
    os.symlink("..", folder / "sub" / "up")  # a folder loop
    os.symlink(folder, folder / "sub" / "again")
    index = Assistant(folder, encoder=FakeEncoder()).refresh()
    assert [p.source for p in index.passages] == ["real.txt"]  # found once, not once per loop
    for name in ["loop-a.txt", "loop-b.txt", "self.txt", "dangling.md"]:
        assert_one_clear_sentence(index.manifest["skipped"][name], "symbolic link")


@pytest.mark.slow
def test_folder_of_10000_small_files(tmp_path):
    folder = tmp_path / "many"
    for i in range(10_000):
        sub = folder / f"part{i // 1000}"
        sub.mkdir(parents=True, exist_ok=True)
        (sub / f"note{i:05d}.txt").write_text(f"Note {i}: the secret code of box {i} is K{i * 7919 % 100000:05d}.")
    encoder = FakeEncoder()
    bot = Assistant(folder, encoder=encoder)
    index = bot.refresh()
    assert len(index.passages) == 10_000 and len({p.source for p in index.passages}) == 10_000
    hit = bot.ask("What is the secret code of box 4321?", top_k=1, threshold=0.0).hits[0]
    assert hit.passage.source == "part4/note04321.txt"
    (folder / "part7" / "note07000.txt").write_text("Note 7000 was rewritten: the code is now Q12345.")
    encoder.calls.clear()
    again = Assistant(folder, encoder=encoder).refresh()
    assert again.encoded == 1 and len(again.passages) == 10_000


@pytest.mark.slow
def test_50_mb_file_is_read_and_split_in_linear_time(tmp_path):
    """Reading and windowing a 50 MB file; the full index of one is `python benchmarks/bigfile.py --mb 1 5 50`."""
    line = ZH + ANCHOR + "\n"
    path = tmp_path / "big.txt"
    repeats = 50_000_000 // len(line.encode()) + 1
    path.write_bytes((line * repeats).encode()[:50_000_000])
    doc = read_document(path)
    passages = make_passages(doc)
    assert len(doc.paragraphs) >= repeats - 1 and passages[-1].paragraph == len(doc.paragraphs)
    assert sum(len(p.text) for p in passages) > 0.9 * len(line) * repeats


def test_file_larger_than_the_limit_is_skipped_with_a_reason(tmp_path, monkeypatch):
    import assistant.text.documents

    monkeypatch.setattr(assistant.text.documents, "MAX_FILE_BYTES", 1000)
    folder = corpus_with(tmp_path, "huge.txt", ANCHOR.encode() * 100)
    index = Assistant(folder, encoder=FakeEncoder()).refresh()
    assert_one_clear_sentence(index.manifest["skipped"]["huge.txt"], "larger than", "split it")


def test_a_file_vanishing_while_indexing_is_skipped(tmp_path, monkeypatch):
    import assistant.storage.reading

    folder = corpus_with(tmp_path, "ghost.txt", ANCHOR.encode())
    real = assistant.storage.reading.read_document

    def vanish(path, **kwargs):
        if Path(path).name == "ghost.txt":
            Path(path).unlink()
        return real(path, **kwargs)

    monkeypatch.setattr(assistant.storage.reading, "read_document", vanish)
    index = Assistant(folder, encoder=FakeEncoder()).refresh()
    assert_one_clear_sentence(index.manifest["skipped"]["ghost.txt"], "cannot be read")


def test_a_corpus_of_only_bad_files_says_what_to_do(tmp_path, fake_cli):
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "a.txt").write_bytes(png())
    (folder / "b.txt").write_bytes(b"")
    with pytest.raises(CorpusError) as info:
        Assistant(folder, encoder=FakeEncoder()).refresh()
    assert_one_clear_sentence(str(info.value), "could be read")
    code, out, err = fake_cli("index", str(folder))
    assert code == 2 and "could be read" in err and "Traceback" not in err


@pytest.mark.parametrize("target", ["missing", "file", "empty-folder", "only-hidden"])
def test_unusable_corpus_paths_say_what_to_do(tmp_path, fake_cli, target):
    path = tmp_path / target
    if target == "file":
        path.write_bytes(b"\x00\x01")  # a file without a supported suffix
    elif target == "empty-folder":
        path.mkdir()
    elif target == "only-hidden":
        write(path, ".hidden.txt", ANCHOR)
    code, out, err = fake_cli("index", str(path))
    assert code == 2 and out == ""
    assert_one_clear_sentence(err, "error:")


# Permissions: the tests run as root in CI, and root reads any file. A child process that drops to
# the unprivileged user "nobody" makes permissions real; where that is impossible the test says so.


def run_as_nobody(argv: list, index_dir: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tests.fake_cli", *argv],
        cwd=ROOT,
        env={**os.environ, "ASSISTANT_INDEX_DIR": str(index_dir), "FAKE_CLI_USER": "nobody"},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def shared_tmp():
    """A folder "nobody" can enter (pytest's tmp_path is private to root)."""
    import shutil

    folder = Path(tempfile.mkdtemp(prefix="assistant-perm-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def permissions_enforced_for(user_is_root: bool) -> None:
    if user_is_root:
        import pwd

        try:
            pwd.getpwnam("nobody")
        except KeyError:
            pytest.skip("running as root and there is no 'nobody' user to drop to, so permissions cannot be tested")


def make_public_corpus(root: Path) -> Path:
    folder = root / "docs"
    folder.mkdir()
    folder.chmod(0o755)
    for name, text in {"open.txt": ZH, "locked.txt": ANCHOR}.items():
        (folder / name).write_text(text)
        (folder / name).chmod(0o644)
    (folder / "locked.txt").chmod(0o000)
    (folder / "closed").mkdir()
    (folder / "closed" / "inner.txt").write_text(ANCHOR)
    (folder / "closed").chmod(0o000)
    return folder


@pytest.mark.slow
def test_unreadable_file_and_folder_are_skipped_with_a_reason(shared_tmp):
    folder = make_public_corpus(shared_tmp)
    index_dir = shared_tmp / "embeddings"
    index_dir.mkdir(mode=0o777)
    index_dir.chmod(0o777)
    if os.geteuid() == 0:
        permissions_enforced_for(user_is_root=True)
        done = run_as_nobody(["index", str(folder), "--json"], index_dir)
        assert done.returncode == 0, done.stderr
        summary = json.loads(done.stdout)
        assert summary["passages"] == 1 and "Traceback" not in done.stderr
        assert_one_clear_sentence(summary["skipped"]["locked.txt"], "permission denied", "fix its permissions")
        assert "closed" in done.stderr  # the unreadable folder is named in a warning
    else:
        index = Assistant(folder, encoder=FakeEncoder(), index_root=index_dir).refresh()
        assert_one_clear_sentence(index.manifest["skipped"]["locked.txt"], "permission denied")


@pytest.mark.slow
def test_read_only_index_folder(shared_tmp):
    """No index yet: one sentence saying how to fix it. An index already there: it is used as it is."""
    folder = make_public_corpus(shared_tmp)
    read_only = shared_tmp / "ro-embeddings"
    read_only.mkdir()
    if os.geteuid() == 0:
        permissions_enforced_for(user_is_root=True)
        read_only.chmod(0o555)
        done = run_as_nobody(["ask", "世界互联网大会", "--corpus", str(folder)], read_only)
        assert done.returncode == 2 and "Traceback" not in done.stderr
        message = done.stderr.strip().splitlines()[-1]
        assert_one_clear_sentence(message, "Cannot write the index", "ASSISTANT_INDEX_DIR")
        read_only.chmod(0o777)
        built = run_as_nobody(["index", str(folder)], read_only)
        assert built.returncode == 0, built.stderr
        for path in [read_only, *read_only.rglob("*")]:
            path.chmod(0o555 if path.is_dir() else 0o444)
        done = run_as_nobody(["ask", "世界互联网大会", "--corpus", str(folder)], read_only)
        assert done.returncode == 0 and "open.txt" in done.stdout, done.stderr
    else:
        read_only.chmod(0o555)
        with pytest.raises(IndexStoreError, match="Cannot write the index"):
            Assistant(folder, encoder=FakeEncoder(), index_root=read_only).refresh()


def test_missing_index_folder_is_created(tmp_path):
    folder = corpus_with(tmp_path, "a.txt", ANCHOR.encode())
    root = tmp_path / "deep" / "new" / "embeddings"
    index = Assistant(folder, encoder=FakeEncoder(), index_root=root).refresh()
    assert index.folder.is_relative_to(root) and (index.folder / "manifest.json").exists()


def test_index_folder_that_is_a_file_gives_one_sentence(tmp_path, fake_cli, monkeypatch):
    folder = corpus_with(tmp_path, "a.txt", ANCHOR.encode())
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    for root in (blocker, blocker / "embeddings"):
        with pytest.raises(IndexStoreError) as info:
            Assistant(folder, encoder=FakeEncoder(), index_root=root).refresh()
        assert_one_clear_sentence(str(info.value), "Cannot write the index", "ASSISTANT_INDEX_DIR")


# Properties over any bytes and any text.


@given(data=st.binary(max_size=3000))
@settings(max_examples=400, deadline=None)
def test_any_bytes_decode_or_raise_one_clear_error(data):
    try:
        text, encoding = decode(data, name="x.txt")
    except UndecodableFile as exc:
        assert_one_clear_sentence(str(exc), "x.txt")
        return
    assert isinstance(text, str) and encoding
    text.encode("utf-8")  # never lone surrogates


@given(text=st.text(max_size=3000))
@settings(max_examples=300, deadline=None)
def test_any_text_round_trips_through_utf8_and_gb18030(text):
    cleaned = "".join(split_paragraphs(text))
    for encoding in ("utf-8", "utf-8-sig", "utf-16"):
        decoded, _ = decode(text.encode(encoding, "surrogatepass"), name="x.txt") if "\x00" not in text else (text, "")
        assert "".join(split_paragraphs(decoded)) == cleaned


@given(text=st.text(st.characters(blacklist_categories=["Cs"]), max_size=4000), max_chars=st.integers(20, 500))
@example(text="0" * 38 + "?0", max_chars=20)  # the space joining two Latin sentences once made a part 21 long
@settings(max_examples=300, deadline=None)
def test_passages_keep_every_character_in_order(text, max_chars):
    """Nothing lost, nothing duplicated, nothing out of order, every paragraph cited exactly once."""
    paragraphs = split_paragraphs(text)
    doc = Document("d", "d.txt", "d", tuple(Paragraph(i, t) for i, t in enumerate(paragraphs, 1)))
    passages = make_passages(doc, max_chars=max_chars)

    def squash(s):
        return "".join(s.split())

    assert squash("".join(p.text for p in passages)) == squash("".join(paragraphs))
    # a part is at most max_chars long, plus a light last part joined to it (a space and max_chars // 8)
    assert all(p.text and len(p.text) <= max_chars + 1 + max_chars // 8 for p in passages if p.part)
    covered = []
    for p in passages:
        if p.part <= 1:
            covered.extend(range(p.first_paragraph, p.last_paragraph + 1))
        assert p.first_paragraph <= p.paragraph <= p.last_paragraph
    assert covered == list(range(1, len(paragraphs) + 1))


@given(name=st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters="/\x00"), min_size=1, max_size=60))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@pytest.mark.slow
def test_any_file_name_is_indexed_or_skipped(tmp_path_factory, name):
    folder = tmp_path_factory.mktemp("names")
    target = folder / (name + ".txt")
    if name in (".", "..") or len(target.name.encode()) > 255 or target.name.startswith("."):
        return
    target.write_text(ANCHOR)
    index = Assistant(folder, encoder=FakeEncoder(), index_root=folder / ".emb").refresh()
    assert [p.source for p in index.passages] == [target.name]


@pytest.mark.slow
def test_many_hostile_files_at_once_index_in_reasonable_time(tmp_path):
    """All of FILES in one corpus: every good file indexed, every bad one skipped, none lost."""
    folder = tmp_path / "all"
    folder.mkdir()
    files = {name: case for name, case in FILES.items() if "1MB" not in name}  # those have their own test
    for name, (data, _) in files.items():
        (folder / name).write_bytes(data)
    started = time.perf_counter()
    index = Assistant(folder, encoder=FakeEncoder()).refresh()
    elapsed = time.perf_counter() - started
    indexed = {p.source for p in index.passages}
    for name, (_, (outcome, _)) in files.items():
        assert (name in indexed) == (outcome == "text"), name
        assert (name in index.manifest["skipped"]) == (outcome == "skipped"), name
    print(f"{len(files)} hostile files indexed in {elapsed:.1f} s")


def test_names_that_are_not_utf8(tmp_path, fake_cli):
    """Linux allows any bytes in a name: such a file is skipped with a reason, such a folder still works."""
    folder = Path(os.fsdecode(bytes(tmp_path) + b"/docs-\xff\xfe"))
    write(folder, "good.txt", ANCHOR)
    (folder / os.fsdecode(b"bad-\xff.txt")).write_text(ANCHOR)
    index = Assistant(folder, encoder=FakeEncoder()).refresh()
    assert [p.source for p in index.passages] == ["good.txt"]
    assert_one_clear_sentence(index.manifest["skipped"]["bad-\ufffd.txt"], "not UTF-8", "rename it")
    code, out, err = fake_cli("ask", "sourdough starter", "--corpus", str(folder))
    assert code == 0 and "good.txt" in out and "Traceback" not in err


def test_sentence_vectors_setting_from_the_command_line(tmp_path, fake_cli):
    folder = write_docs(tmp_path / "docs", {"a.txt": "第一句话。第二句话讲茶。\n\nTea is brewed. Then it is served."})
    code, out, _ = fake_cli("index", str(folder), "--json", "--sentence-vectors", "off")
    assert code == 0 and json.loads(out)["sentence_vectors"] == 0
    code, out, _ = fake_cli("index", str(folder), "--json")  # auto, with a model that pools them: made now
    assert code == 0 and json.loads(out)["sentence_vectors"] >= 2
    with pytest.raises(SystemExit) as stop:
        fake_cli("index", str(folder), "--sentence-vectors", "maybe")
    assert stop.value.code == 2


def test_a_skipped_file_is_named_once_when_a_second_index_reads_the_folder(tmp_path, fake_models):
    """The stronger index's build (``Upgrade``) reads the folder after the fast one: one warning, not two."""
    import logging

    from assistant.api import Assistant

    said: list[str] = []

    class Said(logging.Handler):  # on the package's logger: the CLI's ``index`` filters the root's handlers
        def emit(self, record):
            said.append(record.getMessage())

    handler = Said(logging.WARNING)
    logging.getLogger("assistant").addHandler(handler)
    try:
        corpus = tmp_path / "docs"
        corpus.mkdir()
        (corpus / "good.txt").write_text("世界互联网大会国际组织于2022年在北京成立。", encoding="utf-8")
        (corpus / "broken.pdf").write_bytes(b"%PDF-1.4 this is not a real pdf")
        (corpus / "old.doc").write_bytes(b"not a docx")
        for model, root in (("fast-one", tmp_path / "a"), ("strong-one", tmp_path / "b"), ("fast-one", tmp_path / "a")):
            Assistant(corpus, model=model, index_root=root, progress=False).refresh()
        for name in ("broken.pdf", "old.doc"):
            lines = [m for m in said if name in m]
            assert len(lines) == 1 and lines[0].startswith("Skipped: "), said
        (corpus / "broken.pdf").write_bytes(b"%PDF-1.4 still not a pdf, other bytes")  # changed: said again
        Assistant(corpus, model="fast-one", index_root=tmp_path / "a", progress=False).refresh()
        assert len([m for m in said if "broken.pdf" in m]) == 2
    finally:
        logging.getLogger("assistant").removeHandler(handler)
