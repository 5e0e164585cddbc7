"""Hostile questions, settings and documents through the real web server (gradio_client, the real model)."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assistant.api import Assistant
from assistant.web.render import escape_html
from assistant.web.ui import build_app
from assistant.web.webpage import localise

from .conftest import QUESTIONS, SEEDS, assert_one_clear_sentence, free_port, text_of, write

pytestmark = pytest.mark.slow

HOSTILE_NAME = "<img src=x onerror=alert(1)> `tick` [x](javascript:alert(2)).md"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from gradio_client import Client

    folder = tmp_path_factory.mktemp("corpus")
    (folder / "seed.txt").write_bytes((SEEDS / "wuzhen_summit_ten_years_interview.txt").read_bytes())
    write(folder, "sourdough.md", "# Bread\n\nSourdough bread needs a starter, flour, water and salt every day.\n")
    write(
        folder,
        HOSTILE_NAME,
        "# <script>alert('title')</script>\n\nGreen tea <img src=x onerror=alert(3)> is brewed at 80 degrees "
        "for two minutes; see [here](javascript:alert(4)) and ![img](http://127.0.0.1:9/x.png).",
    )
    write(folder, "empty.txt", "")
    (folder / "photo.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    bot = Assistant(folder, index_root=tmp_path_factory.mktemp("emb"))
    bot.refresh()
    app = build_app(bot)
    port = free_port()
    app.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    try:
        yield Client(f"http://127.0.0.1:{port}/", verbose=False)
    finally:
        app.close()


def ask_json(client, question, top_k=5):
    """The /ask endpoint: the answer as a dict, or the error sentence as a string."""
    from gradio_client.exceptions import AppError

    try:
        return client.predict(question, [], top_k, api_name="/ask")
    except AppError as exc:
        return str(exc)


def raw_ask(client, question, top_k=5):
    """/ask over plain HTTP with ASCII-escaped JSON, which can carry what gradio_client cannot (lone surrogates)."""
    import json

    import httpx

    base = client.src.rstrip("/") + "/gradio_api/call/ask"
    body = json.dumps({"data": [question, [], top_k]}, ensure_ascii=True)
    posted = httpx.post(base, content=body, headers={"Content-Type": "application/json"}, timeout=60)
    if posted.status_code != 200:  # refused before it reached the app (e.g. NaN is not JSON)
        return "rejected", {"error": f"HTTP {posted.status_code}", "body": posted.text[:200]}
    event = posted.json()["event_id"]
    stream = httpx.get(f"{base}/{event}", timeout=60).text
    kind = stream.split("event: ", 1)[1].split("\n", 1)[0]
    data = json.loads(stream.split("data: ", 1)[1].split("\n", 1)[0])
    return kind, data


def chat(client, question, history=(), top_k=5, alpha=0.5, threshold=0.2) -> str:
    box, messages = client.predict(question, list(history), top_k, alpha, threshold, api_name="/chat")
    assert box == ""
    if len(messages) == len(history):  # a blank question: the chat as it was, no bubble
        assert not question.strip()
        return ""
    return text_of(messages[-1])


ALLOWED_TAGS = {"div", "p", "span", "br", "strong", "mark", "details", "summary", "code", "a"}
ALLOWED_TAGS |= {"table", "thead", "tbody", "tr", "td", "th", "ol", "ul", "li", "blockquote", "em", "small"}


def assert_safe_reply(reply: str) -> None:
    """Nothing in a reply came from a document or a question as markup: only the page's own tags, no
    event handlers, no script links (the reply is the page's HTML, with everything else escaped)."""
    from html.parser import HTMLParser

    found = []

    class Tags(HTMLParser):
        def handle_starttag(self, tag, attrs):
            found.append((tag, attrs))

    Tags().feed(reply)
    for tag, attrs in found:
        assert tag in ALLOWED_TAGS, (tag, reply[:300])
        for name, value in attrs:
            assert not name.startswith("on"), (tag, name)
            assert not (value or "").strip().lower().startswith(("javascript:", "data:")), (tag, name, value)
            if tag == "a" and name == "href":
                assert (value or "").startswith("#"), value


def is_error(reply: str) -> bool:
    return "kb-error" in reply


def still_serving(client):
    result = client.predict("世界互联网大会国际组织是什么时候成立的?", [], 3, api_name="/ask")
    assert result["found"] and result["passages"][0]["paragraph"] == 15


@pytest.mark.parametrize("name", QUESTIONS)
def test_hostile_question_through_the_server(server, name):
    question, expected = QUESTIONS[name]
    kind, data = raw_ask(server, question)
    if isinstance(expected, tuple):
        assert kind == "error"
        assert_one_clear_sentence(data["error"], *expected[1:])
    else:
        assert kind == "complete" and data[0]["found"] == bool(data[0]["passages"])
    if "\ud800" in question:
        return  # gradio_client cannot send lone surrogates at all (it encodes JSON as UTF-8)
    result = ask_json(server, question)
    reply = chat(server, question)
    if isinstance(expected, tuple):
        assert isinstance(result, str)
        assert_one_clear_sentence(result, *expected[1:])
        shown = [
            expected[1],
            escape_html(localise(result, "zh")),
        ]  # the page's language: a Chinese question's in Chinese
        assert (is_error(reply) and any(text in reply for text in shown)) or (reply == "" and not question.strip())
    else:
        assert isinstance(result, dict) and set(result) == {"question", "found", "answer", "passages"}
        assert_safe_reply(reply)
    still_serving(server)


@pytest.mark.parametrize(
    "top_k, alpha, threshold",
    [(0, 0.5, 0.2), (-3, 0.5, 0.2), (10**9, 0.5, 0.2), (5, -1.0, 0.2), (5, 7.0, 0.2), (5, 0.5, -5.0)],
)
def test_out_of_range_settings_through_the_server(server, top_k, alpha, threshold):
    from gradio_client.exceptions import AppError

    try:
        reply = chat(server, "世界互联网大会国际组织是什么时候成立的?", top_k=top_k, alpha=alpha, threshold=threshold)
    except AppError as exc:  # Gradio's own range check on the sliders
        assert_one_clear_sentence(str(exc))
    else:
        assert is_error(reply) or "¶15" in reply
        assert_safe_reply(reply)
    result = ask_json(server, "世界互联网大会国际组织是什么时候成立的?", top_k=top_k)
    if not 1 <= top_k <= 50:
        assert_one_clear_sentence(result, "from 1 to 50")
    still_serving(server)


@pytest.mark.parametrize("top_k", [float("nan"), float("inf"), "many", [5], 2.5])
def test_malformed_values_from_a_raw_client(server, top_k):
    """Values no slider sends (NaN, text) still end in one sentence, and the server keeps serving."""
    kind, data = raw_ask(server, "世界互联网大会国际组织是什么时候成立的?", top_k=top_k)
    assert kind in ("error", "rejected"), data
    assert_one_clear_sentence(data["error"], *(["from 1 to 50"] if kind == "error" else []))
    still_serving(server)


def test_hostile_file_name_and_document_are_shown_as_text(server):
    reply = chat(server, "How long is green tea brewed?", top_k=1)
    assert "¶" in reply and "80 degrees" in reply
    assert_safe_reply(reply)
    assert "&lt;img src=x onerror=alert(3)&gt;" in reply
    result = ask_json(server, "How long is green tea brewed?", top_k=1)
    assert result["passages"][0]["source"] == HOSTILE_NAME  # JSON carries the name exactly, as data


@given(question=st.text(max_size=300), top_k=st.integers(-5, 60))
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_text_through_the_server(server, question, top_k):
    result = ask_json(server, question, top_k=top_k)
    if isinstance(result, str):
        assert_one_clear_sentence(result)
    else:
        assert result["found"] == bool(result["passages"]) and len(result["passages"]) <= top_k
    assert_safe_reply(chat(server, question))


def test_a_refused_call_logs_one_line_not_a_traceback(server, capfd):
    capfd.readouterr()
    assert ask_json(server, "   ").startswith("The question is empty")
    assert ask_json(server, "你好", top_k=0).startswith("The number of passages must be")
    out, err = capfd.readouterr()
    assert "Traceback" not in out + err
