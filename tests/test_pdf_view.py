"""The page view of a PDF citation: the cited page rendered beside the chat with the passage marked, in a real
headless Chromium; the same page through the /page endpoint."""

import base64
import io
import json
import socket
from pathlib import Path

import pytest

from assistant.api import Assistant
from assistant.web import launch
from assistant.web.ui import build_app

from .conftest import FakeEncoder
from .conftest import ask_page as ask

pytestmark = [pytest.mark.slow, pytest.mark.browser]
CITED = "员工每年享有十五天带薪年假，年假申请须提前三个工作日通过办公系统提交，由部门经理审批后生效；未休完的年假可以顺延至次年三月底。"
PAGES = [
    [
        "第一章 总则",
        "本手册适用于公司全体员工，说明考勤、休假和报销的基本规定。员工应当认真阅读并遵守本手册的各项要求。",
    ],
    ["第二章 休假", CITED, "病假需要提供医院证明。"],
    ["第三章 报销", "差旅费用应在出差结束后十个工作日内报销，并附上发票原件。"],
]


def make_handbook(path: Path) -> Path:
    """A three-page Chinese PDF (reportlab's built-in STSong-Light), the annual-leave rule wrapped on page 2."""
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.platypus import PageBreak, Paragraph, SimpleDocTemplate

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    style = ParagraphStyle("zh", fontName="STSong-Light", fontSize=12, leading=18, wordWrap="CJK", spaceAfter=14)
    story = []
    for n, paragraphs in enumerate(PAGES):
        story += [PageBreak()] if n else []
        story += [Paragraph(text, style) for text in paragraphs]
    SimpleDocTemplate(str(path)).build(story)
    return path


def phrase_boxes(path: Path, page: int, phrase: str, width: int) -> list[tuple[float, float, float, float]]:
    """PDFium's own search for ``phrase`` on ``page``: its characters' boxes in the pixels of a view ``width`` wide."""
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(str(path))
    sheet = pdf[page - 1]
    scale = width / sheet.get_width()
    height = sheet.get_height()
    textpage = sheet.get_textpage()
    start, count = textpage.search(phrase).get_next()
    boxes = []
    for i in range(start, start + count):
        left, bottom, right, top = textpage.get_charbox(i)
        boxes.append((left * scale, (height - top) * scale, right * scale, (height - bottom) * scale))
    pdf.close()
    return boxes


def covered(char, boxes) -> bool:
    """The character's centre lies inside one of the marked boxes."""
    x, y = (char[0] + char[2]) / 2, (char[1] + char[3]) / 2
    return any(b[0] <= x <= b[2] and b[1] <= y <= b[3] for b in boxes)


