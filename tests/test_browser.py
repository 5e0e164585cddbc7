"""The web chat in a real headless Chromium (Debian's package) driven by Playwright."""

import shutil
import socket
from pathlib import Path

import pytest

from assistant.api import Assistant
from assistant.ui import build_app

from .conftest import ROOT, SEEDS, write

pytestmark = [pytest.mark.slow, pytest.mark.browser]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = ROOT / "test-artifacts"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("corpus")
    (folder / "wuzhen_summit_ten_years_interview.txt").write_bytes(
        (SEEDS / "wuzhen_summit_ten_years_interview.txt").read_bytes()
    )
    write(
        folder,
        "evil.md",
        "# Evil page\n\nThe sourdough starter <script>window.PWNED = 1</script>"
        '<img src=x onerror="window.PWNED = 2"> needs flour and water every day.',
    )
    bot = Assistant(folder, index_root=tmp_path_factory.mktemp("emb"))
    bot.refresh()
    app = build_app(bot)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    yield f"http://127.0.0.1:{port}/"
    app.close()


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is missing: apt-get install -y chromium (the CI script installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, server):
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    page = context.new_page()
    page.goto(server)
    page.wait_for_selector("#question textarea", timeout=30_000)
    yield page
    context.close()


def ask(page, question: str):
    box = page.locator("#question textarea")
    box.fill(question)
    box.press("Enter")
    before = page.locator("#chat [data-testid='bot']").count()
    page.wait_for_function(
        "n => document.querySelectorAll(\"#chat [data-testid='bot']\").length > n", arg=before, timeout=60_000
    )
    return page.locator("#chat [data-testid='bot']").last


def test_question_shows_answer_and_citation(page):
    reply = ask(page, "世界互联网大会国际组织是什么时候成立的?")
    text = reply.inner_text()
    assert "2022年7月12日" in text and "wuzhen_summit_ten_years_interview.txt" in text and "¶15" in text
    assert reply.locator("strong", has_text="2022年7月12日").count() >= 1  # the best sentence is emphasised
    reply.evaluate("e => e.scrollIntoView({block: 'start'})")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "chat-answer.png"), full_page=True)


def test_english_question_finds_the_same_paragraph(page):
    text = ask(page, "When was the WIC international organization founded?").inner_text()
    assert "¶15" in text.split("[2]")[0]


def test_script_in_a_document_does_not_run(page):
    text = ask(page, "What does the sourdough starter need?").inner_text()
    assert "evil.md" in text and "<script>window.PWNED = 1</script>" in text
    assert page.evaluate("window.PWNED === undefined")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "chat-hostile-document.png"), full_page=True)


def test_not_found_message(page):
    text = ask(page, "明天北京会下雨吗?").inner_text()
    assert "没有找到" in text and "¶" not in text
