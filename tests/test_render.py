"""The chat's HTML: markers and cards agree, highlights land on the right characters, nothing is read as HTML."""

import re
from html.parser import HTMLParser

import pytest
from hypothesis import given
from hypothesis import strategies as st

from assistant.errors import AssistantError
from assistant.records import DocumentInfo, Hit, Passage
from assistant.search.answer import language, make_answer
from assistant.web.render import (
    escape_html,
    highlight,
    natural_key,
    query_terms,
    render_documents,
    render_error,
    render_reply,
    render_status,
    term_spans,
    unescape_html,
)
from assistant.web.webpage import PAGE, SEED_EXAMPLES, default_examples, in_chinese, localise, page_language

OUR_TAGS = {"div", "p", "span", "a", "code", "mark", "strong", "details", "summary", "br", "table", "thead"}
OUR_TAGS |= {"tbody", "tr", "th", "td"}
HOSTILE = "<script>window.PWNED=1</script><img src=x onerror=alert(1)> **b** [l](javascript:x) $$x$$ https://e.com"


def passage(paragraph: int, text: str, *, source: str = "doc.md", part: int = 0, title: str = "Doc") -> Passage:
    return Passage(
        source, source, title, paragraph, text, part=part, first_paragraph=paragraph, last_paragraph=paragraph
    )


class Tags(HTMLParser):
    """Every start tag and attribute of a piece of HTML."""

    def __init__(self, markup: str):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.feed(markup)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def test_escape_html_leaves_no_markup_and_no_markdown():
    out = escape_html(HOSTILE + "\nnext line")
    assert Tags(out).tags == [("br", {})]
    assert not re.search(r"[<>*\[\]$`_]|https:", out.replace("<br>", ""))


def test_query_terms_are_folded_words_longest_first():
    terms = query_terms("世界互联网大会國際組織是什么时候成立的?")
    assert {"互联网", "国际", "组织", "成立"} <= set(terms) and "的" not in terms and "什么" not in terms
    assert [len(t) for t in terms] == sorted((len(t) for t in terms), reverse=True)


@pytest.mark.parametrize(
    "text, terms, expected",
    [
        ("Sourdough STARTER needs", ["starter"], ["STARTER"]),
        ("restart the starter", ["start"], ["start"]),  # a Latin term must begin a word
        ("fresh blueberries needs", ["blueberri", "need"], ["blueberries", "needs"]),  # stems mark their words
        ("國際組織成立於北京", ["国际组织", "成立"], ["國際組織成立"]),  # traditional text, simplified terms
        ("ＷＩＣ　founded", ["wic"], ["ＷＩＣ"]),  # full-width letters
        ("device 129 and device 12", ["12"], ["12"]),  # a number matches whole numbers only
    ],
)
def test_term_spans_map_back_to_the_original_characters(text, terms, expected):
    assert [text[a:b] for a, b in term_spans(text, terms)] == expected


def test_highlight_marks_terms_inside_the_bold_answer_sentence():
    text = "前文<b>。组织于2022年成立。后文"
    out = highlight(text, ["组织", "成立"], "组织于2022年成立。")
    assert out == (
        '前文&lt;b&gt;。<strong class="kb-best"><mark class="kb-term">组织</mark>于2022年'
        '<mark class="kb-term">成立</mark>。</strong>后文'
    )


def reply_for(hits, question="When was it founded?"):
    answer = make_answer(question, hits, found=True)
    contexts = [[passage(1, "Before."), h.passage, passage(3, "After.")] for h in hits]
    return answer, render_reply(answer, uid="u1", contexts=contexts)


