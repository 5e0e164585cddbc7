"""The page view's pieces: finding a passage's characters on a page, merging their boxes into lines, and
opening only the indexed file as it was indexed."""

import os

import pytest

from assistant.api import Assistant
from assistant.errors import AssistantError
from assistant.readers.pageview import line_boxes, locate

from .conftest import FakeEncoder


@pytest.mark.parametrize(
    "chars, text, expected",
    [
        ("ab\r\ncd", "abcd", [0, 1, 4, 5]),  # the reader re-joined the lines
        ("exam-\r\nple text", "example", [0, 1, 2, 3, 7, 8, 9]),  # a hyphen at a line end
        ("年假\r\n申请 须提前", "年假申请须", [0, 1, 4, 5, 7]),
        ("other words", "not here", []),
    ],
)
def test_locate_matches_without_spaces_and_line_end_hyphens(chars, text, expected):
    assert locate(chars, text) == expected


def test_locate_falls_back_to_the_passages_first_and_last_characters():
    page = "前言。" + "员工每年享有十五天带薪年假" + "X" + "未休完的年假可以顺延至次年三月底。"
    passage = "员工每年享有十五天带薪年假" + "未休完的年假可以顺延至次年三月底。"  # the X is not in the passage
    found = locate(page, passage)
    assert found == list(range(3, len(page)))


def test_locate_finds_each_line_of_a_passage_that_spans_two_pages():
    page = "第二页：年假申请须提前三个工作日提交。"  # the passage's first line, a heading, is on the page before
    assert locate(page, "第一页：入职须知。\n第二页：年假申请须提前三个工作日提交。") == list(range(len(page)))


def test_line_boxes_merge_characters_into_one_box_per_printed_line():
    first = [(10 + 12 * i, 100, 22 + 12 * i, 114) for i in range(5)]
    second = [(10 + 12 * i, 120, 22 + 12 * i, 134) for i in range(3)]
    spaces = [(0, 0, 0, 0)]  # a generated character without a box
    assert line_boxes(first + spaces + second) == [(8, 98, 72, 116), (8, 118, 48, 136)]


def handbook(path):
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    pdf = canvas.Canvas(str(path))
    for text in ("第一页：入职须知。", "第二页：年假申请须提前三个工作日提交。"):
        pdf.setFont("STSong-Light", 14)
        pdf.drawString(72, 700, text)
        pdf.showPage()
    pdf.save()


def test_page_is_the_indexed_file_and_a_gone_or_changed_file_is_one_sentence(tmp_path):
    corpus = tmp_path / "docs"
    corpus.mkdir()
    handbook(corpus / "handbook.pdf")
    (corpus / "notes.txt").write_text("会议室在三楼。\n", encoding="utf-8")
    bot = Assistant(corpus, encoder=FakeEncoder(), index_root=tmp_path / "index")
    bot.refresh()
    passage = next(p for p in bot.index.passages if p.page == 2)
    view = bot.page("handbook.pdf", paragraph=passage.paragraph)
    assert (view.page, view.pages, len(view.boxes), view.width) == (2, 2, 1, 1399)
    assert bot.page("handbook.pdf", 1).boxes == ()  # another page: shown, nothing marked
    for source, message in [
        ("notes.txt", "notes.txt has no pages to show; open its passages in context instead."),
        ("other.pdf", "other.pdf is not in the knowledge base; ask again to cite it."),
        ("../docs/handbook.pdf", "../docs/handbook.pdf is not in the knowledge base; ask again to cite it."),
    ]:
        with pytest.raises(AssistantError) as refused:
            bot.page(source, 1)
        assert str(refused.value) == message
    with pytest.raises(AssistantError, match=r"^handbook\.pdf has no page 3; it has 2 page\(s\)\.$"):
        bot.page("handbook.pdf", 3)
    stat = (corpus / "handbook.pdf").stat()
    (corpus / "handbook.pdf").write_bytes((corpus / "handbook.pdf").read_bytes() + b"\n% changed\n")
    os.utime(corpus / "handbook.pdf", ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    with pytest.raises(AssistantError) as changed:
        bot.page("handbook.pdf", 2)
    assert (
        str(changed.value) == "handbook.pdf changed since it was indexed; its pages are shown once it is indexed again."
    )
    (corpus / "handbook.pdf").unlink()
    with pytest.raises(AssistantError) as gone:
        bot.page("handbook.pdf", 2)
    assert str(gone.value) == "handbook.pdf is no longer in its folder; index the documents again."
