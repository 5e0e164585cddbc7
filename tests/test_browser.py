"""The web chat in a real headless Chromium (Debian's package) driven by Playwright.

Screenshots of the main states go to conftest.ARTIFACTS (a temporary folder); docs/screenshot.png is copied from there.
"""

import re
import socket
import threading

import pytest
from playwright.sync_api import expect

from assistant.api import Assistant
from assistant.text import SUFFIXES
from assistant.web import launch
from assistant.web.ui import build_app

from .conftest import ARTIFACTS, SEEDS, FakeEncoder, GatedEncoder, write

pytestmark = [pytest.mark.slow, pytest.mark.browser]
SEED = "wuzhen_summit_ten_years_interview.txt"
BOT = "#chat [data-testid='bot']"


def serve(bot: Assistant):
    """The chat of ``bot`` on a free port of this machine: (url, app)."""
    app = build_app(bot)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    launch(app, server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    return f"http://127.0.0.1:{port}/", app


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("corpus")
    (folder / SEED).write_bytes((SEEDS / SEED).read_bytes())
    write(
        folder,
        "evil.md",
        "# Evil page\n\nThe sourdough starter <script>window.PWNED = 1</script>"
        '<img src=x onerror="window.PWNED = 2"> needs flour and water every day.',
    )
    bot = Assistant(
        folder, index_root=tmp_path_factory.mktemp("emb"), uploads=tmp_path_factory.mktemp("data") / "uploads"
    )
    bot.refresh()
    url, app = serve(bot)
    yield url
    app.close()


@pytest.fixture(scope="module")
def many(tmp_path_factory):
    """A knowledge base of 150 small files named DEV_1 … DEV_150 and the seed, on the fake encoder."""
    folder = tmp_path_factory.mktemp("many")
    (folder / SEED).write_bytes((SEEDS / SEED).read_bytes())
    for i in range(1, 151):
        write(folder, f"DEV_{i}.md", f"# Device note {i}\n\nDevice {i} reports a temperature of {3 * i} degrees.\n")
    bot = Assistant(
        folder,
        encoder=FakeEncoder(),
        index_root=tmp_path_factory.mktemp("many-emb"),
        uploads=tmp_path_factory.mktemp("many-data") / "uploads",
    )
    bot.refresh()
    url, app = serve(bot)
    yield url
    app.close()


def open_page(browser, server, width=1280, height=900):
    context = browser.new_context(viewport={"width": width, "height": height}, accept_downloads=True)
    page = context.new_page()
    page.goto(server)
    page.wait_for_selector("#question textarea", timeout=30_000)
    page.wait_for_selector("#documents table", timeout=30_000)
    return context, page


@pytest.fixture
def page(browser, server):
    context, page = open_page(browser, server)
    yield page
    context.close()


def ask(page, question: str):
    before = page.locator(BOT).count()
    box = page.locator("#question textarea")
    box.fill(question)
    box.press("Enter")
    return wait_for_reply(page, before)


def wait_for_reply(page, before: int):
    page.wait_for_function(
        "n => document.querySelectorAll(\"#chat [data-testid='bot']\").length > n", arg=before, timeout=60_000
    )
    reply = page.locator(BOT).last
    page.wait_for_timeout(300)  # the scroll to the question is smooth
    return reply


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name))


def markers_and_cards(reply) -> tuple[list[str], list[str]]:
    markers = reply.locator("a.kb-cite").evaluate_all("links => links.map(a => a.getAttribute('href').slice(1))")
    cards = reply.locator(".kb-card").evaluate_all("cards => cards.map(c => c.id)")
    return markers, cards


def test_empty_chat_offers_examples_and_lists_the_knowledge_base(page):
    examples = page.locator("#chat button", has_text="世界互联网大会国际组织是什么时候成立的?")
    assert examples.count() == 1 and page.locator("#chat button", has_text="When was the WIC").count() == 1
    docs = page.locator("#documents").inner_text()
    assert SEED in docs and "evil.md" in docs and "Documents: 2" in docs
    shot(page, "chat-empty.png")
    examples.click()
    reply = wait_for_reply(page, 0)
    assert "2022年7月12日" in reply.locator(".kb-lead").inner_text()


