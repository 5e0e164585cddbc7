"""The real default model (USE multilingual) and FAISS on the seed corpus and its dev questions."""

import json

import pytest

from assistant.api import Assistant

from .conftest import DATA, SEEDS

pytestmark = pytest.mark.slow
DEV = DATA / "seed_dev_questions.jsonl"


@pytest.fixture(scope="module")
def bot(tmp_path_factory):
    return Assistant(SEEDS, index_root=tmp_path_factory.mktemp("emb"))


def dev_questions():
    return [json.loads(line) for line in DEV.read_text(encoding="utf-8").splitlines() if line.strip()]


# Ranked first, but refused by the calibrated not-found rule (probability under 0.3): a known error of the rule,
# reported with issue 19; strict, so that the test says when it is fixed.
REFUSED = {"When was this interview published?"}


@pytest.mark.parametrize(
    "item",
    [
        pytest.param(q, marks=pytest.mark.xfail(strict=True, reason="refused by the calibrated rule"))
        if q["question"] in REFUSED
        else q
        for q in dev_questions()
        if q["answers"]
    ],
    ids=lambda q: q["question"],
)
def test_answerable_dev_question_in_top_5(bot, item):
    answer = bot.ask(item["question"], item.get("history", []))
    assert answer.found
    texts = [h.passage.text for h in answer.hits[:5]]
    assert any(a in t for t in texts for a in item["answers"]), texts


@pytest.mark.parametrize("item", [q for q in dev_questions() if not q["answers"]], ids=lambda q: q["question"])
def test_unanswerable_dev_question_not_found(bot, item):
    answer = bot.ask(item["question"])
    assert not answer.found and answer.hits == ()


@pytest.mark.parametrize(
    "question", ["世界互联网大会国际组织是什么时候成立的?", "When was the WIC international organization founded?"]
)
def test_founding_question_cites_paragraph_15_in_both_languages(bot, question):
    top = bot.ask(question).hits[0]
    assert (top.passage.source, top.passage.paragraph, top.passage.citation) == (
        "wuzhen_summit_ten_years_interview.txt",
        15,
        "¶15",
    )
    assert top.passage.title == "乌镇峰会十年,网络空间命运共同体何以构建?"


def test_chinese_answer_emphasises_the_date_sentence(bot):
    answer = bot.ask("世界互联网大会国际组织是什么时候成立的?")
    assert answer.hits[0].sentence == "2022年7月12日,世界互联网大会在北京召开成立大会,正式宣告成为国际组织。"


@pytest.mark.parametrize(
    ("question", "fact"),
    [
        ("世界互联网大会国际组织目前有多少成员?", "近130家"),  # the number is in the sentence after the best match
        ("世界互聯網大會國際組織目前有多少成員?", "近130家"),
        ("How many members does the WIC international organization have now?", "近130家"),
        ("Where was the 2023 Wuzhen Summit held?", "浙江乌镇"),
    ],
)
def test_the_bold_answer_sentence_holds_the_fact_asked_for(bot, question, fact):
    answer = bot.ask(question)
    lead, markers = answer.sentences[0]
    assert fact in lead, lead
    assert lead in answer.hits[markers[0] - 1].passage.text  # quoted as written, from the passage it cites


@pytest.mark.parametrize(
    "history, question, paragraph",
    [
        (["世界互联网大会国际组织是什么时候成立的?"], "它现在有多少会员?", 13),
        (["2022年乌镇峰会吸引了多少个国家和地区的嘉宾?"], "那有多少位嘉宾参会?", 16),
        (["When was the WIC international organization founded?"], "And where was it founded?", 15),
    ],
)
def test_follow_up_questions(bot, history, question, paragraph):
    answer = bot.ask(question, history)
    assert answer.hits[0].passage.paragraph == paragraph, answer.search_query


def test_restart_with_saved_index_does_not_re_encode(bot):
    again = Assistant(SEEDS, index_root=bot.index.folder.parent.parent)
    assert again.index.folder == bot.index.folder
    assert again.encoder._model is None  # nothing was encoded while loading
