"""The real Gradio app, served on 127.0.0.1 and called through gradio_client."""

import logging
import re
import threading
import time

import pytest

from assistant.api import Assistant
from assistant.web import launch
from assistant.web.ui import build_app, user_questions

from .conftest import SEEDS, FakeEncoder, GatedEncoder, free_port, text_of, write

pytestmark = pytest.mark.slow
QUESTION = "世界互联网大会国际组织是什么时候成立的?"


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    from gradio_client import Client

    folder = tmp_path_factory.mktemp("corpus")
    (folder / "seed.txt").write_bytes((SEEDS / "wuzhen_summit_ten_years_interview.txt").read_bytes())
    write(
        folder,
        "evil.md",
        "# Evil <script>alert('pwned')</script>\n\n"
        "This document mentions the sourdough <img src=x onerror=alert(1)> recipe **with** [a link](javascript:alert(1)).",
    )
    uploads = tmp_path_factory.mktemp("uploads")
    bot = Assistant(folder, index_root=tmp_path_factory.mktemp("emb"), uploads=uploads)
    bot.refresh()
    app = build_app(bot)
    port = free_port()
    launch(app, server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    try:
        yield Client(f"http://127.0.0.1:{port}/", verbose=False), uploads
    finally:
        app.close()


@pytest.fixture(scope="module")
def client(served):
    return served[0]


def chat(client, question, history=(), top_k=3, alpha=0.5, threshold=0.2):
    box, history = client.predict(question, list(history), top_k, alpha, threshold, api_name="/chat")
    assert box == ""
    return history


def test_ask_endpoint_returns_cited_passages(client):
    result = client.predict(QUESTION, [], 3, api_name="/ask")
    assert result["found"] is True and len(result["passages"]) == 3
    top = result["passages"][0]
    assert (top["source"], top["paragraph"]) == ("seed.txt", 15)
    assert "2022年7月12日" in result["answer"] and result["answer"].endswith("[1]")


def test_chat_endpoint_renders_answer_with_citation_cards(client):
    reply = text_of(chat(client, "When was the WIC international organization founded?")[-1])
    assert "seed.txt" in reply and "¶15" in reply and "score" in reply
    markers = set(re.findall(r'class="kb-cite" href="#(kb-\w+-\d+)"', reply))
    cards = set(re.findall(r'class="kb-card" id="(kb-\w+-\d+)"', reply))
    assert markers == cards and len(cards) >= 1
    first_card = reply.split('class="kb-card"')[1]
    assert "¶15" in first_card and 'class="kb-best"' in first_card and "2022年7月12日" in first_card
    assert '<details class="kb-context">' in first_card and "¶14" in first_card and "¶16" in first_card


def test_chat_follow_up_uses_history_returned_by_the_client(client):
    history = chat(client, QUESTION)
    history = chat(client, "它现在有多少会员?", history)
    first_card = text_of(history[-1]).split('class="kb-card"')[1]
    assert '<span class="kb-where">¶13</span>' in first_card


def test_ask_endpoint_takes_the_history_shapes_chat_programs_keep(client):
    from gradio_client.exceptions import AppError

    follow_up = "它现在有多少会员?"
    shapes = [
        [QUESTION],
        [[QUESTION, "2022年7月12日 [1]"]],
        [{"role": "user", "content": QUESTION}, {"role": "assistant", "content": "2022年7月12日 [1]"}],
    ]
    for history in shapes:
        result = client.predict(follow_up, history, 3, api_name="/ask")
        assert result["passages"][0]["paragraph"] == 13, history
    with pytest.raises(AppError, match="history must be a list of the chat's earlier questions"):
        client.predict(follow_up, [[1, 2]], 3, api_name="/ask")


def test_threshold_leaves_out_weak_passages(client):
    loose = text_of(chat(client, QUESTION, top_k=5, threshold=0.0)[-1])
    strict = text_of(chat(client, QUESTION, top_k=5, threshold=0.99)[-1])  # a probability now
    assert loose.count('class="kb-card"') == 5 and 1 <= strict.count('class="kb-card"') < 5


def test_not_found_is_said_plainly(client):
    reply = text_of(chat(client, "明天北京会下雨吗?")[-1])
    assert "没有找到" in reply and "¶" not in reply


def test_hostile_document_and_question_are_shown_as_text(client):
    history = chat(client, "sourdough recipe with a link <img src=y onerror=alert(2)>", top_k=1)
    question, reply = text_of(history[-2]), text_of(history[-1])
    assert question == "sourdough recipe with a link &lt;img src=y onerror=alert(2)&gt;"
    assert "evil.md" in reply
    assert "<script" not in reply and "<img" not in reply and "](javascript" not in reply and "**" not in reply
    assert "&lt;script&gt;" in reply and "&lt;img src=x onerror=alert(1)&gt;" in reply
    assert "&#91;a link&#93;(javascript&#58;alert(1))" in reply


def test_blank_question_leaves_the_chat_as_it_was(client):
    history = chat(client, "When was the WIC international organization founded?")
    assert chat(client, "   ", history) == history
    assert chat(client, " \n\t ") == []  # no empty bubble on an empty chat either


def test_question_without_words_is_answered_in_the_page_languages(client):
    reply = text_of(chat(client, "？？？!!")[-1])  # a new chat speaks both languages, and so does its error
    assert "The question has no words" in reply and "问题里只有符号" in reply and 'lang="' not in reply


def test_documents_upload_context_and_remove_endpoints(served, tmp_path):
    from gradio_client import handle_file

    client, uploads = served
    assert {d["source"] for d in client.predict(api_name="/documents")} == {"seed.txt", "evil.md"}
    note = write(tmp_path, "蓝莓酱.md", "# 蓝莓酱\n\n蓝莓酱的做法：蓝莓五百克，白糖一百五十克，小火熬煮二十分钟。\n")
    bad = write(tmp_path, "run.exe", "MZ")
    report = client.predict([handle_file(str(note)), handle_file(str(bad))], api_name="/upload")
    assert [d["source"] for d in report["added"]] == ["uploads/蓝莓酱.md"]
    assert report["refused"][0][0] == "run.exe" and "not a supported document" in report["refused"][0][1]
    assert [p.name for p in uploads.iterdir()] == ["蓝莓酱.md"]
    assert client.predict("蓝莓酱怎么做?", [], 1, api_name="/ask")["passages"][0]["source"] == "uploads/蓝莓酱.md"

    around = client.predict("seed.txt", 15, api_name="/context")
    assert [(p["paragraph"], p["cited"]) for p in around] == [(14, False), (15, True), (16, False)]

    left = client.predict("uploads/蓝莓酱.md", api_name="/remove")
    assert {d["source"] for d in left} == {"seed.txt", "evil.md"} and list(uploads.iterdir()) == []
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match="not an uploaded document"):
        client.predict("seed.txt", api_name="/remove")


