"""Answers and their Markdown/text forms: best sentences, markers, citations, text never read as HTML."""

import pytest

from assistant.records import Hit, Passage
from assistant.search.answer import (
    answer_sentences,
    best_sentences,
    escape_markdown,
    language,
    make_answer,
    render_conversation,
    render_markdown,
    render_text,
    sentences_of,
    uncited,
)
from assistant.search.kinds import holds_kind, is_heading, question_kind

PASSAGE = Passage(
    "a.txt", "a.txt", "<b>Title</b>", 3, "前文。<script>alert(1)</script>答案在这里。后文 **bold** [x](javascript:y)"
)


def hit(text: str, score: float, sentence: str = "", sentence_score: float = 0.0, paragraph: int = 1) -> Hit:
    passage = Passage("d.txt", "d.txt", "D", paragraph, text)
    return Hit(passage, score, sentence=sentence or text, sentence_score=sentence_score)


def test_escape_markdown_shows_html_and_markdown_as_text():
    out = escape_markdown("<script>alert('x')</script> **b** [l](u) # h $x$")
    assert "<script>" not in out and "&lt;script&gt;" in out
    assert "\\*\\*b\\*\\*" in out and "\\[l\\]\\(u\\)" in out and "\\# h" in out and "\\$x\\$" in out


def test_render_markdown_cites_and_emphasises_safely():
    answer = make_answer("答案在哪里?", [Hit(PASSAGE, 0.71, 0.6, 0.8, sentence="答案在这里。")], found=True)
    md = render_markdown(answer)
    assert "**[1]** &lt;b&gt;Title&lt;/b&gt; · `a.txt` · ¶3 · 相关度 0.71" in md
    assert "<strong>答案在这里。</strong>" in md
    assert "<script>" not in md and "<b>" not in md and "](javascript" not in md
    assert answer.answer == "答案在这里。 [1]"


def test_not_found_in_the_question_language():
    assert make_answer("明天会下雨吗?", [], found=False).answer.startswith("抱歉")
    assert render_text(make_answer("Will it rain?", [], found=False)).startswith("Sorry")
    assert (language("Hello"), language("你好 hello")) == ("en", "zh")


def test_best_sentence_prefers_an_answer_to_a_question_in_the_document():
    text = "记者:世界互联网大会国际组织是什么时候成立的?任贤良:世界互联网大会国际组织于2022年7月12日成立。"
    [out] = best_sentences([hit(text, 0.5)], "世界互联网大会国际组织是什么时候成立的?", None, join=2.0)
    assert out.sentence == "任贤良:世界互联网大会国际组织于2022年7月12日成立。"
    assert out.sentence_score > 0


@pytest.mark.parametrize(
    ("question", "answer"),
    [
        ("它现在有多少会员?", "目前,已有近130家机构加入成为会员。"),
        ("How many members does it have?", "It now has 130 members."),
        ("国际组织是什么时候成立的?", "国际组织于2022年7月成立。"),
        ("When was the organisation founded?", "The organisation was founded in 2022."),
    ],
)
def test_a_quantity_or_date_question_gets_the_sentence_with_one(question, answer):
    text = {
        "zh": "组织丰富会员权益、服务会员发展,举办会员活动日。目前,已有近130家机构加入成为会员。"
        "国际组织成立以来不断创新运作机制。国际组织于2022年7月成立。",
        "en": "It serves its members and holds member days for members. It now has 130 members. "
        "Since the organisation was founded it keeps improving. The organisation was founded in 2022.",
    }[language(question)]
    [out] = best_sentences([hit(text, 0.5)], question, None, join=2.0)
    assert out.sentence == answer


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("世界互联网大会国际组织目前有多少成员?", "count"),
        ("世界互聯網大會國際組織目前有多少成員?", "count"),
        ("乌镇峰会举办了几届?", "count"),
        ("How many members does it have?", "count"),
        ("国际组织是什么时候成立的?", "date"),
        ("國際組織是何時成立的?", "date"),
        ("尼山对话是哪一年举行的?", "date"),
        ("When was the organisation founded?", "date"),
        ("尼山对话在哪里举行?", "place"),
        ("尼山對話在哪裡舉行?", "place"),
        ("Where did the Nishan dialogue take place?", "place"),
        ("谁是世界互联网大会的秘书长?", "person"),
        ("誰是世界互聯網大會的秘書長?", "person"),
        ("Who is the secretary-general?", "person"),
        ("国际组织遵循什么原则?", None),
        ("What does the starter need?", None),
    ],
)
def test_question_kind_in_chinese_traditional_chinese_and_english(question, kind):
    found = question_kind(question)
    assert (found.name if found else None) == kind


