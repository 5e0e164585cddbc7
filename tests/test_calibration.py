"""The calibrated not-found policy: its features on a real small index, its model, and relevant() with the real USE."""

import math
from dataclasses import replace

import numpy as np
import pytest

from assistant.api import Assistant
from assistant.errors import QuestionError
from assistant.records import Hit, Passage
from assistant.search import DEFAULT_THRESHOLD, POOL, SearchSettings, calibrated, make_query, relevant, retrieve
from assistant.search.calibration import FEATURES, model_for, probabilities

from .conftest import SEEDS, FakeEncoder, assert_one_clear_sentence, write_docs

DOCS = {
    "summit.txt": "乌镇峰会每年在浙江乌镇举办，世界互联网大会国际组织成立于2022年。",
    "tea.txt": "龙井茶产于杭州西湖一带，春天采摘的明前茶最好。",
    "rail.txt": "高铁从上海到杭州大约一个小时，车票可以在网上购买。",
    "bread.txt": "Sourdough bread needs a starter, flour, water and salt; it rises slowly overnight.",
}


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    folder = write_docs(tmp_path_factory.mktemp("docs"), DOCS)
    bot = Assistant(folder, encoder=FakeEncoder(), index_root=tmp_path_factory.mktemp("emb"))
    bot.refresh()
    return bot


def pooled(bot, question, history=()):
    [found] = retrieve(bot.index, bot.encoder, [make_query(question, history)], k=POOL)
    return found, calibrated(found, bot.index, bot.encoder.name)


def column(name):
    return FEATURES.index(name)


def test_features_on_a_real_small_index(small):
    from assistant.search.calibration import features

    found, hits = pooled(small, "龙井茶产于哪里?")
    assert hits[0].passage.source == "tea.txt"
    index = small.index
    rows = features(
        found.hits, found.words[0], idf=index.keyword.idf, groups=index.keyword.groups, foreign=False, follow_up=False
    )
    assert rows.shape == (len(DOCS), len(FEATURES))
    top, others = rows[0], rows[1:]
    scores = [h.score for h in found.hits]
    assert top[column("score")] == pytest.approx(scores[0])
    assert top[column("score_margin")] == pytest.approx(scores[0] - np.median(scores[1:]))
    assert top[column("coverage")] == 1.0  # every word of the question is in the tea passage
    assert others[:, column("coverage")].max() < 1.0
    assert top[column("agree")] == 1.0 and others[:, column("agree")].sum() == 0.0
    assert rows[:, column("foreign")].sum() == 0.0 and rows[:, column("follow_up")].sum() == 0.0


def test_language_and_follow_up_flags(small):
    found, _ = pooled(small, "Where is Longjing tea grown?")
    rows_foreign = calibrated(found, small.index, small.encoder.name)
    assert small.index.keyword.is_foreign(found.query.parts[0])
    found2, hits2 = pooled(small, "它是哪年成立的?", ["世界互联网大会国际组织在哪里?"])
    assert len(found2.query.parts) == 2
    from assistant.search.calibration import features

    index = small.index
    flags = features(
        found2.hits, found2.words[0], idf=index.keyword.idf, groups=index.keyword.groups, foreign=False, follow_up=True
    )[:, column("follow_up")]
    assert set(flags) == {1.0}
    crossed = features(
        found.hits, found.words[0], idf=index.keyword.idf, groups=index.keyword.groups, foreign=True, follow_up=False
    )
    assert set(crossed[:, column("foreign")]) == {1.0} and set(crossed[:, column("follow_up")]) == {0.0}
    assert all(0.0 <= h.confidence <= 1.0 for h in rows_foreign + hits2)


def test_a_follow_up_is_judged_with_its_context_words(small):
    from assistant.search.calibration import features

    found, hits = pooled(small, "它在哪一年?", ["世界互联网大会国际组织在哪里?"])
    index, model = small.index, model_for(small.encoder.name)
    rows = {
        part: features(
            found.hits,
            found.words[part],
            idf=index.keyword.idf,
            groups=index.keyword.groups,
            foreign=False,
            follow_up=True,
            unknown=index.keyword.unknown_idf(),
        )
        for part in (0, 1)
    }
    assert rows[1][0, column("coverage")] > rows[0][0, column("coverage")]
    assert [h.confidence for h in hits] == pytest.approx(list(probabilities(rows[1], model)))


