"""Answers and their rendering: citations, emphasis, and text that is never interpreted as HTML."""

from assistant.answer import escape_markdown, language, make_answer, render_markdown, render_text
from assistant.records import Hit, Passage

PASSAGE = Passage(
    "a.txt", "a.txt", "<b>Title</b>", 3, "前文。<script>alert(1)</script>答案在这里。后文 **bold** [x](javascript:y)"
)


def test_escape_markdown_shows_html_and_markdown_as_text():
    out = escape_markdown("<script>alert('x')</script> **b** [l](u) # h")
    assert "<script>" not in out and "&lt;script&gt;" in out
    assert "\\*\\*b\\*\\*" in out and "\\[l\\]\\(u\\)" in out and "\\# h" in out


def test_render_markdown_cites_and_emphasises_safely():
    hit = Hit(PASSAGE, 0.71, 0.6, 0.8, sentence="答案在这里。")
    answer = make_answer("答案在哪里?", [hit], found=True)
    md = render_markdown(answer)
    assert "**[1]** &lt;b&gt;Title&lt;/b&gt; · `a.txt` · ¶3 · 相关度 0.71" in md
    assert "<strong>答案在这里。</strong>" in md
    assert "<script>" not in md and "<b>" not in md and "](javascript" not in md
    assert answer.answer == "答案在这里。 [1]"


def test_not_found_in_the_question_language():
    assert make_answer("明天会下雨吗?", [], found=False).answer.startswith("抱歉")
    assert render_text(make_answer("Will it rain?", [], found=False)).startswith("Sorry")
    assert (language("Hello"), language("你好 hello")) == ("en", "zh")
