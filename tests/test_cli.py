"""The command line, in-process, with the real default model."""

import json

import pytest

from assistant.cli import build_parser, main

from .conftest import SEEDS, write

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
