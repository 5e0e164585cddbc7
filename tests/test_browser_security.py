"""In a real browser: no question, document text or file name is ever rendered as HTML or run as script."""

import socket
from pathlib import Path

import pytest

from assistant.api import Assistant
from assistant.web.ui import build_app

from .conftest import CHROMIUM, CHROMIUM_FLAGS, write

pytestmark = [pytest.mark.slow, pytest.mark.browser]
HOSTILE_NAME = "<img src=x onerror=window.PWNED=11>.md"
HOSTILE_QUESTIONS = [
    "<img src=x onerror=window.PWNED=1> green tea?",
    "<script>window.PWNED=2</script> green tea?",
    "[green tea](javascript:window.PWNED=3) **bold** <b>tag</b>",
    '<a href="javascript:window.PWNED=4">green tea</a> <iframe src="javascript:window.PWNED=5"></iframe>',
    "<svg onload=window.PWNED=6></svg> <details open ontoggle=window.PWNED=7> green tea",
]


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    folder = tmp_path_factory.mktemp("corpus")
    write(
        folder,
        HOSTILE_NAME,
        "# <svg onload=window.PWNED=12>Tea</svg>\n\nGreen tea <img src=x onerror=window.PWNED=13> is brewed at "
        "80 degrees for two minutes <script>window.PWNED=14</script> [more](javascript:window.PWNED=15).",
    )
    bot = Assistant(folder, index_root=tmp_path_factory.mktemp("emb"))
    bot.refresh()
    app = build_app(bot)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is missing: apt-get install -y chromium (the CI script installs it)")
    from playwright.sync_api import sync_playwright

    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.goto(f"http://127.0.0.1:{port}/")
            page.wait_for_selector("#question textarea", timeout=30_000)
            yield page
            browser.close()
    finally:
        app.close()


def ask(page, question: str):
    before = page.locator("#chat [data-testid='bot']").count()
    box = page.locator("#question textarea")
    box.fill(question)
    box.press("Enter")
    page.wait_for_function(
        "n => document.querySelectorAll(\"#chat [data-testid='bot']\").length > n", arg=before, timeout=60_000
    )


def injected(page) -> list[str]:
    """Elements or scripts that hostile text could only have produced by being rendered as HTML."""
    return page.evaluate(
        """() => {
            const chat = document.querySelector('#chat');
            const found = [];
            for (const el of chat.querySelectorAll('*')) {
                if (el.closest('button') || el.closest('[class*="icon"]')) continue;  // Gradio's own controls
                const tag = el.tagName.toLowerCase();
                const handlers = [...el.attributes].some(a => a.name.startsWith('on'));
                const scripted = [...el.attributes].some(a => /^\\s*javascript:/i.test(a.value));
                const foreign = ['img', 'script', 'iframe', 'svg', 'object', 'embed', 'b'].includes(tag)
                    || (tag === 'details' && !el.className.startsWith('kb-'));
                if (handlers || scripted || foreign) found.push(el.outerHTML.slice(0, 80));
            }
            if (window.PWNED !== undefined) found.push('PWNED=' + window.PWNED);
            return found;
        }"""
    )


@pytest.mark.parametrize("question", HOSTILE_QUESTIONS)
def test_hostile_question_is_shown_as_text(page, question):
    ask(page, question)
    assert injected(page) == []
    user_bubble = page.locator("#chat [data-testid='user']").last.inner_text()
    assert "<" in user_bubble or "[green tea]" in user_bubble  # shown literally, not interpreted


def test_hostile_document_and_file_name_are_shown_as_text(page):
    ask(page, "Green tea is brewed at 80 degrees for two minutes?")
    reply = page.locator("#chat [data-testid='bot']").last.inner_text()
    assert HOSTILE_NAME in reply and "<img src=x onerror=window.PWNED=13>" in reply
    assert injected(page) == []