def test_confidence_is_the_model_of_the_features(small):
    found, hits = pooled(small, "高铁从上海到杭州要多久?")
    assert hits[0].passage.source == "rail.txt"
    assert [h.passage for h in hits] == [h.passage for h in found.hits]  # the ranking is untouched
    assert hits[0].confidence > max(h.confidence for h in hits[1:])


def test_unknown_encoders_get_the_fallback_model():
    fallback = model_for("some-model-never-fitted")
    assert fallback is model_for("default")
    assert "dense" not in fallback["weights"] and "score" not in fallback["weights"]
    assert model_for("use-multilingual-v3") is not fallback


def hit(confidence, score=0.5):
    return Hit(Passage("d", "d.txt", "", 1, "text"), score, confidence=confidence)


def test_relevant_uses_the_probability_not_the_score():
    hits = [hit(0.9, score=0.1), hit(0.2, score=0.8), hit(0.6, score=0.05)]
    assert relevant(hits, 0.5) == [hits[0], hits[2]]
    assert relevant(hits, 0.95) == []
    assert relevant(hits, 0.0) == hits
    assert relevant([], 0.0) == []


@pytest.mark.parametrize("value", [-0.1, 1.5, 2, float("nan"), float("inf"), "low", True])
def test_threshold_must_be_a_probability(value):
    with pytest.raises(QuestionError) as info:
        SearchSettings(threshold=value)
    assert_one_clear_sentence(str(info.value), "threshold", "between 0 and 1")


def test_default_threshold_is_a_probability():
    assert 0 < DEFAULT_THRESHOLD < 1 and SearchSettings().threshold == DEFAULT_THRESHOLD


def test_probabilities_rise_with_the_margin():
    model = model_for("use-multilingual-v3")
    base = dict.fromkeys(FEATURES, 0.0) | {"score": 0.3, "dense": 0.4, "keyword": 0.2, "coverage": 0.5}
    base |= {"score_margin": 0.05, "dense_margin": 0.05, "keyword_margin": 0.05}
    wider = base | {"score_margin": 0.2}
    base, wider = ([row[name] for name in FEATURES] for row in (base, wider))
    low, high = probabilities(np.array([base, wider]), model)
    assert 0 < low < high < 1 and not math.isnan(low)


@pytest.mark.slow
class TestRealModelOnTheSeeds:
    @pytest.fixture(scope="class")
    def bot(self, tmp_path_factory):
        return Assistant(SEEDS, index_root=tmp_path_factory.mktemp("emb"))

    @pytest.mark.parametrize(
        "question",
        [
            # 杭州 is the dateline's city: answered by the calibrated rule at 0.3 (known, reported with issue 19)
            pytest.param("明天杭州会下雪吗?", marks=pytest.mark.xfail(strict=True, reason="answered: 杭州 matches")),
            "How long should I boil an egg?",
            "周末去西湖划船要多少钱?",
            "Who painted the Mona Lisa?",
        ],
    )
    def test_off_topic_questions_are_not_found(self, bot, question):
        answer = bot.ask(question)
        assert not answer.found and answer.hits == ()
        assert bot.ask(question, threshold=0.0).found  # nothing refused at 0: the probability decided

    @pytest.mark.parametrize(
        "question, paragraph",
        [
            ("世界互联网大会国际组织是什么时候成立的?", 15),
            ("When was the WIC international organization founded?", 15),
        ],
    )
    def test_seed_questions_are_answered(self, bot, question, paragraph):
        answer = bot.ask(question)
        assert answer.found and answer.hits[0].passage.paragraph == paragraph
        assert answer.hits[0].confidence >= DEFAULT_THRESHOLD
        assert all(h.confidence >= DEFAULT_THRESHOLD for h in answer.hits)

    def test_a_stricter_threshold_cites_fewer(self, bot):
        question = "世界互联网大会国际组织是什么时候成立的?"
        loose, strict = bot.ask(question, threshold=0.0), bot.ask(question, threshold=0.99)
        assert len(loose.hits) == 5
        assert len(strict.hits) < len(loose.hits)
        assert all(h.confidence >= 0.99 for h in strict.hits)
        assert [replace(h, sentence="", sentence_score=0.0) for h in strict.hits] == [
            replace(h, sentence="", sentence_score=0.0) for h in loose.hits[: len(strict.hits)]
        ]