def test_question_shows_answer_and_citation_cards(page):
    reply = ask(page, "世界互联网大会国际组织是什么时候成立的?")
    lead = reply.locator(".kb-lead").inner_text()
    assert lead.startswith("回答") and "2022年7月12日" in lead and "[1]" in lead
    markers, cards = markers_and_cards(reply)
    assert set(markers) == set(cards) and len(cards) >= 3  # every marker has its card, every card a marker
    first = reply.locator(".kb-card").first
    head = first.locator(".kb-head").inner_text()
    assert "[1]" in head and SEED in head and "¶15" in head and re.search(r"匹配度 \d+%", head)
    assert "2022年7月12日" in first.locator(".kb-text strong.kb-best").inner_text()
    assert "世界互联网大会" in first.locator(".kb-text mark.kb-term").all_inner_texts()
    assert page.locator("#send").inner_text() == "提问"  # the page follows the question's language
    shot(page, "chat-answer.png")


def test_citation_opens_in_context_inside_the_chat(page):
    reply = ask(page, "世界互联网大会国际组织是什么时候成立的?")
    card = reply.locator(".kb-card").first
    context = card.locator("details.kb-context")
    assert not context.locator(".kb-para").first.is_visible()
    context.locator("summary").click()
    paragraphs = context.locator(".kb-para")
    assert paragraphs.first.is_visible()
    labels = paragraphs.locator(".kb-pn").all_inner_texts()
    assert labels == ["¶14", "¶15", "¶16"]
    cited = context.locator(".kb-para.kb-cited")
    assert cited.locator(".kb-pn").inner_text() == "¶15" and "2022年7月12日" in cited.inner_text()
    page.locator("#chat [data-testid='user']").last.evaluate("e => e.scrollIntoView({block: 'start'})")
    shot(page, "chat-citation-context.png")
    url = page.url
    reply.locator(".kb-more a.kb-cite").first.click()  # a marker brings its card into view and flashes it
    page.wait_for_selector(f"{BOT} .kb-card.kb-flash", timeout=5_000)
    assert page.url == url  # still the same chat: the script handled the link


def test_english_question_finds_the_same_paragraph_and_switches_labels(page):
    reply = ask(page, "When was the WIC international organization founded?")
    assert reply.locator(".kb-lead").inner_text().startswith("Answer")
    assert "¶15" in reply.locator(".kb-card .kb-where").first.inner_text()
    # the labels switch in the event after the reply: wait for them (a read right away failed under load)
    expect(page.locator("#send")).to_have_text("Ask", timeout=30_000)
    expect(page.locator("#settings")).to_have_text(re.compile(r"^\s*Settings"), timeout=30_000)


def test_script_in_a_document_does_not_run(page):
    reply = ask(page, "What does the sourdough starter need?")
    text = reply.inner_text()
    assert "evil.md" in text and "<script>window.PWNED = 1</script>" in text
    assert reply.locator("script, img").count() == 0
    assert page.evaluate("window.PWNED === undefined")
    shot(page, "chat-hostile-document.png")


def test_not_found_message(page):
    text = ask(page, "明天北京会下雨吗?").inner_text()
    assert "没有找到" in text and "¶" not in text


def test_upload_is_indexed_with_progress_then_searchable_then_removable(page, tmp_path):
    bakery = "\n\n".join(
        f"Paragraph {i}: the bakery on street {i} sells {3 * i} rye loaves each morning; slow fermentation "
        "gives them their flavour, the baker says."
        for i in range(300)
    )
    note = write(
        tmp_path,
        "blueberry jam.md",
        "# Blueberry jam\n\nSimmer 500 g of blueberries with 150 g of sugar and half a lemon for twenty minutes."
        "\n\nThe jam <script>window.PWNED = 3</script> keeps for a month in the fridge.\n\n" + bakery,
    )
    image = tmp_path / "photo.txt"
    image.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(300))
    upload = page.locator("#kb input[type=file]")
    upload.set_input_files([str(note), str(image)])
    page.wait_for_selector("#upload-status [role=progressbar]", timeout=30_000)  # the indexing progress bar
    page.wait_for_selector("#upload-status .kb-good", timeout=120_000)
    status = page.locator("#upload-status").inner_text()
    assert "Added uploads/blueberry jam.md" in status
    assert "Not added: photo.txt looks like a binary file" in status
    assert "uploads/blueberry jam.md" in page.locator("#documents").inner_text()
    shot(page, "chat-upload.png")

    # Another type is refused by the server in the page's words (Gradio's own toast is English only).
    upload.set_input_files([str(write(tmp_path, "notes.exe", "MZ"))])
    page.wait_for_function(
        "() => document.querySelector('#upload-status').innerText.includes(\"'notes.exe' is not a supported document\")"
    )
    assert ".txt, .md, .markdown, .html, .htm" in page.locator("#upload-status").inner_text()
    assert page.get_by_text("Invalid file type").count() == 0

    reply = ask(page, "How long should blueberries simmer for jam?")
    assert "uploads/blueberry jam.md" in reply.locator(".kb-card .kb-file").first.inner_text()
    assert "twenty minutes" in reply.locator(".kb-lead").inner_text()
    assert page.evaluate("window.PWNED === undefined")
    shot(page, "chat-uploaded-answer.png")

    page.locator("#remove-pick input").click()
    page.get_by_role("option", name="uploads/blueberry jam.md").click()
    page.locator("#remove").click()
    page.wait_for_selector("#upload-status :text('Removed uploads/blueberry jam.md')", timeout=60_000)
    assert "blueberry" not in page.locator("#documents").inner_text()
    reply = ask(page, "How long should blueberries simmer for jam?")
    assert "uploads/" not in reply.inner_text()


