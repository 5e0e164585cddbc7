"""OCR with the real bundled models (RapidOCR): an image-only PDF and a PNG are indexed with their pages, a
page with a text layer is never OCR'd, and the page view marks a passage on a scanned page."""

import logging
from pathlib import Path

import pytest

from assistant.api import Assistant
from assistant.readers import read

from .conftest import FakeEncoder

pytestmark = pytest.mark.slow

# one paragraph per page, none repeated (a line repeated on every page is dropped as a running head)
SCAN = [
    ["第一页：会议室预订通过办公系统完成。", "Meeting rooms are booked in the office system."],
    ["第二页：年假申请须提前三个工作日提交部门经理审批。", "Annual leave needs approval three working days ahead."],
]
CARD = ["停车场在园区北门，访客须登记车牌号码。", "Visitors park at the north gate."]


def typeset(path: Path, pages: list[list[str]]) -> Path:
    """A PDF with a text layer: each page's Chinese line (STSong-Light) and English line (Helvetica)."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    pdf = canvas.Canvas(str(path))
    for zh, en in pages:
        pdf.setFont("STSong-Light", 16)
        pdf.drawString(72, 700, zh)
        pdf.setFont("Helvetica", 16)
        pdf.drawString(72, 670, en)
        pdf.showPage()
    pdf.save()
    return path


def rendered(path: Path, dpi: int = 150) -> list:
    """The pages of a PDF as PIL images (what a scanner would give, without its noise)."""
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(str(path))
    images = [pdf[i].render(scale=dpi / 72).to_pil().convert("RGB") for i in range(len(pdf))]
    pdf.close()
    return images


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    work, folder = tmp_path_factory.mktemp("typeset"), tmp_path_factory.mktemp("scans")
    pages = rendered(typeset(work / "scan-src.pdf", SCAN))
    pages[0].save(folder / "scan.pdf", save_all=True, append_images=pages[1:], resolution=150)  # image-only
    rendered(typeset(work / "card-src.pdf", [CARD]))[0].save(folder / "card.png")
    return folder


@pytest.fixture(scope="module")
def bot(corpus, tmp_path_factory):
    bot = Assistant(corpus, encoder=FakeEncoder(), index_root=tmp_path_factory.mktemp("scan-emb"))
    bot.refresh()
    return bot


def test_image_only_pdf_and_png_are_indexed_with_their_pages(bot):
    places = {(p.source, p.page): p.text for p in bot.index.passages}
    assert set(places) == {("scan.pdf", 1), ("scan.pdf", 2), ("card.png", 1)}
    assert "年假申请须提前三个工作日提交部门经理审批" in places["scan.pdf", 2]
    assert "Annual leave needs approval" in places["scan.pdf", 2]
    assert "访客须登记车牌号码" in places["card.png", 1]


@pytest.mark.parametrize(
    "question, source, page",
    [
        ("年假申请须提前几个工作日提交?", "scan.pdf", 2),
        ("会议室怎么预订?", "scan.pdf", 1),
        ("访客停车要登记什么?", "card.png", 1),
    ],
)
def test_questions_about_scanned_text_cite_the_right_page(bot, question, source, page):
    best = bot.ask(question).hits[0].passage
    assert (best.source, best.page) == (source, page)


def test_page_with_a_text_layer_is_never_ocred(tmp_path, caplog):
    import pypdfium2 as pdfium

    typeset(tmp_path / "mixed-src.pdf", SCAN)
    scanned = rendered(tmp_path / "mixed-src.pdf")[1]
    scanned.save(tmp_path / "page2.pdf", resolution=150)
    mixed = pdfium.PdfDocument(str(tmp_path / "mixed-src.pdf"))
    mixed.del_page(1)
    mixed.import_pages(pdfium.PdfDocument(str(tmp_path / "page2.pdf")))
    mixed.save(str(tmp_path / "mixed.pdf"))
    with caplog.at_level(logging.INFO, logger="assistant.readers"):
        blocks = read(tmp_path / "mixed.pdf")
    text = {page: " ".join(b.text for b in blocks if b.page == page) for page in (1, 2)}
    pages = [b.page for b in blocks]  # page 1's two lines may make one paragraph (text layer), page 2's two (OCR)
    assert pages == sorted(pages) and set(pages) == {1, 2} and "会议室预订" in text[1] and "年假申请" in text[2]
    ocred = [r.getMessage() for r in caplog.records if r.getMessage().startswith("OCR ")]
    assert len(ocred) == 1 and ocred[0].startswith("OCR mixed.pdf p. 2:")


def test_page_view_marks_the_passage_on_a_scanned_page(bot):
    passage = next(p for p in bot.index.passages if p.source == "scan.pdf" and p.page == 2)
    view = bot.page("scan.pdf", paragraph=passage.paragraph, part=passage.part)
    assert (view.page, view.pages, view.ocr) == (2, 2, True)
    assert len(view.boxes) == 2  # the Chinese line and the English line
    top, bottom = sorted(view.boxes, key=lambda b: b[1])
    assert top[3] <= bottom[1] + 4 and top[2] - top[0] > 0.3 * view.width  # two lines, one under the other


def test_page_view_of_an_image_marks_the_passage_from_the_ocr_it_was_indexed_with(bot, caplog):
    passage = next(p for p in bot.index.passages if p.source == "card.png" and "停车场" in p.text)
    with caplog.at_level(logging.INFO, logger="assistant.readers"):
        view = bot.page("card.png", paragraph=passage.paragraph, part=passage.part)
    assert (view.page, view.pages, view.ocr) == (1, 1, True) and view.boxes
    assert "the same image was read lately" in caplog.text  # not read by OCR a second time