@pytest.mark.parametrize(
    ("kind", "sentence", "held"),
    [
        ("count", "目前,已有近130家机构加入成为会员。", True),
        ("count", "乌镇峰会已连续举办十届。", True),
        ("count", "组织不断创新运作机制。", False),
        ("date", "國際組織於二〇二二年七月成立。", True),
        ("date", "It was founded in July 2022.", True),
        ("date", "It keeps improving.", False),
        ("place", "峰会在浙江乌镇举行。", True),
        ("place", "The dialogue took place in Qufu, Shandong.", True),
        ("place", "the dialogue took place recently.", False),
        ("person", "秘书长任贤良接受了专访。", True),
        ("person", "The interview was given by Ren Xianliang.", True),
        ("person", "the interview was long.", False),
    ],
)
def test_a_sentence_holds_the_kind_of_fact_asked_for(kind, sentence, held):
    [asking] = [k for k in ("多少", "什么时候", "哪里", "谁") if question_kind(k) and question_kind(k).name == kind]
    assert holds_kind(question_kind(asking), sentence) is held


@pytest.mark.parametrize(
    ("question", "text", "answer"),
    [
        (
            "世界互联网大会国际组织目前有多少成员?",
            "世界互联网大会国际组织不断创新运作机制,丰富成员权益。目前,已有近130家机构加入。另有一段无关的话。",
            "世界互联网大会国际组织不断创新运作机制,丰富成员权益。目前,已有近130家机构加入。",
        ),
        (
            "Where did the Nishan dialogue take place?",
            "The Nishan dialogue on digital civilisation took place last June. It was held in Qufu, Shandong. "
            "Guests visited the temple.",
            "The Nishan dialogue on digital civilisation took place last June. It was held in Qufu, Shandong.",
        ),
        (  # a photo's credit names who took it: the caption it closes holds a person
            "第二届大会开幕式那张配图是谁拍的?",
            "2015年12月16日,第二届世界互联网大会在浙江乌镇开幕。中国国家主席出席开幕式。盛佳鹏 摄历经十年,大会成果丰硕。",
            "2015年12月16日,第二届世界互联网大会在浙江乌镇开幕。中国国家主席出席开幕式。盛佳鹏 摄",
        ),
    ],
)
def test_the_next_sentence_joins_when_it_holds_the_fact_the_best_lacks(question, text, answer):
    [out] = best_sentences([hit(text, 0.5)], question, None, join=2.0)  # join=2.0: no ordinary neighbour joins
    assert out.sentence == answer


@pytest.mark.parametrize("heading", ["3.2 年假", "第三章 休假", "# 年假"])
def test_a_numbered_heading_is_not_the_answer_when_a_real_sentence_exists(heading):
    from .conftest import FakeEncoder

    text = f"{heading}\n员工入职满一年后,每年可享受带薪年假。请假须提前申请。"
    [out] = best_sentences([hit(text, 0.5)], "年假有多少天?", FakeEncoder())
    assert out.sentence == "员工入职满一年后,每年可享受带薪年假。"
    assert is_heading(heading) and not is_heading(out.sentence)
    [alone] = best_sentences([hit(heading, 0.5)], "年假有多少天?", FakeEncoder())
    assert alone.sentence == heading  # a passage that is only a heading still has its answer sentence


def test_best_sentence_joins_an_equally_good_neighbour_exactly_as_written():
    text = "Unrelated opening words here. The starter needs flour. The starter needs water daily. Bake it."
    [out] = best_sentences([hit(text, 0.5)], "what does the starter need", None)
    assert out.sentence == "The starter needs flour. The starter needs water daily."
    assert out.sentence in text


