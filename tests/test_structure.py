"""Structure of Markdown and HTML files: headings as sections (no ``#`` in passages), table rows with their
header, code blocks whole, and only an HTML page's main content (no navigation, banners, cookie notices, footers)."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.api import Assistant
from assistant.readers import read_html
from assistant.text import make_passages, read_document

from .conftest import FakeEncoder

HANDBOOK_MD = """---
title: front matter is not text
---
# 员工手册

## 年假

员工每年享有十五天带薪年假，
需要提前两周申请。

| 级别 | 天数 |
| --- | --- |
| 初级 | 10 |
| 高级 | 15 |

## Install
Run the installer on the first day.

```bash
pip install assistant
  --upgrade
```

- First item of the list
- Second item of the list
"""

PAGE = """<!doctype html><html><head><title>Acme · Leave</title></head>
<body class="has-sidebar">
<div id="cookie-consent"><p>We use cookies. Our cookie policy: cookies are kept for a year; accept all.</p></div>
<header class="site-header"><a href="/">Acme</a><nav><a href="/">Home</a> <a href="/jobs">Jobs</a></nav></header>
<div class="banner">Summer sale: everything half price this week.</div>
<div class="layout"><article>
<header><h1>Annual leave</h1></header>
<p>Every employee gets fifteen days of paid annual leave each year, planned with the team.</p>
<h2>Carrying over</h2>
<p>Leave that is not taken can be carried over into the first quarter of the next year.</p>
<aside>Related: sick leave rules</aside>
</article>
<aside class="sidebar"><p>Popular posts of the month on the company blog.</p></aside></div>
<footer><p>Cookie policy: this site stores cookies for analytics for thirteen months. © Acme 2026</p></footer>
</body></html>
"""


def passages_of(path: Path):
    return make_passages(read_document(path, root=path.parent))


def test_markdown_headings_tables_code_and_lists(tmp_path):
    (tmp_path / "handbook.md").write_text(HANDBOOK_MD, encoding="utf-8")
    document = read_document(tmp_path / "handbook.md", root=tmp_path)
    assert document.title == "员工手册"
    assert [(p.section, p.text) for p in document.paragraphs] == [
        ("员工手册", "员工手册"),
        ("员工手册 › 年假", "年假"),
        ("员工手册 › 年假", "员工每年享有十五天带薪年假，需要提前两周申请。"),
        ("员工手册 › 年假", "级别: 初级; 天数: 10"),
        ("员工手册 › 年假", "级别: 高级; 天数: 15"),
        ("员工手册 › Install", "Install"),
        ("员工手册 › Install", "Run the installer on the first day."),
        ("员工手册 › Install", "pip install assistant\n  --upgrade"),
        ("员工手册 › Install", "• First item of the list"),
        ("员工手册 › Install", "• Second item of the list"),
    ]
    passages = make_passages(document)
    assert not [p.text for p in passages if "#" in p.text or "|" in p.text or "```" in p.text]
    # heading lines apart; the light table rows join the paragraph before them, a row a line
    assert (
        passages[0].text
        == "员工手册\n年假\n员工每年享有十五天带薪年假，需要提前两周申请。\n级别: 初级; 天数: 10\n级别: 高级; 天数: 15"
    )


def test_markdown_headings_are_never_glued_to_the_next_line(tmp_path):
    (tmp_path / "notes.md").write_text("# Tea\nGreen tea is brewed at 80 degrees\nfor two minutes.\n", encoding="utf-8")
    document = read_document(tmp_path / "notes.md", root=tmp_path)
    assert [(p.section, p.text) for p in document.paragraphs] == [
        ("Tea", "Tea"),
        ("Tea", "Green tea is brewed at 80 degrees for two minutes."),
    ]


def test_html_page_keeps_only_its_article_with_headings_as_sections(tmp_path):
    (tmp_path / "leave.html").write_text(PAGE, encoding="utf-8")
    document = read_document(tmp_path / "leave.html", root=tmp_path)
    assert document.title == "Annual leave"
    assert [(p.section, p.text) for p in document.paragraphs] == [
        ("Annual leave", "Annual leave"),
        ("Annual leave", "Every employee gets fifteen days of paid annual leave each year, planned with the team."),
        ("Annual leave › Carrying over", "Carrying over"),
        (
            "Annual leave › Carrying over",
            "Leave that is not taken can be carried over into the first quarter of the next year.",
        ),
    ]


def test_cookie_question_is_not_answered_from_the_footer(tmp_path):
    corpus = tmp_path / "docs"
    corpus.mkdir()
    (corpus / "leave.html").write_text(PAGE, encoding="utf-8")
    bot = Assistant(corpus, index_root=tmp_path / "index", encoder=FakeEncoder())
    answer = bot.ask("What is the cookie policy?", threshold=0.0)  # the ranking, whatever the not-found rule says
    texts = [h.passage.text for h in answer.hits]
    assert texts and not [t for t in texts if "cookie" in t.lower()]  # no cookie text was indexed at all
    assert {h.passage.section for h in answer.hits} <= {"Annual leave", "Annual leave › Carrying over"}


@pytest.mark.parametrize(
    "markup, texts",
    [
        # without <article> or <main>: the page less its furniture
        (
            '<body><nav role="navigation">Home · Jobs</nav><div class="menu">Menu</div>'
            '<p>The canteen opens at noon.</p><div role="contentinfo">Imprint</div>'
            '<div class="cookie-notice">Cookies!</div><p hidden>secret</p></body>',
            ["The canteen opens at noon."],
        ),
        # nesting deeper than Python's recursion limit is read, not a RecursionError
        ("<div>" * 5000 + "deep text" + "</div>" * 5000 + "<p>after</p>", ["deep text", "after"]),
        # <main> wins over everything around it
        ("<body><p>Site intro</p><main><p>Only this.</p></main><p>After</p></body>", ["Only this."]),
        # a wrapper whose class names a sidebar but that holds the article is not furniture
        ('<body><div class="with-sidebar"><article><p>Kept.</p></article></div></body>', ["Kept."]),
        # tables row by row with their header, <pre> whole, Chinese lines joined without a space
        (
            "<article><table><tr><th>名称</th><th>价格</th></tr><tr><td>苹果</td><td>5元</td></tr></table>"
            "<pre>a = 1\n  b = 2</pre><p>中文\n换行</p></article>",
            ["名称: 苹果; 价格: 5元", "a = 1\n  b = 2", "中文换行"],
        ),
    ],
)
def test_html_furniture_and_structure(markup, texts):
    assert [b.text for b in read_html(markup)[1]] == texts


def test_markdown_lines_that_end_sentences_stay_paragraphs(tmp_path):
    (tmp_path / "news.md").write_text("# 新闻\n\n第一段讲会议。\n第二段讲成果。\n第三段讲展望。\n", encoding="utf-8")
    document = read_document(tmp_path / "news.md", root=tmp_path)
    assert [p.text for p in document.paragraphs] == ["新闻", "第一段讲会议。", "第二段讲成果。", "第三段讲展望。"]


def test_pdf_lines_stopping_short_before_a_long_word_stay_in_their_paragraph(tmp_path):
    from reportlab.pdfgen import canvas

    from assistant.readers import read

    lines = [
        "The square was renamed in 1793 as the Place des",  # short: the next word did not fit
        "Victoires-Nationaux-et-Republicaines by the city, and a",
        "wooden pyramid replaced the statue.",  # short: the paragraph ends here
        "A new paragraph starts on this line of the page and",
        "ends on this one.",
    ]
    pdf = canvas.Canvas(str(tmp_path / "wrap.pdf"), pagesize=(595, 842))
    pdf.setFont("Courier", 10)
    for i, line in enumerate(lines):
        pdf.drawString(72, 700 - 12 * i, line)
    pdf.save()
    assert [b.text for b in read(tmp_path / "wrap.pdf")] == [" ".join(lines[:3]), " ".join(lines[3:])]


def test_pdf_page_with_a_character_beyond_the_bmp_keeps_its_layout(tmp_path):
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    from assistant.readers import read

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    lines = [
        "蓝线裸顶鲷，又称蓝线白𫚭，俗名龙尖，为辐鳍鱼纲鲈形目龙占鱼科的",
        "其中一个种。本鱼分布于印度太平洋区，包括东非、马达加斯加等地。",
    ]
    pdf = canvas.Canvas(str(tmp_path / "rare.pdf"), pagesize=(595, 842))
    pdf.setFont("STSong-Light", 12)
    pdf.drawString(72, 700, lines[0])
    pdf.drawString(72, 684, lines[1])
    pdf.drawString(72, 650, "下一段。")
    pdf.save()
    # PDFium counts 𫚭 as two characters: the lines' boxes are still found, so the wrapped lines join
    assert [b.text for b in read(tmp_path / "rare.pdf")] == ["".join(lines), "下一段。"]