def test_every_marker_points_to_a_card_and_every_card_has_a_marker():
    hits = [
        Hit(passage(2, "It was founded in 2022."), 0.8, sentence="It was founded in 2022.", sentence_score=0.8),
        Hit(passage(5, "Unrelated words."), 0.3, sentence="Unrelated words.", sentence_score=0.1),
        Hit(passage(7, "It was founded in 2022."), 0.7, sentence="It was founded in 2022.", sentence_score=0.8),
    ]
    _, html = reply_for(hits)
    tags = Tags(html).tags
    targets = {a["href"] for t, a in tags if t == "a" and "kb-cite" in a.get("class", "")}
    cards = {"#" + a["id"] for t, a in tags if t == "div" and a.get("class") == "kb-card"}
    assert targets == cards == {"#kb-u1-1", "#kb-u1-2", "#kb-u1-3"}
    lead = html.split('<p class="kb-more">')[0]
    assert 'href="#kb-u1-1"' in lead and 'href="#kb-u1-3"' in lead  # both passages saying it are cited


def test_card_shows_title_file_paragraph_score_and_opens_in_context():
    hits = [
        Hit(passage(2, "It was founded in 2022.", title="WIC <History>"), 0.812, sentence="It was founded in 2022.")
    ]
    answer, html = reply_for(hits)
    assert "WIC &lt;History&gt;" in html and "doc.md" in html and "¶2" in html and "score 0.81" in html
    context = html.split('<details class="kb-context">')[1]
    assert "Show in context · ¶1–3" in context
    assert context.index("Before") < context.index('class="kb-para kb-cited"') < context.index("After")


def test_card_shows_the_calibrated_match_with_the_score_in_its_tooltip():
    hit = Hit(
        passage(2, "It was founded in 2022.", title="WIC"), 0.412, sentence="It was founded in 2022.", confidence=0.87
    )
    _, html = reply_for([hit])
    assert 'title="score 0.41">match 87%</span>' in html and "score 0.41</span>" not in html


def test_context_joins_the_parts_of_a_long_paragraph():
    parts = [passage(4, "First half.", part=1), passage(4, "Second half.", part=2)]
    hit = Hit(parts[1], 0.5, sentence="Second half.")
    answer = make_answer("half?", [hit], found=True)
    html = render_reply(answer, uid="u2", contexts=[[passage(3, "Before."), *parts]], terms=())
    assert '<span class="kb-pn">¶4</span>First half. <strong class="kb-best">Second half.</strong>' in html


def test_hostile_document_question_and_file_name_stay_text():
    bad = Passage("x", f"<b>{HOSTILE}.md", HOSTILE, 1, HOSTILE + " founded in 2022.")
    hits = [Hit(bad, 0.9, sentence=HOSTILE + " founded in 2022.")]
    answer = make_answer(HOSTILE + " founded?", hits, found=True)
    html = render_reply(answer, uid="u3", contexts=[[bad]])
    assert {tag for tag, _ in Tags(html).tags} <= OUR_TAGS
    attributes = [(k, v) for _, a in Tags(html).tags for k, v in a.items()]
    assert {k for k, _ in attributes} <= {"class", "id", "href", "title", "lang", "aria-label"}
    assert all(v.startswith("#kb-u3-") for k, v in attributes if k == "href")
    assert "&lt;script&gt;" in html and "https:" not in html and "**" not in html and "$$" not in html


def test_not_found_and_errors_in_the_question_language():
    html = render_reply(make_answer("明天会下雨吗?", [], found=False), uid="u4")
    assert "没有找到" in html and "上传" in html and "kb-card" not in html
    assert (
        render_error("<b>bad</b>", "en")
        == '<div class="kb-reply kb-error" lang="en"><p>&lt;b&gt;bad&lt;/b&gt;</p></div>'
    )


def test_document_table_tags_uploads():
    docs = [DocumentInfo("uploads/a<b>.md", "A <i>", 3, 4, uploaded=True), DocumentInfo("s.txt", "S", 26, 31)]
    html = render_documents(docs, "zh")
    assert "uploads/a&lt;b&gt;.md" in html and "已上传" in html and html.count("<tr") == 3
    assert "<i>" not in html and "片段" in html and "段落" not in html  # ¶ counts paragraphs; a passage is a 片段