def test_export_downloads_the_conversation_as_markdown(page, tmp_path):
    ask(page, "世界互联网大会国际组织是什么时候成立的?")
    page.wait_for_function("!document.querySelector('#export').disabled", timeout=10_000)
    with page.expect_download() as download:
        page.locator("#export").click()
    path = tmp_path / "chat.md"
    download.value.save_as(path)
    text = path.read_text("utf-8")
    assert text.startswith("# 对话记录 · Conversation")
    assert "## 1. 世界互联网大会国际组织是什么时候成立的?" in text
    assert "**[1]**" in text and f"`{SEED}`" in text and "¶15" in text and "2022年7月12日" in text
    page.locator("#chat button[aria-label='Clear']").click()  # the chat's own bin empties the export too
    page.wait_for_function("document.querySelector('#export').disabled", timeout=10_000)


def test_phone_width_layout(browser, server):
    context, page = open_page(browser, server, width=390, height=844)
    try:
        reply = ask(page, "世界互联网大会国际组织是什么时候成立的?")
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        chat = page.locator("#chat").bounding_box()
        assert chat["width"] <= 390 and chat["height"] >= 300
        card = reply.locator(".kb-card").first.bounding_box()
        assert card["x"] >= 0 and card["x"] + card["width"] <= 390
        box, send = page.locator("#question").bounding_box(), page.locator("#send").bounding_box()
        assert abs(box["y"] - send["y"]) < 40  # the question box and its button share a row
        shot(page, "chat-phone.png")
    finally:
        context.close()


def bot_text(page) -> str:
    return page.locator(BOT).last.inner_text()


def test_chinese_page_keeps_chinese_for_bad_and_blank_questions(page):
    ask(page, "世界互联网大会国际组织是什么时候成立的?")
    assert bot_text(page).startswith("回答")
    assert ask(page, "？？？ !!").inner_text().startswith("问题里只有符号，没有文字")
    assert page.locator("#send").inner_text() == "提问"  # symbols say nothing about the language: still Chinese
    asked = page.locator("#chat [data-testid='user']").count()
    box = page.locator("#question textarea")
    box.fill("   ")
    box.press("Enter")
    page.wait_for_function("() => document.querySelector('#question textarea').value === ''", timeout=10_000)
    page.wait_for_timeout(500)  # the reply would be there by now
    assert page.locator("#chat [data-testid='user']").count() == asked  # no empty bubble
    assert page.locator("#send").inner_text() == "提问"


@pytest.mark.parametrize("lang, question", [("zh", "乌镇峰会是什么时候开始的?"), ("en", "What does device 12 report?")])
@pytest.mark.parametrize("device, width, height", [("desktop", 1280, 900), ("phone", 390, 844)])
def test_many_documents_page_is_compact_sorted_and_searchable(
    browser, many, tmp_path, lang, question, device, width, height
):
    context, page = open_page(browser, many, width, height)
    try:
        ask(page, question)
        # the page's words change in the step after the reply (after_turn): on a loaded machine, after 300 ms
        page.wait_for_function(
            "w => document.querySelector('#send').innerText === w", arg="提问" if lang == "zh" else "Ask"
        )
        assert page.locator("#send").inner_text() == ("提问" if lang == "zh" else "Ask")
        assert page.evaluate("document.body.scrollHeight") < 2 * height  # the table scrolls in its own box
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        files = page.locator("#documents tr.kb-row code").all_inner_texts()
        assert files == [f"DEV_{i}.md" for i in range(1, 151)] + [SEED]  # DEV_2 before DEV_10
        head = page.locator("#documents th").all_inner_texts()
        assert head == (["文档", "片段"] if lang == "zh" else ["Document", "Passages"])
        # One face for the masthead, the button and the answer's label (no capital A from another font).
        fonts = page.evaluate(
            """() => ['#masthead h2', '#send', '.kb-label', '.kb-text'].map(q =>
                getComputedStyle(document.querySelector(q)).fontFamily)"""
        )
        assert len(set(fonts)) == 1 and "WenQuanYi Micro Hei" in fonts[0]
        assert page.locator("#chat .scroll-down-button-container").filter(visible=True).count() == 0
        page.screenshot(path=str(tmp_path / f"{lang}-{device}.png"), full_page=True)

        page.locator("#documents input.kb-filter").fill("dev_15")
        visible = page.locator("#documents tr.kb-row").filter(visible=True).locator("code").all_inner_texts()
        assert visible == ["DEV_15.md", "DEV_150.md"]
        page.locator("#documents input.kb-filter").fill("no such file")
        assert page.locator("#documents tr.kb-nomatch").is_visible()
    finally:
        context.close()


