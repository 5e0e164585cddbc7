"""Hostile questions and settings through the Python API and the CLI: a correct answer or one clear sentence.

The same questions go through the real web server in test_bad_web.py.
"""

import json
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import assistant.api.assistant
from assistant.api import Assistant
from assistant.cli import main
from assistant.errors import AssistantError, ModelError, QuestionError
from assistant.records import Answer
from assistant.search.answer import render_markdown, render_text

from .conftest import QUESTIONS, ROOT, FakeEncoder, assert_one_clear_sentence, write

DOCS = {
    "wic.txt": "世界互联网大会\n世界互联网大会国际组织于2022年7月12日在北京正式成立，总部设在中国北京。\n"
    "目前国际组织已有来自25个国家和地区的近130家会员单位加入。\n",
    "food.md": "# Cooking notes\n\nSourdough bread needs a starter, flour, water and salt; bake it at 230 degrees.\n\n"
    "Green tea is brewed at 80 degrees for two minutes.\n",
}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    folder = tmp_path_factory.mktemp("docs")
    for name, text in DOCS.items():
        write(folder, name, text)
    return folder


@pytest.fixture(scope="module")
def bot(corpus, tmp_path_factory):
    bot = Assistant(corpus, encoder=FakeEncoder(), index_root=tmp_path_factory.mktemp("emb"))
    bot.refresh()
    return bot


def assert_well_formed(answer: Answer, bot: Assistant, *, k: int = 5) -> None:
    """Any answer: JSON-safe, cites real passages, shows no HTML of its own."""
    assert isinstance(answer, Answer)
    json.dumps(answer.to_dict(), ensure_ascii=False).encode("utf-8")  # no lone surrogates
    render_text(answer).encode("utf-8")
    assert answer.found == bool(answer.hits) and len(answer.hits) <= k
    for hit in answer.hits:
        assert hit.passage in bot.index.passages
    markdown = render_markdown(answer).replace("<strong>", "").replace("</strong>", "")
    outside_code = markdown.split("`")[::2]  # file names sit in code spans, where Markdown shows < as text
    assert all("<" not in part for part in outside_code), markdown


def check(bot: Assistant, question: str, expected) -> None:
    if isinstance(expected, tuple):
        with pytest.raises(QuestionError) as info:
            bot.ask(question)
        assert_one_clear_sentence(str(info.value), *expected[1:])
        return
    answer = bot.ask(question)
    assert_well_formed(answer, bot)
    if expected != "answer":  # ranked as plain text: the topic word still leads to its document
        assert bot.ask(question, threshold=0.0).hits[0].passage.source == expected


@pytest.mark.parametrize("name", QUESTIONS)
def test_hostile_question_through_the_api(bot, name):
    question, expected = QUESTIONS[name]
    check(bot, question, expected)


@pytest.mark.parametrize("name", QUESTIONS)
def test_hostile_question_as_history(bot, name):
    """Earlier turns are as untrusted as the question: a follow-up after any of them still works."""
    answer = bot.ask("它有多少会员?", [QUESTIONS[name][0], "世界互联网大会国际组织是什么时候成立的?"])
    assert_well_formed(answer, bot)
    assert answer.found and answer.hits[0].passage.source == "wic.txt"


@given(question=st.text(max_size=2500))
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_text_gets_an_answer_or_one_sentence(bot, question):
    try:
        answer = bot.ask(question)
    except QuestionError as exc:
        assert_one_clear_sentence(str(exc))
        return
    assert_well_formed(answer, bot)


@given(
    question=st.text(max_size=200),
    history=st.lists(st.text(max_size=200), max_size=4),
    top_k=st.one_of(st.integers(-(10**12), 10**12), st.sampled_from([0, 1, 50, 51])),
    alpha=st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True)),
    threshold=st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True)),
)
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_settings_get_an_answer_or_one_sentence(bot, question, history, top_k, alpha, threshold):
    try:
        answer = bot.ask(question, history, top_k=top_k, alpha=alpha, threshold=threshold)
    except QuestionError as exc:
        assert_one_clear_sentence(str(exc))
        return
    assert 1 <= top_k <= 50
    assert_well_formed(answer, bot, k=top_k)


@pytest.mark.parametrize(
    "settings_, words",
    [
        ({"top_k": 0}, ["from 1 to 50"]),
        ({"top_k": -3}, ["from 1 to 50"]),
        ({"top_k": 10**9}, ["from 1 to 50"]),
        ({"top_k": 2.5}, ["from 1 to 50"]),
        ({"top_k": "5"}, ["from 1 to 50"]),
        ({"top_k": True}, ["from 1 to 50"]),
        ({"alpha": -0.1}, ["between 0 and 1"]),
        ({"alpha": 1.5}, ["between 0 and 1"]),
        ({"alpha": float("nan")}, ["between 0 and 1"]),
        ({"alpha": "high"}, ["between 0 and 1"]),
        ({"threshold": float("nan")}, ["threshold"]),
        ({"threshold": float("inf")}, ["threshold"]),
        ({"threshold": "low"}, ["threshold"]),
    ],
)
def test_bad_settings_get_one_sentence(bot, settings_, words):
    with pytest.raises(QuestionError) as info:
        bot.ask("世界互联网大会", **settings_)
    assert_one_clear_sentence(str(info.value), *words)