def test_document_table_lists_uploads_first_and_counts_the_rest():
    docs = [DocumentInfo(f"d{i:03}.txt", f"D{i}", 1, 1) for i in range(5)] + [
        DocumentInfo("uploads/u.md", "U", 1, 1, True)
    ]
    html = render_documents(docs, "en", limit=3)
    assert html.index("uploads/u.md") < html.index("d000.txt") and "d002.txt" not in html
    assert "… and 3 more documents" in html


@given(st.text())
def test_escaped_text_has_no_tag_but_br_and_round_trips(text):
    escaped = escape_html(text)
    assert "<" not in escaped.replace("<br>", "") and ">" not in escaped.replace("<br>", "")
    assert unescape_html(escaped) == text


def test_example_questions_follow_the_knowledge_base():
    seed = DocumentInfo("wuzhen_summit_ten_years_interview.txt", "乌镇", 26, 31)
    assert default_examples([seed]) == SEED_EXAMPLES
    assert default_examples([DocumentInfo("a.md", "Tea", 2, 2)]) == ["《Tea》主要讲了什么?", "What is “Tea” about?"]
    assert default_examples([]) == []


@pytest.mark.parametrize(
    "names, expected",
    [
        (["DEV_10", "DEV_2", "DEV_1", "DEV_101"], ["DEV_1", "DEV_2", "DEV_10", "DEV_101"]),
        (["b.md", "C.md", "a.md"], ["a.md", "b.md", "C.md"]),
        (["a10.md", "A9.md", "a9b.md"], ["A9.md", "a9b.md", "a10.md"]),
        (["第10章.txt", "第2章.txt"], ["第2章.txt", "第10章.txt"]),
        (["v1.10.md", "v1.9.md", "v2.md"], ["v1.9.md", "v1.10.md", "v2.md"]),
    ],
)
def test_natural_sort_reads_numbers_as_numbers(names, expected):
    assert sorted(names, key=natural_key) == expected


def test_document_table_is_in_natural_order_with_a_filter_box():
    docs = [DocumentInfo(f"DEV_{i}.md", f"Device {i}", 1, 1) for i in (10, 2, 1, 101, 3, 20)]
    html = render_documents(docs, "en")
    assert re.findall(r"<code>(DEV_\d+)", unescape_html(html)) == [
        "DEV_1",
        "DEV_2",
        "DEV_3",
        "DEV_10",
        "DEV_20",
        "DEV_101",
    ]
    assert html.startswith('<input type="search" class="kb-filter" aria-controls="kb-docs"')
    assert '<div class="kb-docs-box"><table class="kb-docs" id="kb-docs">' in html
    assert '<tr class="kb-nomatch" hidden>' in html and html.count('<tr class="kb-row">') == 6
    assert "kb-filter" not in render_documents(docs[:2], "en")  # two documents need no filter
    assert "<th>Document · 文档</th>" in render_documents(docs, "both")  # before the first question


def test_many_hostile_documents_stay_text_in_the_table():
    docs = [DocumentInfo(f"{HOSTILE}{i}.md", HOSTILE, 1, 1, uploaded=i % 2 == 0) for i in range(8)]
    html = render_documents(docs, "zh")
    assert {tag for tag, _ in Tags(html).tags} <= OUR_TAGS | {"input"}
    attributes = {k for _, a in Tags(html).tags for k in a}
    assert attributes <= {"class", "id", "type", "aria-controls", "aria-label", "placeholder", "hidden", "colspan"}
    assert "&lt;script&gt;" in html


@pytest.mark.parametrize(
    "text, default, expected",
    [
        ("乌镇峰会?", "en", "zh"),
        ("When?", "zh", "en"),
        ("？？？!!", "zh", "zh"),
        ("2024 ...", "zh", "zh"),
        ("", "x", "x"),
    ],
)
def test_language_of_text_without_letters_is_the_default(text, default, expected):
    assert language(text, default=default) == expected