def test_a_neighbour_with_fewer_of_the_questions_words_stays_out():
    text = "The starter lives in a jar. The sourdough starter needs flour. Bake it."
    [out] = best_sentences([hit(text, 0.5)], "what does the sourdough starter need", None, join=0.1)
    assert out.sentence == "The sourdough starter needs flour."


def test_sentences_end_at_line_breaks_and_latin_full_stops():
    assert sentences_of("# Sourdough notes\nThe starter needs flour. It is 3.5 m. Mr. Li came.") == [
        "# Sourdough notes",
        "The starter needs flour.",
        "It is 3.5 m.",
        "Mr. Li came.",
    ]


def test_answer_sentences_group_markers_and_skip_weak_or_question_sentences():
    hits = [
        hit("The summit opened in 2014.", 0.8, sentence_score=0.7, paragraph=1),
        hit("Was it the first one?", 0.79, sentence_score=0.7, paragraph=2),  # a question: never the answer
        hit("The summit opened in 2014.", 0.75, sentence_score=0.7, paragraph=3),  # same sentence: shares it
        hit("It drew 1,000 guests from 100 countries.", 0.72, sentence_score=0.65, paragraph=4),
        hit("Weather was mild.", 0.3, sentence_score=0.2, paragraph=5),  # too weak to be part of the answer
    ]
    assert answer_sentences(hits) == [
        ("The summit opened in 2014.", (1, 3)),
        ("It drew 1,000 guests from 100 countries.", (4,)),
    ]
    answer = make_answer("When did the summit open?", hits, found=True)
    assert answer.answer == "The summit opened in 2014. [1][3] It drew 1,000 guests from 100 countries. [4]"
    assert uncited(answer) == [2, 5]


def test_every_card_is_cited_in_the_markdown():
    hits = [hit("A is true.", 0.9, sentence_score=0.9), hit("B is unrelated.", 0.4, sentence_score=0.1, paragraph=2)]
    md = render_markdown(make_answer("Is A true?", hits, found=True))
    lead = md.split("\n")[0]
    assert "[1]" in lead and "(See also [2])" in lead and "**[2]**" in md


def test_an_answer_of_only_questions_still_quotes_the_best():
    assert answer_sentences([hit("Why?", 0.5)]) == [("Why?", (1,))]


@pytest.mark.parametrize("question", ["<img src=x onerror=alert(1)>", "# heading **bold**"])
def test_conversation_export_escapes_questions(question):
    md = render_conversation([(question, "reply [1]")], when="2024-01-01 10:00")
    assert md.startswith("# 对话记录 · Conversation (2024-01-01 10:00)")
    assert "<img" not in md and "\n## 1. " in md and "reply [1]" in md
    assert "\\*\\*bold\\*\\*" in md or "&lt;img" in md


def test_best_sentences_encode_only_the_sentences_without_a_known_vector():
    from .conftest import FakeEncoder

    fake = FakeEncoder()
    known = {"甲乙丙丁戊。": fake.encode(["甲乙丙丁戊。"])[0]}
    fake.calls.clear()
    [out] = best_sentences([hit("甲乙丙丁戊。己庚辛壬癸。", 0.5)], "己庚辛", fake, known=known)
    assert sum(fake.calls) == 2  # the question and the one sentence the index has no vector for
    assert out.sentence == "己庚辛壬癸。"
    fake.calls.clear()  # with the question's vector from retrieval, only that sentence is encoded
    [again] = best_sentences(
        [hit("甲乙丙丁戊。己庚辛壬癸。", 0.5)], "己庚辛", fake, known=known, vector=fake.encode_queries(["己庚辛"])[0]
    )
    assert fake.calls[1:] == [1] and again.sentence == out.sentence


@pytest.mark.parametrize("field", ["【编辑:唐炜妮】", "来源：新华社", "Author: Li Wei"])
def test_a_labelled_field_line_states_a_fact_and_can_be_the_answer(field):
    text = f"世界互联网大会国际组织于2022年成立。\n{field}"
    assert not is_heading(field)
    [out] = best_sentences([hit(text, 0.5)], "这篇文章的编辑是谁? 来源是哪里? Who is the author?", None)
    assert out.sentence == field


def test_a_short_caption_with_its_credit_is_not_a_heading():
    assert not is_heading("任贤良。郭天奇 摄") and not is_heading("郭天奇 摄")
    assert is_heading("未来展望")