def test_user_questions_from_history():
    history = [
        {"role": "user", "content": "q1 &lt;b&gt;"},
        {"role": "assistant", "content": "a1"},
        {"role": "user", "content": [{"type": "text", "text": "q2"}]},
        {"role": "user", "content": "   "},
    ]
    assert user_questions(history) == ["q1 <b>", "q2"]


def test_serve_listens_on_this_machine_only_by_default():
    from assistant.cli import build_parser

    args = build_parser().parse_args(["serve"])
    assert (args.host, args.share, args.auth, args.no_uploads) == ("127.0.0.1", False, None, False)


def test_login_is_required_when_auth_is_set(tmp_path, fake_encoder):
    import httpx
    from gradio_client import Client

    write(tmp_path / "c", "a.md", "# A\n\nThe sourdough starter needs flour and water every day.\n")
    app = build_app(Assistant(tmp_path / "c", encoder=fake_encoder))
    port = free_port()
    launch(app, server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True, auth=("ann", "s3cret"))
    try:
        url = f"http://127.0.0.1:{port}/"
        assert httpx.get(url + "config").status_code == 401
        refused = httpx.post(url + "login", data={"username": "ann", "password": "wrong"})
        assert refused.status_code == 400 and "incorrect" in refused.text.lower()
        client = Client(url, verbose=False, auth=("ann", "s3cret"))
        assert client.predict(api_name="/documents")[0]["source"] == "a.md"
    finally:
        app.close()


def test_a_restarted_server_answers_from_the_last_index_while_it_indexes_the_changes(tmp_path, caplog):
    from gradio_client import Client

    from assistant.web import serve

    corpus, uploads = tmp_path / "corpus", tmp_path / "uploads"
    (corpus / "seed.txt").parent.mkdir()
    (corpus / "seed.txt").write_bytes((SEEDS / "wuzhen_summit_ten_years_interview.txt").read_bytes())
    Assistant(corpus, encoder=FakeEncoder(), uploads=uploads).refresh()  # the index the last run saved
    # Since then a large file was added, and an upload was stored by a server killed before indexing it.
    write(
        corpus, "bakery.md", "# Bakery\n\n" + "\n\n".join(f"Day {i}: the sourdough starter is fed." for i in range(400))
    )
    write(uploads, "tea.md", "# Tea\n\nGreen tea is brewed at 80 degrees for two minutes.\n")
    gate = threading.Event()
    bot = Assistant(corpus, encoder=GatedEncoder(gate), uploads=uploads)
    port = free_port()
    with caplog.at_level(logging.WARNING, logger="assistant.api"):
        app = serve(bot, port=port, block=False)
    try:
        client = Client(f"http://127.0.0.1:{port}/", verbose=False)
        assert bot.indexing == 2 and "Indexing 2 changed files in the background…" in caplog.text
        assert [d["source"] for d in client.predict(api_name="/documents")] == ["seed.txt"]
        top = client.predict(QUESTION, [], 3, api_name="/ask")["passages"][0]
        assert (top["source"], top["paragraph"]) == ("seed.txt", 15)
        gate.set()
        deadline = time.monotonic() + 120
        while bot.indexing and time.monotonic() < deadline:
            time.sleep(0.1)
        documents = {d["source"]: d["uploaded"] for d in client.predict(api_name="/documents")}
        assert documents == {"bakery.md": False, "seed.txt": False, "uploads/tea.md": True}
        answer = client.predict("What is the sourdough starter fed?", [], 3, api_name="/ask")
        assert answer["passages"][0]["source"] == "bakery.md"
        assert "Indexed the changes" in caplog.text and bot.indexing_status == ""
    finally:
        gate.set()
        app.close()
