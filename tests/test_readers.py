"""Document readers on real files made here: PDF (reportlab), Word, PowerPoint, Excel, CSV, EPUB; their places
(page, slide, sheet and row, section) in passages and citations, and the files they refuse."""

from __future__ import annotations

import datetime
import logging
import re
import zipfile
from pathlib import Path

import pytest

from assistant.api import Assistant
from assistant.errors import CorpusError
from assistant.readers import read
from assistant.text import make_passages, read_document

from .conftest import FakeEncoder

PDFS = Path(__file__).parent / "data" / "pdfs"

ANNUAL_LEAVE = (
    "员工在公司工作满一年后每年可以享受十五天带薪年假，年假应当在当年之内休完，未休完的年假可以顺延到下一年的第一季度。"
)
SICK_LEAVE = "病假需要提供医院证明，每年累计不超过十天的病假工资照发。"
HANDBOOK = "Every new colleague receives the hand-"
HANDBOOK_2 = "book of the company on the first day,"
HANDBOOK_3 = "and keeps it at the desk."
LUNCH = "Lunch is free for every employee on working days."


def passages_of(path: Path):
    return make_passages(read_document(path, root=path.parent))


# ---------------------------------------------------------------- PDF


def make_pdf(path: Path, *, encrypt: str | None = None) -> Path:
    """Three pages under a running header with page numbers: a wrapped Chinese paragraph, a hyphenated
    English word at a line end, an outline of three bookmarks (two levels)."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    pdf = canvas.Canvas(str(path), pagesize=(595, 842), encrypt=encrypt)

    def page(number: int, heading: str, key: str, level: int, lines: list[tuple[str, str, float]]) -> None:
        pdf.setFont("STSong-Light", 10)
        pdf.drawString(72, 810, "员工手册 · Employee Handbook 2026")
        pdf.setFont("STSong-Light", 16)
        pdf.drawString(72, 750, heading)
        pdf.bookmarkPage(key, fit="XYZ", left=72, top=770)
        pdf.addOutlineEntry(heading, key, level=level)
        for font, text, y in lines:
            pdf.setFont(font, 12)
            pdf.drawString(72, y, text)
        pdf.setFont("Helvetica", 10)
        pdf.drawString(297, 30, str(number))
        pdf.showPage()

    zh = [ANNUAL_LEAVE[i : i + 20] for i in range(0, len(ANNUAL_LEAVE), 20)]
    page(1, "1 总则", "p1", 0, [("STSong-Light", line, 700 - 18 * i) for i, line in enumerate(zh)])
    page(2, "1.1 病假", "p2", 1, [("STSong-Light", SICK_LEAVE, 700)])
    english = [("Courier", HANDBOOK, 700), ("Courier", HANDBOOK_2, 682), ("Courier", HANDBOOK_3, 664)]
    page(3, "2 Benefits", "p3", 0, [*english, ("Helvetica", LUNCH, 628)])
    pdf.save()
    return path


def test_pdf_pages_paragraphs_and_sections(tmp_path):
    blocks = read(make_pdf(tmp_path / "handbook.pdf"))
    assert [(b.page, b.section, b.text) for b in blocks] == [
        (1, "1 总则", "1 总则"),
        (1, "1 总则", ANNUAL_LEAVE),  # the wrapped Chinese lines joined without spaces
        (2, "1 总则 › 1.1 病假", "1.1 病假"),
        (2, "1 总则 › 1.1 病假", SICK_LEAVE),
        (3, "2 Benefits", "2 Benefits"),
        (
            3,
            "2 Benefits",
            "Every new colleague receives the handbook of the company on the first day, and keeps it at the desk.",
        ),
        (3, "2 Benefits", LUNCH),
    ]  # no running header, no page numbers


def test_pdf_citations_name_page_section_and_paragraph(tmp_path):
    passages = passages_of(make_pdf(tmp_path / "handbook.pdf"))
    assert [(p.page, p.citation) for p in passages] == [
        (1, "1 总则 · p. 1 · ¶2"),
        (2, "1 总则 › 1.1 病假 · p. 2 · ¶2"),
        (3, "2 Benefits · p. 3 · ¶2"),
        (3, "2 Benefits · p. 3 · ¶3"),
    ]
    assert passages[0].text == f"1 总则\n{ANNUAL_LEAVE}"


def test_pdf_with_a_password_or_damaged_is_refused_in_one_sentence(tmp_path):
    locked = make_pdf(tmp_path / "locked.pdf", encrypt="secret")
    with pytest.raises(CorpusError, match=r"^locked\.pdf is a password-protected PDF; save a copy without"):
        read_document(locked, root=tmp_path)
    (tmp_path / "broken.pdf").write_bytes(b"%PDF-1.4\nnot really a PDF\n")
    with pytest.raises(CorpusError, match=r"^broken\.pdf is a damaged PDF \(.+\); re-save or re-export it\.$"):
        read_document(tmp_path / "broken.pdf", root=tmp_path)


def test_pdf_page_without_text_or_image_is_not_ocred(tmp_path, caplog):
    from reportlab.pdfgen import canvas

    pdf = canvas.Canvas(str(tmp_path / "scan.pdf"))
    pdf.drawString(72, 700, "Only the first page has text.")
    pdf.showPage()
    pdf.rect(72, 72, 300, 300, fill=1)  # a drawing, no text and no image: nothing for OCR
    pdf.showPage()
    pdf.save()
    with caplog.at_level(logging.INFO):
        blocks = read(tmp_path / "scan.pdf")
    assert [(b.page, b.text) for b in blocks] == [(1, "Only the first page has text.")]
    assert "OCR" not in caplog.text


@pytest.mark.parametrize(
    "name",
    [
        "002-trivial-libre-office-writer.pdf",
        "google-doc-document.pdf",
        "habibi.pdf",
        "pdflatex-forms.pdf",
        "pdflatex-outline.pdf",
    ],
)
def test_real_pdfs_give_text_on_every_page_with_a_text_layer(name):
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(str(PDFS / name))
    with_text = {i + 1 for i in range(len(pdf)) if pdf[i].get_textpage().get_text_range().strip()}
    pdf.close()
    blocks = read(PDFS / name)
    assert with_text and {b.page for b in blocks} == with_text
    assert all(b.text.strip() for b in blocks)


def test_real_pdf_outline_gives_sections():
    blocks = read(PDFS / "pdflatex-outline.pdf")
    assert {b.section for b in blocks if b.page == 1} == {""}  # the contents page comes before any bookmark
    assert {b.section for b in blocks} == {"", "Foo", "Bar", "Baz"}
    first = next(b for b in blocks if b.section == "Foo")
    assert (first.page, first.text) == (2, "1 Foo")


def test_real_google_docs_pdf_keeps_its_words_apart():
    texts = [b.text for b in read(PDFS / "google-doc-document.pdf")]
    assert texts[:3] == ["Example document", "Beautiful is better than ugly.", "Explicit is better than implicit."]


# ---------------------------------------------------------------- Word


def make_docx(path: Path) -> Path:
    import docx

    document = docx.Document()
    document.add_heading("员工手册", 0)
    document.add_heading("3 休假", 1)
    document.add_heading("3.2 年假", 2)
    document.add_paragraph(ANNUAL_LEAVE)
    document.add_paragraph("提前两周提交年假申请", style="List Bullet")
    document.add_paragraph("年假申请需要部门经理批准", style="List Bullet")
    table = document.add_table(rows=3, cols=2)
    for row, cells in zip(table.rows, [("假期类型", "天数"), ("年假", "15"), ("病假", "10")], strict=True):
        for cell, text in zip(row.cells, cells, strict=True):
            cell.text = text
    document.add_heading("4 Expenses", 1)
    document.add_paragraph("Travel expenses are refunded within thirty days of the trip.")
    document.save(str(path))
    return path


def test_docx_headings_lists_and_tables(tmp_path):
    blocks = read(make_docx(tmp_path / "handbook.docx"))
    assert [(b.section, b.text) for b in blocks] == [
        ("", "员工手册"),
        ("3 休假", "3 休假"),
        ("3 休假 › 3.2 年假", "3.2 年假"),
        ("3 休假 › 3.2 年假", ANNUAL_LEAVE),
        ("3 休假 › 3.2 年假", "• 提前两周提交年假申请"),
        ("3 休假 › 3.2 年假", "• 年假申请需要部门经理批准"),
        ("3 休假 › 3.2 年假", "假期类型: 年假; 天数: 15"),
        ("3 休假 › 3.2 年假", "假期类型: 病假; 天数: 10"),
        ("4 Expenses", "4 Expenses"),
        ("4 Expenses", "Travel expenses are refunded within thirty days of the trip."),
    ]


def test_docx_citations_are_section_paths(tmp_path):
    passages = passages_of(make_docx(tmp_path / "handbook.docx"))
    assert passages[0].title == "员工手册"
    assert [p.citation for p in passages] == [
        "¶1",
        "3 休假 › 3.2 年假 · ¶1",
        "4 Expenses · ¶1",
    ]  # the title: before any heading
    assert passages[1].text == "\n".join(  # the headings lead their text; the short end of a section stays in it
        ["3 休假", "3.2 年假", ANNUAL_LEAVE, "• 提前两周提交年假申请", "• 年假申请需要部门经理批准"]
        + ["假期类型: 年假; 天数: 15", "假期类型: 病假; 天数: 10"]
    )


# ---------------------------------------------------------------- PowerPoint


def make_pptx(path: Path) -> Path:
    import pptx
    from pptx.util import Inches

    deck = pptx.Presentation()
    first = deck.slides.add_slide(deck.slide_layouts[1])
    first.shapes.title.text = "年假制度"
    first.placeholders[1].text_frame.text = "每位员工每年享有十五天带薪年假，需要提前两周申请。"
    first.notes_slide.notes_text_frame.text = "提醒大家年假没有休完可以顺延到下一年第一季度。"
    second = deck.slides.add_slide(deck.slide_layouts[5])
    second.shapes.title.text = "Remote work"
    table = second.shapes.add_table(3, 2, Inches(1), Inches(2), Inches(6), Inches(2)).table
    for r, cells in enumerate([("Team", "Office days"), ("Research", "2 days a week"), ("Sales", "4 days a week")]):
        for c, text in enumerate(cells):
            table.cell(r, c).text = text
    deck.save(str(path))
    return path


def test_pptx_slides_titles_tables_and_notes(tmp_path):
    blocks = read(make_pptx(tmp_path / "deck.pptx"))
    assert [(b.slide, b.text) for b in blocks] == [
        (1, "年假制度"),
        (1, "每位员工每年享有十五天带薪年假，需要提前两周申请。"),
        (1, "Notes: 提醒大家年假没有休完可以顺延到下一年第一季度。"),
        (2, "Remote work"),
        (2, "Team: Research; Office days: 2 days a week"),
        (2, "Team: Sales; Office days: 4 days a week"),
    ]
    passages = passages_of(tmp_path / "deck.pptx")
    assert [(p.slide, p.citation) for p in passages] == [(1, "slide 1"), (1, "slide 1"), (2, "slide 2"), (2, "slide 2")]
    assert [p.text for p in passages][::2] == [  # a slide's title leads its text
        "年假制度\n每位员工每年享有十五天带薪年假，需要提前两周申请。",
        "Remote work\nTeam: Research; Office days: 2 days a week",
    ]


# ---------------------------------------------------------------- spreadsheets


def make_xlsx(path: Path) -> Path:
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "假期"
    sheet.append(["姓名", "部门", "年假天数"])
    sheet.append(["张三", "研发部", 15])
    sheet.append(["李四", None, 12])
    sheet.merge_cells("B2:B3")
    sheet.append([])
    sheet.append(["王五", "市场部", 10])
    other = book.create_sheet("Rooms")
    other.append(["Room", "Seats", "Opened"])
    other.append(["Lotus", 12.0, datetime.datetime(2026, 3, 1)])
    book.save(str(path))
    return path


def test_xlsx_rows_with_header_and_merged_cells(tmp_path):
    blocks = read(make_xlsx(tmp_path / "leave.xlsx"))
    assert [(b.sheet, b.row, b.text) for b in blocks] == [
        ("假期", 2, "姓名: 张三; 部门: 研发部; 年假天数: 15"),
        ("假期", 3, "姓名: 李四; 部门: 研发部; 年假天数: 12"),  # the merged cell's value on each of its rows
        ("假期", 5, "姓名: 王五; 部门: 市场部; 年假天数: 10"),  # the empty row 4 skipped, numbering kept
        ("Rooms", 2, "Room: Lotus; Seats: 12; Opened: 2026-03-01"),
    ]
    passages = passages_of(tmp_path / "leave.xlsx")
    assert {p.title for p in passages} == {"leave"}  # the file's name: a first row is data, not a title
    assert [p.citation for p in passages] == [
        "假期 · row 2",
        "假期 · row 3",
        "假期 · row 5",
        "Rooms · row 2",
    ]  # short rows are not attached to each other


@pytest.mark.parametrize("name, sep", [("prices.csv", ","), ("prices.tsv", "\t")])
def test_gb18030_csv_and_tsv(tmp_path, name, sep):
    text = f"名称{sep}价格\r\n苹果{sep}5元一斤\r\n\r\n香蕉{sep}3元一斤\r\n"
    (tmp_path / name).write_bytes(text.encode("gb18030"))
    blocks = read(tmp_path / name)
    assert [(b.sheet, b.row, b.text) for b in blocks] == [
        ("prices", 2, "名称: 苹果; 价格: 5元一斤"),
        ("prices", 4, "名称: 香蕉; 价格: 3元一斤"),
    ]


# ---------------------------------------------------------------- EPUB


def make_epub(path: Path) -> Path:
    chapter = (
        '<?xml version="1.0" encoding="utf-8"?><html xmlns="http://www.w3.org/1999/xhtml"><head><title>{t}</title>'
        "</head><body><h1>{t}</h1><p>{p}</p></body></html>"
    )
    with zipfile.ZipFile(path, "w") as book:
        book.writestr("mimetype", "application/epub+zip", compress_type=zipfile.ZIP_STORED)
        book.writestr(
            "META-INF/container.xml",
            '<?xml version="1.0"?><container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:container">'
            '<rootfiles><rootfile full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/>'
            "</rootfiles></container>",
        )
        book.writestr(
            "OEBPS/content.opf",
            '<?xml version="1.0"?><package xmlns="http://www.idpf.org/2007/opf" version="3.0">'
            '<metadata xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>员工手册</dc:title></metadata><manifest>'
            '<item id="b" href="text/ch2.xhtml" media-type="application/xhtml+xml"/>'
            '<item id="a" href="text/ch1.xhtml" media-type="application/xhtml+xml"/>'
            '</manifest><spine><itemref idref="a"/><itemref idref="b"/></spine></package>',
        )
        book.writestr(
            "OEBPS/text/ch1.xhtml",
            chapter.format(t="第一章 入职", p="新员工入职第一天领取工牌和电脑，并参加公司介绍。"),
        )
        book.writestr("OEBPS/text/ch2.xhtml", chapter.format(t="第二章 休假", p=ANNUAL_LEAVE))
    return path


def test_epub_chapters_in_spine_order_with_titles(tmp_path):
    blocks = read(make_epub(tmp_path / "handbook.epub"))
    assert [(b.section, b.text) for b in blocks] == [
        ("第一章 入职", "第一章 入职"),
        ("第一章 入职", "新员工入职第一天领取工牌和电脑，并参加公司介绍。"),
        ("第二章 休假", "第二章 休假"),
        ("第二章 休假", ANNUAL_LEAVE),
    ]  # the spine's order, not the manifest's; each chapter's <h1>, then its text
    assert [p.citation for p in passages_of(tmp_path / "handbook.epub")] == ["第一章 入职 · ¶1", "第二章 休假 · ¶1"]


# ---------------------------------------------------------------- refused files


def test_zip_bomb_is_refused_before_it_is_unpacked(tmp_path):
    bomb = tmp_path / "bomb.docx"
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", b"\0" * (20 << 20))  # 20 MB that packs into 20 kB
    with pytest.raises(CorpusError, match=r"^bomb\.docx looks like a zip bomb \(word/document\.xml unpacks to 20 MB"):
        read_document(bomb, root=tmp_path)


@pytest.mark.parametrize(
    "name, kind",
    [
        ("notes.docx", "Word document"),
        ("deck.pptx", "PowerPoint presentation"),
        ("t.xlsx", "Excel workbook"),
        ("b.epub", "EPUB book"),
    ],
)
def test_text_file_with_a_document_extension_is_refused_in_one_sentence(tmp_path, name, kind):
    (tmp_path / name).write_text("This is plain text, not a zip container.", encoding="utf-8")
    with pytest.raises(CorpusError) as raised:
        read_document(tmp_path / name, root=tmp_path)
    assert str(raised.value) == (
        f"{name} is not a {kind} (a .{name.split('.')[1]} file is a zip container; this one is not): "
        "re-save it from its program or give it its real extension."
    )


def test_other_file_types_in_a_corpus_are_named_as_skipped(tmp_path):
    corpus = tmp_path / "docs"
    corpus.mkdir()
    (corpus / "a.txt").write_text("员工每年享有十五天带薪年假，需要提前两周向部门经理提交申请。", encoding="utf-8")
    (corpus / "b.doc").write_bytes(b"\xd0\xcf\x11\xe0old word")
    (corpus / "c.zip").write_bytes(b"PK\x05\x06" + b"\0" * 18)
    (corpus / "d.gif").write_bytes(b"GIF89a")
    bot = Assistant(corpus, index_root=tmp_path / "index", encoder=FakeEncoder())
    skipped = bot.refresh().manifest["skipped"]
    assert skipped == {
        "b.doc": "b.doc is an old Word document: save it as .docx to include it.",
        "c.zip": "c.zip is not a document type (not .txt, .md, .html, .pdf, .docx, .pptx, .xlsx, .csv, .tsv, .epub, .png or .jpg).",
        "d.gif": "d.gif is an image of a type that is not read; save it as .png or .jpg to include its text (OCR).",
    }
    (corpus / "e.key").write_bytes(b"keynote")
    assert "e.key" in bot.refresh().manifest["skipped"]  # a new skipped file is named without other changes


# ---------------------------------------------------------------- end to end


def test_questions_find_the_right_page_slide_row_and_section(tmp_path):
    corpus = tmp_path / "docs"
    corpus.mkdir()
    make_pdf(corpus / "handbook.pdf")
    make_docx(corpus / "policy.docx")
    make_pptx(corpus / "deck.pptx")
    make_xlsx(corpus / "leave.xlsx")
    (corpus / "fruit.csv").write_bytes("名称,价格\n苹果,5元一斤\n香蕉,3元一斤\n".encode("gb18030"))
    make_epub(corpus / "book.epub")
    bot = Assistant(corpus, index_root=tmp_path / "index", encoder=FakeEncoder())
    cases = {
        "病假需要提供医院证明吗": ("handbook.pdf", "1 总则 › 1.1 病假 · p. 2 · ¶2"),
        "Travel expenses are refunded within how many days": ("policy.docx", "4 Expenses · ¶1"),
        "Sales office days a week": ("deck.pptx", "slide 2"),
        "王五 市场部 年假天数": ("leave.xlsx", "假期 · row 5"),
        "香蕉的价格": ("fruit.csv", "fruit · row 3"),
        "新员工入职第一天领取工牌": ("book.epub", "第一章 入职 · ¶1"),
    }
    for question, (source, citation) in cases.items():
        top = bot.ask(question).hits[0].passage
        assert (top.source, top.citation) == (source, citation), question
    found = bot.ask("王五 市场部 年假天数").to_dict()["passages"][0]
    assert {k: found[k] for k in ("sheet", "row", "page", "slide", "section")} == {
        "sheet": "假期",
        "row": 5,
        "page": 0,
        "slide": 0,
        "section": "",
    }


@pytest.mark.slow  # 117 pages: a few seconds
def test_long_real_pdf_gives_every_text_page_its_sections_and_no_running_heads():
    import pypdfium2 as pdfium

    path = PDFS / "GeoTopo-komprimiert.pdf"
    pdf = pdfium.PdfDocument(str(path))
    with_text = {i + 1 for i in range(len(pdf)) if pdf[i].get_textpage().get_text_range().strip()}
    pdf.close()
    blocks = read(path)
    assert {b.page for b in blocks} == with_text and len(with_text) == 117
    assert "2 Mannigfaltigkeiten und Simplizialkomplexe › 2.3 Simplizialkomplex" in {b.section for b in blocks}
    heads = [b for b in blocks if b.text in ("47 3.1. HOMOTOPIE VON WEGEN", "3.1. HOMOTOPIE VON WEGEN")]
    assert heads == []  # the running head on top of page 50, with its printed page number, is dropped


# ---------------------------------------------------------------- uploads


def test_documents_can_be_uploaded_and_mislabelled_ones_are_refused(tmp_path):
    from assistant.errors import UploadError
    from assistant.text import store_upload

    folder = tmp_path / "uploads"
    data = make_docx(tmp_path / "policy.docx").read_bytes()
    assert store_upload(folder, "policy.docx", data) == "policy.docx"
    assert store_upload(folder, "handbook.pdf", make_pdf(tmp_path / "h.pdf").read_bytes()) == "handbook.pdf"
    with pytest.raises(UploadError) as refused:
        store_upload(folder, "notes.docx", b"plain text, not a Word document")
    assert str(refused.value).startswith("notes.docx is not a Word document (a .docx file is a zip container")
    assert sorted(p.name for p in folder.iterdir()) == ["handbook.pdf", "policy.docx"]


def test_markdown_headings_are_section_paths(tmp_path):
    text = (
        "# 员工手册\n\n## 3 休假\n\n### 3.2 年假\n\n"
        f"{ANNUAL_LEAVE}\n\n{SICK_LEAVE}\n\n## 4 Expenses\n\nTravel expenses are refunded within thirty days.\n"
    )
    (tmp_path / "handbook.md").write_text(text, encoding="utf-8")
    passages = passages_of(tmp_path / "handbook.md")
    assert [(p.section, p.citation, p.paragraph) for p in passages] == [
        ("员工手册 › 3 休假 › 3.2 年假", "员工手册 › 3 休假 › 3.2 年假 · ¶1", 4),
        ("员工手册 › 3 休假 › 3.2 年假", "员工手册 › 3 休假 › 3.2 年假 · ¶2", 5),
        ("员工手册 › 4 Expenses", "员工手册 › 4 Expenses · ¶1", 7),
    ]
    assert passages[0].text == f"员工手册\n3 休假\n3.2 年假\n{ANNUAL_LEAVE}"  # headings on their own lines, no #


def test_password_protected_office_file_is_refused_in_one_sentence(tmp_path):
    (tmp_path / "salaries.xlsx").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 504)  # an OLE container
    with pytest.raises(CorpusError) as raised:
        read_document(tmp_path / "salaries.xlsx", root=tmp_path)
    assert str(raised.value) == (
        "salaries.xlsx is password-protected, or an old-format file renamed to .xlsx: "
        "open it, remove the password and save it as .xlsx."
    )


def test_csv_with_an_overlong_field_is_refused_in_one_sentence(tmp_path):
    (tmp_path / "big.csv").write_text('a,b\n1,"' + "x" * 200_000 + '"\n', encoding="utf-8")
    with pytest.raises(CorpusError, match=r"^big\.csv is not a readable table \(.+\); check it in a spreadsheet"):
        read_document(tmp_path / "big.csv", root=tmp_path)


def test_cards_and_context_label_passages_by_their_place(tmp_path):
    from assistant.web.render import render_reply

    corpus = tmp_path / "docs"
    corpus.mkdir()
    make_docx(corpus / "policy.docx")
    bot = Assistant(corpus, index_root=tmp_path / "index", encoder=FakeEncoder())
    answer = bot.ask("Travel expenses are refunded within how many days")
    html = render_reply(answer, uid="u", contexts=[bot.context(h.passage) for h in answer.hits])
    card = html.split('<div class="kb-card" id="kb-u-1">')[1]
    assert '<span class="kb-where">4 Expenses · ¶1</span>' in card
    labels = re.findall(r'<span class="kb-pn">([^<]*)</span>', card.split('<details class="kb-context">')[1])
    assert labels == ["3 休假 › 3.2 年假 · ¶1", "4 Expenses · ¶1"]  # the paragraph before it, then it


@pytest.mark.parametrize(
    "lines, joined",
    [
        (["员工在公司工作满一年后", "每年可以享受带薪年假。"], "员工在公司工作满一年后每年可以享受带薪年假。"),
        (
            ["Every new colleague receives the hand-", "book on the first day."],
            "Every new colleague receives the handbook on the first day.",
        ),
        (
            ["Read the well-", "Known Rules."],
            "Read the well- Known Rules.",
        ),  # a capital after the hyphen: not a split word
        (["an English line", "wraps with a space"], "an English line wraps with a space"),
        (["使用", "PDF 文件"], "使用PDF 文件"),
        (["今的乌鲁木齐\ufffe伊犁公路"], "今的乌鲁木齐-伊犁公路"),  # PDFium's line-end hyphen mark, kept
        (["receives the hand\ufffebook of"], "receives the handbook of"),  # lines PDFium joined itself
        (["Read the well\ufffe", "Known Rules."], "Read the well- Known Rules."),
    ],
)
def test_wrapped_lines_are_rejoined(lines, joined):
    from assistant.readers.lines import join_lines

    assert join_lines(lines) == joined


def test_pdf_two_columns_are_read_column_by_column(tmp_path):
    from reportlab.pdfgen import canvas

    left = ["The left column starts with a long", "line that wraps onto a second one", "and ends here."]
    right = ["The right column has its own text", "that wraps in the same way as the", "left one does."]
    pdf = canvas.Canvas(str(tmp_path / "columns.pdf"), pagesize=(595, 842))
    pdf.setFont("Courier", 10)
    for column, x in ((left, 50), (right, 320)):
        for i, line in enumerate(column):
            pdf.drawString(x, 700 - 12 * i, line)
    pdf.save()
    assert [b.text for b in read(tmp_path / "columns.pdf")] == [" ".join(left), " ".join(right)]


def test_pdf_without_any_text_layer_is_refused_in_one_sentence(tmp_path):
    from reportlab.pdfgen import canvas

    pdf = canvas.Canvas(str(tmp_path / "scan.pdf"))
    pdf.rect(72, 72, 300, 300, fill=1)
    pdf.save()
    with pytest.raises(CorpusError) as raised:
        read_document(tmp_path / "scan.pdf", root=tmp_path)
    assert str(raised.value) == (
        "scan.pdf has no text: no page has a text layer and OCR found none; check that it is the right file."
    )


def test_upload_refusals_of_documents_have_their_chinese(tmp_path):
    from reportlab.pdfgen import canvas

    from assistant.errors import UploadError
    from assistant.search.answer import language
    from assistant.text import store_upload
    from assistant.web.webpage import in_chinese

    scan = canvas.Canvas(str(tmp_path / "scan.pdf"))
    scan.rect(72, 72, 300, 300, fill=1)
    scan.save()
    bomb = tmp_path / "bomb.xlsx"
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/workbook.xml", b"\0" * (20 << 20))
    uploads = {
        "notes.docx": b"plain text",
        "broken.pdf": b"%PDF-1.4\nnot really a PDF\n",
        "locked.pdf": make_pdf(tmp_path / "locked.pdf", encrypt="secret").read_bytes(),
        "scan.pdf": (tmp_path / "scan.pdf").read_bytes(),
        "bomb.xlsx": bomb.read_bytes(),
        "old.pptx": b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504),
    }
    for name, data in uploads.items():
        with pytest.raises(UploadError) as refused:
            store_upload(tmp_path / "uploads", name, data)
        zh = in_chinese(str(refused.value))
        assert zh and zh.startswith(name) and language(zh) == "zh", str(refused.value)


def test_xlsx_declaring_the_largest_sheet_is_read_as_stored(tmp_path):
    import openpyxl

    book = openpyxl.Workbook()
    book.active.append(["Room", "Seats"])
    book.active.append(["Lotus", 12])
    book.save(str(tmp_path / "plain.xlsx"))
    with zipfile.ZipFile(tmp_path / "plain.xlsx") as src, zipfile.ZipFile(tmp_path / "huge.xlsx", "w") as out:
        for member in src.infolist():
            data = src.read(member.filename)
            if member.filename == "xl/worksheets/sheet1.xml":  # a declared size of 16,384 columns × 1,048,576 rows
                data = re.sub(rb'<dimension ref="[^"]*"/>', b'<dimension ref="A1:XFD1048576"/>', data)
            out.writestr(member, data)
    assert [(b.row, b.text) for b in read(tmp_path / "huge.xlsx")] == [(2, "Room: Lotus; Seats: 12")]


def test_a_zip_of_another_type_is_refused_in_one_sentence(tmp_path):
    make_xlsx(tmp_path / "leave.xlsx").rename(tmp_path / "leave.docx")
    with pytest.raises(CorpusError) as raised:
        read_document(tmp_path / "leave.docx", root=tmp_path)
    assert str(raised.value) == (
        "leave.docx is not a Word document (it is a zip file without word/document.xml): "
        "re-save it from its program or give it its real extension."
    )


def test_saved_passages_keep_their_place_and_lines_saved_before_places_still_read(tmp_path):
    import json

    from assistant.records import Passage
    from assistant.storage.passage_files import SavedPassages

    new = Passage("d.xlsx", "d.xlsx", "d", 3, "Room: Lotus", first_paragraph=3, last_paragraph=3, sheet="S", row=4)
    old_line = {"doc_id": "a.txt", "source": "a.txt", "title": "a", "paragraph": 2, "text": "old", "part": 0}
    path = tmp_path / "passages.jsonl"
    path.write_text(json.dumps(vars(new)) + "\n" + json.dumps(old_line) + "\n", encoding="utf-8")
    saved = SavedPassages([path], [2])
    assert (saved[0], saved[0].citation) == (new, "S · row 4")
    assert (saved[1].citation, saved[1].page, saved[1].section) == ("¶2", 0, "")