def test_page_language_is_kept_by_a_question_without_letters():
    assert page_language([], "zh") == "both"  # a new chat speaks both languages again
    assert page_language(["乌镇峰会是什么时候开始的?", "？？？"], "zh") == "zh"
    assert page_language(["乌镇峰会是什么时候开始的?", "123"], "zh") == "zh"
    assert page_language(["!!!"], "both") == "both"
    assert page_language(["乌镇峰会?", "When?"], "zh") == "en"


def library_messages(tmp_path) -> list[str]:
    """The messages a user of the page can get from the library, raised by the library itself."""
    from assistant.api import Assistant
    from assistant.search import check_top_k, clean_question
    from assistant.text.uploads import check_size, safe_name, store_upload

    calls = [
        lambda: clean_question("   "),
        lambda: clean_question("？？？!!"),
        lambda: clean_question("x" * 2001),
        lambda: check_top_k(0),
        lambda: Assistant(tmp_path, alpha=float("nan")),
        lambda: Assistant(tmp_path, threshold=float("inf")),
        lambda: safe_name(""),
        lambda: safe_name("../../etc/passwd"),
        lambda: safe_name("notes.exe"),
        lambda: check_size("a.txt", 0),
        lambda: check_size("big.txt", 25 * 2**20),
        lambda: store_upload(tmp_path, "photo.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(300)),
    ]
    messages = []
    for call in calls:
        with pytest.raises(AssistantError) as raised:
            call()
        messages.append(str(raised.value))
    return messages


def test_every_library_message_a_user_meets_has_its_chinese(tmp_path):
    for message in library_messages(tmp_path):
        zh = in_chinese(message)
        assert zh and language(zh) == "zh" and "{" not in zh, message
    assert in_chinese("'notes.exe' is not a supported document; upload one of: .txt, .md.") == (
        "'notes.exe' 不是支持的文档类型；请上传以下类型之一：.txt, .md。"
    )
    assert in_chinese("big.txt is 25.0 MB; the limit is 20 MB. Split it into smaller files.") == (
        "big.txt 有 25.0 MB，超过了 20 MB 的上限；请拆分成较小的文件。"
    )


def test_messages_follow_the_page_language():
    message = "The question has no words, only symbols; ask in words, e.g. 乌镇峰会是什么时候开始的?"
    assert localise(message, "en") == message
    assert localise(message, "zh").startswith("问题里只有符号")
    assert localise(message, "both") == message + "\n" + localise(message, "zh")
    assert localise("An unknown problem.", "zh") == "An unknown problem."  # English rather than nothing


def test_upload_status_is_rendered_again_in_each_language():
    report = [
        ("good", "added", {"source": "uploads/a.md", "passages": 3}),
        ("bad", "refused", {"reason": "b.txt is empty; nothing to add."}),
    ]
    assert unescape_html(render_status(report, "zh")) == (
        '<p class="kb-good">已添加 uploads/a.md（3 个片段）。</p><p class="kb-bad">未添加：b.txt 是空文件，没有可添加的内容。</p>'
    )
    assert unescape_html(render_status(report, "en")) == (
        '<p class="kb-good">Added uploads/a.md (passages: 3).</p><p class="kb-bad">Not added: b.txt is empty; nothing to add.</p>'
    )
    assert "<br>" in render_status(report, "both") and "已添加" in render_status(report, "both")
    assert render_status([("bad", "refused", {"reason": "<img src=x>.txt is empty; nothing to add."})], "zh") == (
        '<p class="kb-bad">未添加：&lt;img src=x&gt;.txt 是空文件，没有可添加的内容。</p>'
    )


def test_chinese_page_words_call_passages_pian_duan():
    assert all("段落" not in text for text in PAGE["zh"].values())