def test_upload_messages_follow_the_page_language(browser, many, tmp_path):
    context, page = open_page(browser, many)
    try:
        ask(page, "乌镇峰会是什么时候开始的?")
        note = write(
            tmp_path, "蓝莓酱.md", "# 蓝莓酱\n\n蓝莓酱的做法：蓝莓五百克，白糖一百五十克，小火熬煮二十分钟。\n"
        )
        big = tmp_path / "big.txt"
        big.write_bytes(b"tea " * (21 * 2**18))  # 21 MB: over the limit, never sent
        page.locator("#kb input[type=file]").set_input_files([str(note), str(write(tmp_path, "a.exe", "MZ")), str(big)])
        page.wait_for_selector("#upload-status .kb-good", timeout=60_000)
        status = page.locator("#upload-status").inner_text()
        assert "已添加 uploads/蓝莓酱.md（1 个片段）。" in status
        kinds = ", ".join(SUFFIXES)
        assert f"未添加：'a.exe' 不是支持的文档类型；请上传以下类型之一：{kinds}。" in status
        assert "未添加：big.txt 超过 20 MB（每个文件的上限）。" in status
        assert "Mb" not in page.locator("body").inner_text()  # Gradio's own size toast ("20.0 Mb") never shows

        ask(page, "When did the Wuzhen summit start?")  # the page turns English, and so does the last report
        page.wait_for_function("() => document.querySelector('#upload-status').innerText.includes('Added uploads/')")
        status = page.locator("#upload-status").inner_text()
        assert "Not added: 'a.exe' is not a supported document" in status and "big.txt is larger than 20 MB" in status
        assert "已添加" not in status and "未添加" not in status

        label = page.locator("#remove-pick [data-testid='block-info']")
        page.locator("#remove-pick input").click()
        option = page.get_by_role("option", name="uploads/蓝莓酱.md")
        option.wait_for()
        box, listed = page.locator("#remove-pick input").bounding_box(), option.bounding_box()
        assert listed["y"] >= box["y"] + box["height"] - 1  # the list opens under its box, not over its label
        assert label.is_visible() and label.bounding_box()["y"] + label.bounding_box()["height"] <= box["y"] + 1
        option.click()
        page.locator("#remove").click()
        page.wait_for_selector("#upload-status :text('Removed uploads/蓝莓酱.md')", timeout=60_000)
    finally:
        context.close()


def test_a_restarted_server_shows_its_background_indexing_then_the_new_documents(browser, tmp_path):
    from assistant.web import serve

    corpus = tmp_path / "corpus"
    write(corpus, SEED, (SEEDS / SEED).read_text(encoding="utf-8"))
    Assistant(corpus, encoder=FakeEncoder()).refresh()  # the index the last run saved
    write(
        corpus, "bakery.md", "# Bakery\n\n" + "\n\n".join(f"Day {i}: the sourdough starter is fed." for i in range(50))
    )
    gate = threading.Event()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = serve(Assistant(corpus, encoder=GatedEncoder(gate)), port=port, block=False)
    try:
        context, page = open_page(browser, f"http://127.0.0.1:{port}/")
        docs = page.locator("#documents")
        assert "Indexing 1 changed file(s) in the background" in docs.inner_text()
        assert "正在后台索引 1 个有变化的文件" in docs.inner_text() and "bakery.md" not in docs.inner_text()
        shot(page, "indexing-in-background.png")
        gate.set()
        page.wait_for_function("() => document.querySelector('#documents').innerText.includes('bakery.md')")
        assert "in the background" not in docs.inner_text()
        context.close()
    finally:
        gate.set()
        app.close()