@pytest.fixture(scope="module")
def handbook(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pdf-corpus")
    make_handbook(folder / "handbook.pdf")
    (folder / "notes.txt").write_text("会议室在三楼，周一上午九点开例会。\n", encoding="utf-8")
    bot = Assistant(folder, encoder=FakeEncoder(), index_root=tmp_path_factory.mktemp("pdf-emb"))
    bot.refresh()
    app = build_app(bot)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    launch(app, server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    yield f"http://127.0.0.1:{port}/", folder / "handbook.pdf"
    app.close()


def open_page(browser, url, width, height=900):
    context = browser.new_context(viewport={"width": width, "height": height}, accept_downloads=True)
    page = context.new_page()
    page.goto(url)
    page.wait_for_selector("#question textarea", timeout=30_000)
    return context, page


def shown_page(page, number: int) -> dict:
    """The page view's caption once it shows page ``number``: its data attributes, boxes parsed."""
    page.wait_for_selector(f"#page-info .kb-page-info[data-page='{number}']", timeout=30_000)
    info = page.locator("#page-info .kb-page-info").evaluate("e => Object.assign({}, e.dataset)")
    info["boxes"] = json.loads(info["boxes"])
    return info


@pytest.mark.parametrize("width", [1280, 390])
def test_show_page_renders_the_cited_pdf_page_with_the_passage_marked(browser, handbook, width, tmp_path):
    url, pdf = handbook
    context, page = open_page(browser, url, width)
    try:
        reply = ask(page, "年假申请须提前几个工作日提交?")
        card = reply.locator(".kb-card").first
        assert "handbook.pdf" in card.inner_text() and "p. 2" in card.locator(".kb-where").inner_text()
        card.locator("a.kb-page").click()
        info = shown_page(page, 2)
        assert (info["source"], info["pages"], info["cited"]) == ("handbook.pdf", "3", "2")
        image = page.locator("#page-image img")
        image.wait_for(timeout=30_000)
        page.wait_for_function(
            "() => { const i = document.querySelector('#page-image img'); return i && i.complete && i.naturalWidth > 0; }"
        )
        natural = image.evaluate("i => [i.naturalWidth, i.naturalHeight]")
        assert natural == [int(info["width"]), int(info["height"])] and natural[0] <= 1400
        # the marks are over the cited passage (its heading is attached to it: 第二章 休假 › ¶4, cited ¶3–4),
        # one box per printed line, and over nothing else on the page
        boxes = info["boxes"]
        assert len(boxes) == 3
        for phrase in ("第二章", "员工每年享有十五天", "三个工作日", "顺延至次年三月底"):
            chars = phrase_boxes(pdf, 2, phrase, natural[0])
            assert len(chars) == len(phrase) and all(covered(c, boxes) for c in chars), phrase
        assert not any(covered(c, boxes) for c in phrase_boxes(pdf, 2, "病假需要提供医院证明", natural[0]))
        page.locator("#page-view").scroll_into_view_if_needed()
        page.wait_for_timeout(400)
        page.screenshot(path=str(tmp_path / f"pdf-view-{width}.png"))
        with page.expect_download() as download:  # the original file, as indexed
            page.locator("#page-download").click()
        assert download.value.suggested_filename == "handbook.pdf"
        assert Path(download.value.path()).read_bytes() == pdf.read_bytes()
        # the pages around it are a click away, unmarked; the cited one marked again
        page.locator("#page-next").click()
        assert shown_page(page, 3)["boxes"] == []
        assert page.locator("#page-next").is_disabled()
        page.locator("#page-prev").click()
        assert len(shown_page(page, 2)["boxes"]) == 3
        page.locator("#page-prev").click()
        assert shown_page(page, 1)["boxes"] == [] and page.locator("#page-prev").is_disabled()
    finally:
        context.close()


def test_page_endpoint_gives_the_page_and_one_sentence_errors(handbook):
    from gradio_client import Client
    from gradio_client.exceptions import AppError
    from PIL import Image

    url, _ = handbook
    client = Client(url, verbose=False)
    marked = client.predict("handbook.pdf", 0, 4, 0, api_name="/page")  # ¶4: the passage on page 2
    assert (marked["page"], marked["pages"], len(marked["boxes"])) == (2, 3, 3)
    png = base64.b64decode(marked["image"].split(",", 1)[1])
    assert Image.open(io.BytesIO(png)).size == (marked["width"], marked["height"])
    plain = client.predict("handbook.pdf", 3, 0, 0, api_name="/page")
    assert (plain["page"], plain["boxes"]) == (3, [])
    for args, message in [
        (("handbook.pdf", 9, 0, 0), "handbook.pdf has no page 9; it has 3 page(s)."),
        (("notes.txt", 1, 0, 0), "notes.txt has no pages to show; open its passages in context instead."),
        (("../../etc/passwd.pdf", 1, 0, 0), "../../etc/passwd.pdf is not in the knowledge base; ask again to cite it."),
    ]:
        with pytest.raises(AppError) as refused:
            client.predict(*args, api_name="/page")
        assert str(refused.value) == message
