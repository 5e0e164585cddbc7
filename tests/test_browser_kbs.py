"""The page's knowledge-base selector in headless Chromium: the real server (``serve``) with two knowledge bases
and their watchers, on the fake encoder."""

import time

import pytest

from assistant.api import KBSpec, open_kbs
from assistant.encoders import set_encoder_factory
from assistant.web import serve

from .conftest import ARTIFACTS, FakeEncoder, free_port, write, write_docs
from .conftest import ask_page as ask

pytestmark = [pytest.mark.slow, pytest.mark.browser]
HR = {
    "leave.md": "# Leave\n\nEmployees take twenty days of annual leave every year.\n",
    "travel.txt": "Travel\n\nTravel is booked through the office two weeks ahead.\n",
}
IT = {
    "laptops.md": "# Laptops\n\nLaptops are replaced every three years by the help desk.\n",
    "printers.txt": "Printers\n\nThe printers on the second floor take A3 paper and annual toner.\n",
}


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    set_encoder_factory(lambda name=None: FakeEncoder(name or "fake-bigrams"))
    tmp = tmp_path_factory.mktemp("kb-page")
    hr, it = write_docs(tmp / "people", HR), write_docs(tmp / "computers", IT)
    kbs = open_kbs([KBSpec.parse(f"hr={hr}"), KBSpec.parse(f"it={it}")], index_root=tmp / "emb")
    port = free_port()
    app = serve(kbs, port=port, watch=True, block=False)
    try:
        yield f"http://127.0.0.1:{port}/", kbs, tmp
    finally:
        for watcher in app.watchers:
            watcher.stop()
        app.close()
        set_encoder_factory(None)


@pytest.fixture
def page(browser, site):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(site[0])
    page.wait_for_selector("#documents table", timeout=30_000)
    yield page
    context.close()


def choose(page, label: str, kb: str):
    page.locator("#kb-pick input").click()
    page.get_by_role("option", name=label, exact=True).click()
    page.wait_for_selector(f"#documents .kb-base[data-kb='{kb}']", timeout=30_000)


def named_kbs(reply) -> list[str]:
    return reply.locator(".kb-card .kb-kb").all_inner_texts()


def test_all_then_one_knowledge_base(page):
    assert page.locator("#kb-pick").is_visible()
    docs = page.locator("#documents").inner_text()
    assert "[hr] documents: 2" in docs and "[it] documents: 2" in docs and "laptops.md" in docs
    both = named_kbs(ask(page, "annual leave days and annual toner"))
    assert {"[hr]", "[it]"} <= set(both), both
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "kb-selector.png"))

    choose(page, "hr", "hr")
    docs = page.locator("#documents").inner_text()
    assert "leave.md" in docs and "laptops.md" not in docs
    reply = ask(page, "annual leave days and annual toner")
    assert set(named_kbs(reply)) == {"[hr]"}
    assert "leave.md" in reply.inner_text()
    follow = ask(page, "and how early is travel booked?")  # a follow-up in the same chat
    assert "travel.txt" in follow.inner_text() and set(named_kbs(follow)) == {"[hr]"}


def test_uploads_go_to_the_selected_knowledge_base(page, site, tmp_path):
    _, kbs, _ = site
    note = write(tmp_path, "canteen.md", "# Canteen\n\nThe canteen serves noodles on Tuesdays.\n")
    other = write(tmp_path, "menu.md", "# Menu\n\nThe menu changes every Monday.\n")
    page.locator("#kb input[type=file]").set_input_files([str(other)])  # "all" is selected: refused, one sentence
    page.wait_for_selector("#upload-status .kb-bad", timeout=30_000)
    assert "Choose one knowledge base above" in page.locator("#upload-status").inner_text()
    assert not [p for _, bot in kbs.items() for p in bot.uploads.glob("*.md")]

    choose(page, "it", "it")
    page.locator("#kb input[type=file]").set_input_files([str(note)])
    page.wait_for_selector("#upload-status .kb-good", timeout=60_000)
    assert "Added uploads/canteen.md" in page.locator("#upload-status").inner_text()
    assert (kbs.get("it").uploads / "canteen.md").exists() and not (kbs.get("hr").uploads / "canteen.md").exists()
    assert "uploads/canteen.md" in page.locator("#documents").inner_text()
    assert set(named_kbs(ask(page, "canteen noodles"))) == {"[it]"}


def test_the_list_follows_the_watcher(page, site):
    _, kbs, tmp = site
    kbs.get("it").add_documents([("desks.md", b"# Desks\n\nDesks are booked online.")])
    deadline = time.monotonic() + 30  # the watcher sees the upload too: wait until it has nothing left to do
    while (before := kbs.version()) and time.monotonic() < deadline:
        time.sleep(4)
        if kbs.version() == before:
            break
    choose(page, "it", "it")
    page.locator("#remove-pick input").click()
    page.get_by_role("option", name="uploads/desks.md").click()
    page.wait_for_timeout(7_000)  # two checks of the indexes' version: nothing changed, so the choice stays
    assert page.locator("#remove-pick input").input_value() == "uploads/desks.md"
    choose(page, "hr", "hr")
    started = time.monotonic()
    write(tmp / "people", "pensions.md", "# Pensions\n\nPensions are paid on the last day of the month.\n")
    page.wait_for_function(
        "() => document.querySelector('#documents').innerText.includes('pensions.md')", timeout=30_000
    )
    print(f"listed {time.monotonic() - started:.1f} s after the save")
    assert "pensions.md" in {d.source for d in kbs.get("hr").documents()}