@pytest.mark.parametrize("top_k", [0, -1, 10**9])
def test_bad_default_top_k_is_refused_at_construction(corpus, top_k):
    with pytest.raises(QuestionError, match="from 1 to 50"):
        Assistant(corpus, encoder=FakeEncoder(), top_k=top_k)


def test_largest_top_k_returns_every_passage_when_fewer(bot):
    answer = bot.ask("世界互联网大会 sourdough green tea", top_k=50, threshold=0.0)
    assert len(answer.hits) == len(bot.index.passages)


@pytest.mark.parametrize(
    "name",
    [
        "no-such-model-anywhere",
        "../../etc",
        "/etc/passwd",
        "bad\x00name",
        "x" * 5000,
        "sentence-transformers/" + "a" * 300,
    ],
)
@pytest.mark.slow
def test_unknown_model_names_get_one_sentence(corpus, name):
    with pytest.raises(ModelError) as info:
        Assistant(corpus, model=name).ask("世界互联网大会")
    assert_one_clear_sentence(str(info.value)[:299], "Cannot load the embedding model")


# The CLI, in this process, with the fake encoder (the real model is covered in test_cli.py).


@pytest.fixture
def cli(fake_models, corpus, tmp_path, capsys):
    def run(*argv):
        code = main([*argv, "--index-dir", str(tmp_path / "emb")])
        out = capsys.readouterr()
        return code, out.out, out.err

    return run


@pytest.mark.parametrize("name", QUESTIONS)
def test_hostile_question_through_the_cli(cli, corpus, name):
    question, expected = QUESTIONS[name]
    code, out, err = cli("ask", question, "--json", "--threshold", "0", "--corpus", str(corpus))
    if isinstance(expected, tuple):
        assert code == 2 and out == "" and err.startswith("error: ")
        assert_one_clear_sentence(err, *expected[1:])
        return
    assert code == 0, err
    data = json.loads(out)
    assert set(data) == {"question", "found", "answer", "passages"}
    if expected != "answer":
        assert data["found"] and data["passages"][0]["source"] == expected
    code, out, err = cli("ask", question, "--corpus", str(corpus))  # the text form too
    assert code == 0 and out and not any(ch in out for ch in "\x00\x1b\x7f")


@pytest.mark.parametrize(
    "argv, words",
    [
        (["-k", "0"], ["from 1 to 50"]),
        (["-k", "-5"], ["from 1 to 50"]),
        (["-k", "99999999999999999999"], ["from 1 to 50"]),
        (["--alpha", "2"], ["between 0 and 1"]),
        (["--alpha", "nan"], ["between 0 and 1"]),
        (["--threshold", "nan"], ["threshold"]),
        (["--threshold=-inf"], ["threshold"]),
        (["--history", "\x00\x1b[2J"], []),
    ],
)
def test_bad_cli_settings(cli, corpus, argv, words):
    code, out, err = cli("ask", "世界互联网大会", "--corpus", str(corpus), *argv)
    if not words:
        assert code == 0 and "wic.txt" in out
        return
    assert code == 2 and out == ""
    assert_one_clear_sentence(err, *words)


@pytest.mark.parametrize("argv", [["-k", "many"], ["--alpha", "high"], ["--no-such-flag"], []])
def test_malformed_cli_arguments_get_usage_and_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as info:
        main(["ask", *argv] if argv else ["ask"])
    err = capsys.readouterr().err
    assert info.value.code == 2 and "error:" in err and "Traceback" not in err


def run_fake_cli(argv: list, **env) -> subprocess.CompletedProcess:
    """The CLI as a real process (bytes in argv, a broken pipe, an ASCII-only terminal)."""
    import os

    return subprocess.run(
        [sys.executable, "-m", "tests.fake_cli", *argv],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        timeout=120,
    )


@pytest.mark.slow
def test_undecodable_bytes_and_escapes_on_a_real_command_line(corpus):
    question = b"\xff\xfe\x1b[2J\xe4\xb8\x96\xe7\x95\x8c\xe4\xba\x92\xe8\x81\x94\xe7\xbd\x91\xe5\xa4\xa7\xe4\xbc\x9a"
    done = run_fake_cli([b"ask", question, b"--corpus", str(corpus).encode()])
    assert done.returncode == 0, done.stderr
    assert b"wic.txt" in done.stdout and b"\x1b" not in done.stdout and b"Traceback" not in done.stderr
    done = run_fake_cli([b"ask", b"x", b"--corpus", b"/no/such/\xff\xfe"])
    assert done.returncode == 2 and b"does not exist" in done.stderr and b"Traceback" not in done.stderr


