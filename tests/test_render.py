"""The chat's HTML: markers and cards agree, highlights land on the right characters, nothing is read as HTML."""

import re
from html.parser import HTMLParser

import pytest
from hypothesis import given
from hypothesis import strategies as st

from assistant.records import DocumentInfo, Hit, Passage
from assistant.search.answer import make_answer
from assistant.web.render import (
    escape_html,
    highlight,
    query_terms,
    render_documents,
    render_error,
    render_reply,
    term_spans,
    unescape_html,
)
from assistant.web.webpage import SEED_EXAMPLES, default_examples

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
    assert "uploads/a&lt;b&gt;.md" in html and "已上传" in html and html.count("<tr>") == 3
    assert "<i>" not in html


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
