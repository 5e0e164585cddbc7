"""The eval command: dataset loading, scoring, and a small real slice of CMRC 2018 in CI."""

import json

import pytest

from assistant.cli import main
from assistant.evaluate import (
    EvalQuestion,
    load_dataset,
    load_questions_jsonl,
    markdown_table,
    run_eval,
    sentence_holds_answer,
    to_json,
)

from .conftest import DATA, SEEDS, write

CMRC = DATA / "cmrc2018_trial.json"


def squad(tmp_path):
    data = {
        "data": [
            {
                "title": "乌镇",
                "paragraphs": [
                    {
                        "id": "p1",
                        "context": "乌镇峰会每年在浙江乌镇举行，吸引各国嘉宾。",
                        "qas": [{"question": "峰会在哪里举行?", "answers": [{"text": "浙江乌镇"}]}],
                    }
                ],
            },
            {
                "title": "茶",
                "paragraphs": [
                    {
                        "id": "p2",
                        "context": "绿茶用八十度的水冲泡两分钟最好喝。",
                        "qas": [
                            {"question": "绿茶用多少度的水冲泡?", "answers": [{"text": "八十度"}]},
                            {"question": "", "answers": [{"text": "x"}]},
                        ],
                    }
                ],
            },
        ]
    }
    path = tmp_path / "mini.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


def test_load_squad_and_jsonl_pair(tmp_path):
    passages, questions = load_dataset(squad(tmp_path))
    assert [(p.id, p.title) for p in passages] == [("p1", "乌镇"), ("p2", "茶")]
    assert questions[0] == EvalQuestion("峰会在哪里举行?", ("浙江乌镇",), "p1")
    write(tmp_path, "x.passages.jsonl", '{"id": "a", "title": "T", "text": "正文"}\n')
    write(tmp_path, "x.questions.jsonl", '{"id": "q", "question": "问?", "answers": ["正文"], "passage_id": "a"}\n')
    passages, questions = load_dataset(tmp_path / "x.questions.jsonl")
    assert passages[0].id == "a" and questions[0].passage_id == "a"


def test_questions_jsonl_with_history_and_unanswerable(tmp_path):
    path = write(
        tmp_path,
        "q.jsonl",
        '{"question": "它有多少会员?", "answers": ["130"], "history": ["组织何时成立?"]}\n'
        '{"question": "明天会下雨吗?", "answers": []}\n',
    )
    questions = load_questions_jsonl(path)
    assert questions[0].history == ("组织何时成立?",) and questions[1].answers == ()


def test_eval_on_a_tiny_dataset_with_the_fake_encoder(tmp_path, fake_encoder):
    from assistant.encoders import set_encoder_factory

    set_encoder_factory(lambda model=None: fake_encoder)
    try:
        results = run_eval(squad(tmp_path), configs=("keyword", "hybrid"), progress=False)
    finally:
        set_encoder_factory(None)
    assert [r.name for r in results] == ["keyword", "hybrid"]
    assert all(r.hit[1] == 1.0 and r.mrr10 == 1.0 and r.invalid == 1 and r.questions == 2 for r in results)
    assert "| mini.json | hybrid | 2 | 1.000 |" in markdown_table(results, "mini.json")


def test_sentence_at_1_counts_answered_questions_whose_answer_sentence_holds_the_answer(tmp_path, fake_encoder):
    from assistant.encoders import set_encoder_factory

    context = "乌镇峰会每年在浙江乌镇举行。会场旁边有一家茶馆。"
    qas = [
        {"question": "峰会在哪里举行?", "answers": [{"text": "浙江 乌镇"}]},  # a space in the gold: still held
        {"question": "峰会每年在哪里举行?", "answers": [{"text": "一家茶馆"}]},  # in the passage, not the sentence
    ]
    path = tmp_path / "two.json"
    data = {"data": [{"title": "乌镇", "paragraphs": [{"id": "p1", "context": context, "qas": qas}]}]}
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    set_encoder_factory(lambda model=None: fake_encoder)
    try:
        [result] = run_eval(path, progress=False)
    finally:
        set_encoder_factory(None)
    assert (result.sentence1, result.sentence_questions) == (0.5, 2)
    assert [m["question"] for m in result.sentence_misses] == ["峰会每年在哪里举行?"]
    assert "| 1.000 | 0.500 |" in markdown_table([result], "two.json")  # MRR@10, then sentence@1
    assert to_json([result])[0]["sentence@1"] == 0.5


@pytest.mark.parametrize(
    ("sentence", "answers", "held"),
    [
        ("目前,已有近130家机构加入。", ["近130家"], True),
        ("目前，已有近１３０家机构加入。", ["近130家"], True),  # full-width digits and comma
        ("國際組織於2022年成立。", ["国际组织于2022年"], True),  # traditional against simplified
        ("It was founded in\n2022 in Beijing.", ["in 2022"], True),  # a line break inside the answer
        ("The Summit was held in Wuzhen.", ["wuzhen"], True),
        ("目前,已有机构加入。", ["近130家"], False),
        ("Anything.", [""], False),  # an empty gold string never counts
    ],
)
def test_answer_sentence_holds_the_answer_after_normalising(sentence, answers, held):
    assert sentence_holds_answer(sentence, answers) is held


def test_bad_dataset_path_is_one_sentence(capsys, tmp_path):
    assert main(["eval", str(tmp_path / "missing.json")]) == 2
    assert "does not exist" in capsys.readouterr().err


@pytest.mark.slow
def test_cmrc_slice_with_default_settings(capsys):
    """A real slice of CMRC 2018 (the first 60 questions) through the whole pipeline and the CLI."""
    assert main(["eval", str(CMRC), "--limit", "60", "--json", "--no-progress"]) == 0
    (result,) = json.loads(capsys.readouterr().out)
    assert result["questions"] == 60 and result["name"] == "hybrid"
    assert result["hit"]["hit@1"] >= 0.95 and result["hit"]["hit@5"] >= 0.98
    assert 0 < result["sentence_questions"] <= 60 and 0.0 <= result["sentence@1"] <= 1.0


@pytest.mark.slow
def test_seed_questions_through_the_chat_pipeline(capsys):
    dev = DATA / "seed_dev_questions.jsonl"
    assert main(["eval", str(dev), "--corpus", str(SEEDS), "--json", "--no-progress"]) == 0
    (result,) = json.loads(capsys.readouterr().out)
    # one of the ten, "When was this interview published?", is ranked first and refused by the calibrated rule
    # (known, reported with issue 19): 9 of 10 answered
    assert result["hit"]["hit@1"] == 1.0 and result["answerable_found"] == 0.9
    assert result["unanswerable"] == 2 and result["unanswerable_correct"] == 1.0