@pytest.mark.slow
def test_terminal_that_cannot_show_chinese_gets_escapes(corpus):
    done = run_fake_cli(["ask", "世界互联网大会", "--corpus", str(corpus)], PYTHONIOENCODING="ascii")
    assert done.returncode == 0 and b"wic.txt" in done.stdout and b"Traceback" not in done.stderr


@pytest.mark.slow
def test_reader_closing_the_pipe_early_is_not_an_error(corpus):
    import os

    read, write_end = os.pipe()
    os.close(read)  # nobody will read: the first write fails with a broken pipe
    done = subprocess.run(
        [sys.executable, "-m", "tests.fake_cli", "ask", "世界互联网大会", "--json", "--corpus", str(corpus)],
        cwd=ROOT,
        stdout=write_end,
        stderr=subprocess.PIPE,
        timeout=120,
    )
    os.close(write_end)
    assert done.returncode == 1 and b"Traceback" not in done.stderr


def test_unexpected_error_is_one_sentence_not_a_traceback(cli, corpus, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(assistant.api.assistant, "retrieve_calibrated", broken)
    code, out, err = cli("ask", "世界互联网大会", "--corpus", str(corpus))
    assert code == 1 and out == ""
    assert_one_clear_sentence(err, "unexpected RuntimeError", "boom", "-v")


def test_errors_are_one_family():
    assert issubclass(QuestionError, AssistantError) and issubclass(ModelError, AssistantError)


@given(text=st.text(max_size=500))
@settings(max_examples=300, deadline=None)
def test_questions_shown_escaped_in_the_chat_read_back_exactly(text):
    from assistant.search.conversation import CONTROL
    from assistant.web.render import escape_html
    from assistant.web.ui import user_questions

    cleaned = CONTROL.sub(" ", text).strip()  # as a question is cleaned
    assert user_questions([{"role": "user", "content": escape_html(text)}]) == ([cleaned] if cleaned else [])


def test_history_in_the_shapes_chat_programs_keep_and_one_sentence_for_others():
    from assistant.search.conversation import earlier_questions

    assert earlier_questions(None) == [] and earlier_questions("它是什么?") == ["它是什么?"]
    assert earlier_questions([["q1", "a1"], ("q2", None), None, ""]) == ["q1", "q2"]
    messages = [
        {"role": "user", "content": "q1"},
        {"role": "assistant", "content": "a1"},
        {"role": "user", "content": [{"type": "text", "text": "q2"}]},
    ]
    assert earlier_questions(messages) == ["q1", "q2"]
    for bad in (5, [5], [[3, "a"]], [{"role": "user", "content": 3}], {"q": 1}):
        with pytest.raises(QuestionError, match="history must be a list") as caught:
            earlier_questions(bad)
        assert "\n" not in str(caught.value)


def test_history_is_bounded_and_follow_ups_resolve_without_recursion():
    from assistant.search.conversation import (
        CONTEXT_TURNS,
        MAX_CONTEXT_CHARS,
        MAX_HISTORY_ITEMS,
        earlier_questions,
        search_query,
        text_of,
    )

    assert earlier_questions(["x" * 2_000_000, "它呢?"]) == ["x" * MAX_CONTEXT_CHARS, "它呢?"]
    chain = ["世界互联网大会国际组织是什么时候成立的?"] + ["那它呢?"] * 3000
    query = search_query("它有多少会员?", chain)  # 3,000 chained follow-ups: one pass, no RecursionError
    assert query == " ".join(["那它呢?"] * CONTEXT_TURNS + ["它有多少会员?"])
    assert len(search_query("它呢?", ["问" * 5000] * 10)) <= MAX_CONTEXT_CHARS + len(" 它呢?")
    assert earlier_questions([f"q{i}" for i in range(MAX_HISTORY_ITEMS)]) == [f"q{i}" for i in range(396, 400)]
    with pytest.raises(QuestionError, match="at most 400"):
        earlier_questions(["q"] * (MAX_HISTORY_ITEMS + 1))
    deep = "它呢?"
    for _ in range(900):
        deep = [deep]
    with pytest.raises(QuestionError, match="nested more than 3 deep"):
        earlier_questions([{"role": "user", "content": deep}])
    with pytest.raises(QuestionError, match="role 'wizard'"):
        earlier_questions([{"role": "wizard", "content": "x"}])
    assert text_of([{"type": "text", "text": "a"}, {"type": "file", "file": {"path": "x"}}, "b"]) == "ab"
