"""The command line, in-process, with the real default model."""

import json
import subprocess
import sys

import pytest

from assistant.api import Assistant
from assistant.cli import build_parser, main
from assistant.errors import CorpusError
from assistant.storage import checkpoint
from assistant.storage.build import index_folder

from .conftest import ROOT, SEEDS, FakeEncoder, write, write_docs

TEA = "# Tea notes\n\nGreen tea is brewed at 80 degrees for two minutes.\n"

pytestmark = pytest.mark.slow


def run(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_ask_json_gives_cited_passages_best_first(capsys):
    code, out, _ = run(capsys, "ask", "世界互联网大会国际组织是什么时候成立的?", "--json", "--corpus", str(SEEDS))
    data = json.loads(out)
    assert code == 0 and data["found"] is True
    assert set(data) == {"question", "found", "answer", "passages"}
    top = data["passages"][0]
    assert (top["source"], top["paragraph"], top["title"]) == (
        "wuzhen_summit_ten_years_interview.txt",
        15,
        "乌镇峰会十年,网络空间命运共同体何以构建?",
    )
    assert {"text", "title", "source", "paragraph", "score"} <= set(top)
    scores = [p["score"] for p in data["passages"]]
    assert scores == sorted(scores, reverse=True) and len(scores) == 5
    assert "2022年7月12日" in data["answer"]


def test_ask_not_found_has_no_passages(capsys):
    code, out, _ = run(capsys, "ask", "明天北京会下雨吗?", "--json", "--corpus", str(SEEDS))
    data = json.loads(out)
    assert code == 0 and data["found"] is False and data["passages"] == []


def test_ask_with_history(capsys):
    code, out, _ = run(
        capsys,
        "ask",
        "它现在有多少会员?",
        "--history",
        "世界互联网大会国际组织是什么时候成立的?",
        "--json",
        "-k",
        "3",
        "--corpus",
        str(SEEDS),
    )
    data = json.loads(out)
    assert data["passages"][0]["paragraph"] == 13 and len(data["passages"]) == 3


def test_ask_text_output_shows_citations(capsys):
    code, out, _ = run(
        capsys, "ask", "When was the WIC international organization founded?", "-k", "1", "--corpus", str(SEEDS)
    )
    assert code == 0
    assert "[1] 乌镇峰会十年,网络空间命运共同体何以构建? · wuzhen_summit_ten_years_interview.txt · ¶15" in out


def test_index_own_folder_then_ask_it(capsys, tmp_path):
    write(tmp_path / "docs", "notes.md", "# Tea notes\n\nGreen tea is brewed at 80 degrees for two minutes.\n")
    write(tmp_path / "docs", "bad.txt", "")
    (tmp_path / "docs" / "photo.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    code, out, _ = run(capsys, "index", str(tmp_path / "docs"), "--json")
    summary = json.loads(out)
    assert code == 0 and summary["passages"] == 1 and sorted(summary["skipped"]) == ["bad.txt", "photo.txt"]
    code, out, _ = run(capsys, "index", str(tmp_path / "docs"), "--json")
    assert json.loads(out)["encoded_passages"] == 0  # unchanged corpus, skipped files included: nothing re-done
    code, out, _ = run(
        capsys, "ask", "At what temperature is green tea brewed?", "--json", "--corpus", str(tmp_path / "docs")
    )
    top = json.loads(out)["passages"][0]
    assert (top["source"], top["paragraph"], top["citation"], top["title"]) == (
        "notes.md",
        2,
        "Tea notes · ¶1",
        "Tea notes",
    )


@pytest.mark.parametrize(
    "argv, message",
    [
        (["ask", "   "], "The question is empty"),
        (["ask", "hello", "--corpus", "/definitely/not/here"], "does not exist"),
        (["ask", "hello", "-k", "0"], "from 1 to 50"),
        (["ask", "hello", "--model", "no-such-model-anywhere"], "Cannot load the embedding model"),
    ],
)
def test_user_mistakes_get_one_sentence_and_exit_2(capsys, argv, message):
    code, out, err = run(capsys, *argv)
    assert code == 2 and message in err and "Traceback" not in err and err.count("\n") == 1


@pytest.mark.parametrize("command", ["index", "ask", "serve"])
def test_every_command_has_help_with_an_example(capsys, command):
    with pytest.raises(SystemExit):
        build_parser().parse_args([command, "--help"])
    assert "example: python -m assistant" in capsys.readouterr().out


def fake_cli(*argv: str) -> subprocess.CompletedProcess:
    """The real CLI as a process, with the fake encoder (no model is loaded)."""
    return subprocess.run(
        [sys.executable, "-m", "tests.fake_cli", *argv], cwd=ROOT, capture_output=True, text=True, timeout=120
    )


def test_an_empty_folder_error_shows_how_each_front_end_gives_a_folder(tmp_path):
    (tmp_path / "empty").mkdir()
    done = fake_cli("index", str(tmp_path / "empty"))
    assert done.returncode == 2 and "--corpus" not in done.stderr
    assert done.stderr.strip().endswith("pass another folder. For example: python -m assistant index FOLDER")
    done = fake_cli("ask", "hello", "--corpus", str(tmp_path / "missing"))
    assert done.returncode == 2 and "For example: python -m assistant ask" in done.stderr
    with pytest.raises(CorpusError) as info:
        Assistant(tmp_path / "empty", encoder=FakeEncoder()).refresh()
    assert str(info.value).endswith("put documents there or pass another folder.") and "--" not in str(info.value)


def test_index_counts_indexed_files_and_names_the_skipped_ones(tmp_path):
    docs = write_docs(tmp_path / "docs", {"notes.md": TEA, "more.md": "# More\n\nBlack tea is brewed hotter.\n"})
    write(docs, "bad.txt", "")
    (docs / "photo.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    write(docs, "old.doc", "x")
    done = fake_cli("index", str(docs))
    assert done.returncode == 0 and done.stdout.startswith("Indexed 2 file(s) (3 skipped, below), 2 passages")
    assert "  skipped bad.txt: bad.txt is empty" in done.stdout and "  skipped photo.txt: " in done.stdout
    for name in ("bad.txt", "photo.txt", "old.doc"):  # named once: in the summary, not in a log line as well
        assert (done.stdout + done.stderr).count(name) == 2, done.stderr  # "skipped old.doc: old.doc is …"
    assert json.loads(fake_cli("index", str(docs), "--json").stdout)["files"] == 2


@pytest.mark.parametrize("change", ["delete", "rewrite"])
def test_a_change_to_skipped_files_only_loads_no_model_and_saves_no_version(tmp_path, change):
    docs = write_docs(tmp_path / "docs", {"notes.md": TEA})
    write(docs, "bad.txt", "")
    write(docs, "worse.txt", "")
    first = Assistant(docs, encoder=FakeEncoder()).refresh()
    if change == "delete":
        (docs / "bad.txt").unlink()
    else:
        write(docs, "bad.txt", " \n\n ")
    index = Assistant(docs, encoder=NoModel()).refresh()
    assert index.folder == first.folder and sorted(p.name for p in first.folder.parent.glob("v-*")) == [
        first.folder.name
    ]
    expected = ["worse.txt"] if change == "delete" else ["bad.txt", "worse.txt"]
    assert sorted(index.manifest["skipped"]) == expected and "notes.md" in index.manifest["files"]


def test_a_damaged_index_is_reported_once(tmp_path):
    docs = write_docs(tmp_path / "docs", {"notes.md": TEA})
    assert fake_cli("index", str(docs)).returncode == 0
    folder = index_folder(docs, "fake-bigrams")
    (folder / (folder / "CURRENT").read_text() / "dense.faiss").write_bytes(b"not an index")
    done = fake_cli("index", str(docs))
    assert done.returncode == 0 and done.stderr.count("is damaged") == 1, done.stderr


def test_the_progress_bar_says_what_it_counts(tmp_path, capsys):
    jobs = {"a.md": [("First passage.", ((0, 6), (7, 14))), ("Second passage.", ())]}
    checkpoint.encode_resumable(jobs, FakeEncoder(), tmp_path / "work", progress=True)
    assert "Encoding 2 passages (4 texts with their sentences)" in capsys.readouterr().err


class NoModel(FakeEncoder):
    """Fails as soon as the model would be loaded."""

    @property
    def dimension(self) -> int:
        raise AssertionError("the model was loaded")

    def encode(self, texts, *, progress=False):
        raise AssertionError("the model was loaded")
