"""The real Gradio app, served on 127.0.0.1 and called through gradio_client."""

import socket

import pytest

from assistant.api import Assistant
from assistant.ui import build_app, user_questions

from .conftest import SEEDS, write

pytestmark = pytest.mark.slow


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


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    from gradio_client import Client

    folder = tmp_path_factory.mktemp("corpus")
    (folder / "seed.txt").write_bytes((SEEDS / "wuzhen_summit_ten_years_interview.txt").read_bytes())
    write(
        folder,
        "evil.md",
        "# Evil <script>alert('pwned')</script>\n\n"
        "This document mentions the sourdough <img src=x onerror=alert(1)> recipe **with** [a link](javascript:alert(1)).",
    )
    bot = Assistant(folder, index_root=tmp_path_factory.mktemp("emb"))
    bot.refresh()
    app = build_app(bot)
    port = free_port()
    app.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    try:
        yield Client(f"http://127.0.0.1:{port}/", verbose=False)
    finally:
        app.close()


def test_ask_endpoint_returns_cited_passages(client):
    result = client.predict("世界互联网大会国际组织是什么时候成立的?", [], 3, api_name="/ask")
    assert result["found"] is True and len(result["passages"]) == 3
    top = result["passages"][0]
    assert (top["source"], top["paragraph"]) == ("seed.txt", 15)


def test_chat_endpoint_renders_answer_with_citation(client):
    box, history = client.predict(
        "When was the WIC international organization founded?", [], 3, 0.5, 0.2, api_name="/chat"
    )
    text = text_of(history[-1])
    assert box == ""
    assert "seed.txt" in text and "¶15" in text and "score" in text


def test_chat_follow_up_uses_history(client):
    _, history = client.predict("世界互联网大会国际组织是什么时候成立的?", [], 3, 0.5, 0.2, api_name="/chat")
    _, history = client.predict("它现在有多少会员?", history, 3, 0.5, 0.2, api_name="/chat")
    assert "¶13" in text_of(history[-1]).split("[1]")[1][:400]


def test_not_found_is_said_plainly(client):
    _, history = client.predict("明天北京会下雨吗?", [], 3, 0.5, 0.2, api_name="/chat")
    assert "没有找到" in text_of(history[-1]) and "¶" not in text_of(history[-1])


def test_hostile_document_is_shown_as_text(client):
    _, history = client.predict("sourdough recipe with a link", [], 1, 0.5, 0.2, api_name="/chat")
    reply = text_of(history[-1])
    assert "evil.md" in reply
    assert "<script>" not in reply and "<img" not in reply and "](javascript" not in reply
    assert "&lt;script&gt;" in reply and "&lt;img src=x onerror=alert\\(1\\)&gt;" in reply
    assert "\\[a link\\]\\(javascript:alert\\(1\\)\\)" in reply


def test_empty_question_gets_a_message_not_an_error(client):
    _, history = client.predict("   ", [], 3, 0.5, 0.2, api_name="/chat")
    assert "The question is empty" in text_of(history[-1])


def test_user_questions_from_history():
    history = [
        {"role": "user", "content": "q1"},
        {"role": "assistant", "content": "a1"},
        {"role": "user", "content": "q2"},
    ]
    assert user_questions(history) == ["q1", "q2"]
