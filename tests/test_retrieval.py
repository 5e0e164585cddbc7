"""Fusion, follow-ups, settings and the saved index, with a fake encoder and the real FAISS and BM25."""

import json

import numpy as np
import pytest

from assistant.api import Assistant
from assistant.errors import CorpusError, QuestionError
from assistant.search import clean_question
from assistant.search.conversation import is_follow_up, make_query, search_query
from assistant.search.retriever import fuse
from assistant.storage.build import index_folder

from .conftest import FakeEncoder, dense_scores, write, write_docs

DOCS = {
    "wic.txt": "世界互联网大会\n世界互联网大会国际组织于2022年7月12日在北京正式成立，总部设在中国北京。\n"
    "目前国际组织已有来自25个国家和地区的近130家会员单位加入。\n",
    "food.md": "# Cooking notes\n\nSourdough bread needs a starter, flour, water and salt; bake it at 230 degrees.\n\n"
    "Green tea is brewed at 80 degrees for two minutes.\n",
}


@pytest.fixture
def corpus(tmp_path):
    return write_docs(tmp_path / "docs", DOCS)


@pytest.fixture
def bot(corpus, fake_encoder):
    return Assistant(corpus, encoder=fake_encoder)


def test_fuse_weighs_dense_against_keyword():
    dense, keyword = np.array([0.8, 0.2]), np.array([0.0, 1.0])
    assert fuse(dense, keyword, alpha=1.0).tolist() == pytest.approx([0.8, 0.2])
    assert fuse(dense, keyword, alpha=0.0).tolist() == pytest.approx([0.0, 1.0])
    assert fuse(dense, keyword, alpha=0.5).tolist() == pytest.approx([0.4, 0.6])
    # an encoder whose unrelated texts score ~0.75 (e5) is measured from its floor
    assert fuse(np.array([0.85, 0.7, 0.5]), np.zeros(3), alpha=1.0, floor=0.7).tolist() == pytest.approx([0.5, 0, 0])
    from assistant.search.settings import dense_floor

    assert dense_floor("multilingual-e5-small") == 0.6 and dense_floor("use-multilingual-v3") == 0.0


@pytest.mark.parametrize(
    "question, follow_up",
    [
        ("它现在有多少会员?", True),
        ("那在哪里举办?", True),
        ("And where was it held?", True),
        ("世界互联网大会国际组织是什么时候成立的?", False),
        ("How do I bake sourdough bread?", False),
    ],
)
def test_follow_up_detection(question, follow_up):
    assert is_follow_up(question) is follow_up


def test_follow_up_borrows_the_resolved_previous_questions():
    history = ["世界互联网大会国际组织是什么时候成立的?", "它在哪里成立?"]
    assert (
        search_query("它有多少会员?", history) == "世界互联网大会国际组织是什么时候成立的? 它在哪里成立? 它有多少会员?"
    )
    assert make_query("How do I bake sourdough bread?", history).parts == ("How do I bake sourdough bread?",)
    assert make_query("它有多少会员?", history[:1]).weights == (0.5, 0.5)


@pytest.mark.parametrize("question, message", [("", "empty"), ("  \n\t ", "empty"), ("问" * 2001, "shorten")])
def test_bad_questions_get_one_clear_sentence(question, message):
    with pytest.raises(QuestionError, match=message):
        clean_question(question)


def test_control_characters_are_removed():
    assert clean_question("\x00世界\x07互联网\x1b") == "世界 互联网"


def test_answers_with_exact_citation(bot):
    answer = bot.ask("世界互联网大会国际组织是什么时候成立的?")
    top = answer.hits[0].passage
    assert answer.found
    assert (top.source, top.paragraph, top.citation, top.title) == ("wic.txt", 2, "¶1–2", "世界互联网大会")
    assert answer.answer.endswith("[1]") and "2022年7月12日" in answer.answer
    english = bot.ask("How do I bake sourdough bread?")
    assert (english.hits[0].passage.source, english.hits[0].passage.paragraph) == ("food.md", 2)
    assert english.hits[0].passage.title == "Cooking notes"


def test_unrelated_question_is_not_found(bot):
    answer = bot.ask("明天上海会下雪吗?")
    assert not answer.found and answer.hits == () and "没有找到" in answer.answer
    assert json.loads(json.dumps(answer.to_dict()))["passages"] == []


def test_follow_up_uses_the_previous_turn(bot):
    answer = bot.ask("它有多少会员?", ["世界互联网大会国际组织是什么时候成立的?"])
    assert answer.hits[0].passage.paragraph == 3


@pytest.mark.parametrize("k", [0, -1, 51, 10**9])
def test_bad_top_k_is_refused(bot, k):
    with pytest.raises(QuestionError, match="from 1 to 50"):
        bot.ask("世界互联网大会", top_k=k)


def test_top_k_limits_passages(bot):
    assert len(bot.ask("世界互联网大会 会员 北京", top_k=1).hits) == 1


def test_restart_loads_without_re_encoding(corpus):
    first = FakeEncoder()
    Assistant(corpus, encoder=first).refresh()
    assert sum(first.calls) > 0
    second = FakeEncoder()
    index = Assistant(corpus, encoder=second).index
    assert second.calls == [] and len(index.passages) == 4


def test_changed_file_is_the_only_one_re_encoded(corpus):
    Assistant(corpus, encoder=FakeEncoder()).refresh()
    write(corpus, "food.md", DOCS["food.md"] + "\nOolong tea likes 95 degree water and three minutes.\n")
    write(corpus, "new.txt", "新加入的文件，讲述乌镇峰会的会员活动日安排。")
    encoder = FakeEncoder()
    index = Assistant(corpus, encoder=encoder).index
    sources = [p.source for p in index.passages]
    assert sources.count("food.md") == 3 and sources.count("new.txt") == 1 and sources.count("wic.txt") == 2
    assert index.manifest["encoded_passages"] == 4  # food.md (3) + new.txt (1), wic.txt reused
    (corpus / "new.txt").unlink()
    index = Assistant(corpus, encoder=FakeEncoder()).index
    assert "new.txt" not in {p.source for p in index.passages} and "new.txt" not in index.manifest["files"]


def test_each_model_has_its_own_index(corpus, tmp_path):
    a = Assistant(corpus, encoder=FakeEncoder("model-a")).index
    b = Assistant(corpus, encoder=FakeEncoder("model-b")).index
    assert a.folder.parent != b.folder.parent
    assert (a.manifest["model"], b.manifest["model"]) == ("model-a", "model-b")
    assert index_folder(corpus, "model-a") == a.folder.parent


def test_index_from_another_model_in_the_same_folder_is_rebuilt(corpus, monkeypatch):
    index = Assistant(corpus, encoder=FakeEncoder("model-a")).index
    manifest = json.loads((index.folder / "manifest.json").read_text())
    manifest["model"] = "someone-else"
    (index.folder / "manifest.json").write_text(json.dumps(manifest))
    encoder = FakeEncoder("model-a")
    rebuilt = Assistant(corpus, encoder=encoder).index
    assert rebuilt.manifest["model"] == "model-a" and sum(encoder.calls) > 0


@pytest.mark.parametrize("damaged", ["dense.faiss", "passages-*.jsonl", "vectors-*.npy", "keyword/keyword.json"])
def test_corrupt_index_is_detected_and_rebuilt(corpus, damaged, caplog):
    index = Assistant(corpus, encoder=FakeEncoder()).index
    (path,) = index.folder.glob(damaged)
    path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])
    rebuilt = Assistant(corpus, encoder=FakeEncoder()).index
    assert "damaged" in caplog.text
    assert [p.text for p in rebuilt.passages] == [p.text for p in index.passages]


def test_empty_corpus_says_what_to_do(tmp_path, fake_encoder):
    (tmp_path / "empty").mkdir()
    with pytest.raises(CorpusError, match="No documents in"):
        Assistant(tmp_path / "empty", encoder=fake_encoder).refresh()


def test_read_only_index_folder_gives_a_clear_error(corpus, tmp_path, fake_encoder):
    import os

    if os.geteuid() == 0:
        blocker = tmp_path / "not-a-folder"
        blocker.write_text("x")
        root = blocker / "embeddings"  # a path under a file can never be created, even by root
    else:
        root = tmp_path / "ro"
        root.mkdir(mode=0o500)
    from assistant.errors import IndexStoreError

    with pytest.raises(IndexStoreError, match="Cannot write the index"):
        Assistant(corpus, encoder=fake_encoder, index_root=root).refresh()


def test_released_vector_rows_give_the_same_answers(corpus, monkeypatch):
    from assistant.storage import versions

    Assistant(corpus, encoder=FakeEncoder()).refresh()
    bot = Assistant(corpus, encoder=FakeEncoder())  # loads the saved, memory-mapped vectors
    assert isinstance(bot.index.vectors_array(), np.memmap)
    kept = [(h.passage.source, h.score) for h in bot.ask("世界互联网大会 会员 北京", top_k=3).hits]
    monkeypatch.setattr(versions, "RELEASE_BYTES", 0)  # release the map after every gather
    assert [(h.passage.source, h.score) for h in bot.ask("世界互联网大会 会员 北京", top_k=3).hits] == kept
    assert [(h.passage.source, h.score) for h in bot.ask("世界互联网大会 会员 北京", top_k=3).hits] == kept


def test_the_encoder_sees_a_traditional_question_in_the_corpus_script(tmp_path, fake_encoder):
    """The corpus's script is decided when the index is built (and kept in its manifest), not at query time."""
    from assistant.search.retriever import dense_text

    question = "國際組織是什麼時候成立的?"
    simplified = Assistant(
        write_docs(tmp_path / "s", {"a.txt": "国际组织于2022年成立。\n"}), encoder=fake_encoder
    ).index
    traditional = Assistant(
        write_docs(tmp_path / "t", {"a.txt": "國際組織於2022年成立。\n"}), encoder=fake_encoder
    ).index
    assert simplified.simplified is True and traditional.simplified is False
    assert dense_text(simplified, question) == "国际组织是什么时候成立的?"
    assert dense_text(traditional, question) == question
    assert dense_text(simplified, "When was it founded?") == "When was it founded?"
    saved = json.loads((simplified.folder / "manifest.json").read_text())
    assert saved["traditional_share"] == 0.0


def test_second_stage_re_scores_only_the_best_first_stage_passages(corpus, fake_encoder, monkeypatch):
    """Sentence vectors are read for the ``rerank`` best passages of the first stage only, and with a
    stage as deep as the candidates the ranking is the exhaustive one: fused scores with every
    passage's best sentence."""
    from assistant.keyword.bm25 import top_k as keyword_top_k
    from assistant.keyword.terms import tokenize
    from assistant.search import retriever

    for i in range(6):
        write(corpus, f"more{i}.txt", f"第{i}篇\n北京的会议{i}次讨论了互联网。\n\n会员单位{i}家来自{i}个国家。\n")
    bot = Assistant(corpus, encoder=fake_encoder)
    index = bot.refresh()
    assert retriever.has_sentence_vectors(index) and len(index.passages) > 8
    question = "国际组织有多少会员单位?"
    read = []
    real = retriever.best_sentence_scores
    monkeypatch.setattr(
        retriever, "best_sentence_scores", lambda ix, ids, q: read.append(ids.copy()) or real(ix, ids, q)
    )
    shallow = retriever.retrieve(index, fake_encoder, [question], k=2, rerank=3)[0].hits
    assert [len(ids) for ids in read] == [3]
    rows = {id(p): i for i, p in enumerate(index.passages)}
    assert {rows[id(h.passage)] for h in shallow} <= set(read[0].tolist())
    assert [h.row for h in shallow] == [rows[id(h.passage)] for h in shallow]  # a hit knows its row

    deep = retriever.retrieve(index, fake_encoder, [question], k=len(index.passages), rerank=10**6)[0].hits
    everything = np.arange(len(index.passages))
    query = fake_encoder.encode([question])[0]
    keyword = index.keyword.scores(tokenize(question))
    expected = retriever.fuse(dense_scores(index, everything, query), keyword)
    prior = np.broadcast_to(retriever.document_prior(index, everything, query[None], (1.0,)), everything.shape)
    candidates = set(keyword_top_k(keyword, 100)[0].tolist()) | set(everything.tolist())
    order = sorted(candidates, key=lambda i: (-(expected + prior)[i], i))
    assert [rows[id(h.passage)] for h in deep] == order
    np.testing.assert_allclose([h.score for h in deep], expected[order], rtol=1e-5)
    np.testing.assert_allclose([h.document for h in deep], prior[order], rtol=1e-5, atol=1e-7)


def test_fuse_takes_one_cross_language_flag_per_passage():
    dense, keyword = np.array([0.8, 0.8]), np.array([0.4, 0.4])
    fused = fuse(dense, keyword, alpha=0.5, cross_language=np.array([True, False]))
    assert fused.tolist() == pytest.approx([0.75 * 0.8 + 0.25 * 0.4, 0.5 * 0.8 + 0.5 * 0.4])
    assert fuse(dense, keyword, alpha=0.0, cross_language=np.array([True, False])).tolist() == pytest.approx([0.4, 0.4])


MIXED = {
    **{f"zh{n}.txt": f"第{n}篇\n世界互联网大会第{n}次会议在乌镇举行，讨论了数字治理。\n" for n in range(6)},
    **{f"en{n}.txt": f"Note {n}\n\nThe harbour bakery sells rye bread number {n} every Friday.\n" for n in range(12)},
}  # mostly English: Chinese questions are the minority language's


def test_a_corpus_in_both_languages_weighs_each_passage_by_its_own_language(tmp_path, fake_encoder, monkeypatch):
    """In a corpus of Chinese and English files, a question in the corpus's main language is fused as
    cross-language (dense weighed up, since the keyword side sees only translations) for the passages in the
    other language only; a question in the minority language stays cross-language for every passage, its own
    language's too, since its words' IDFs come from a corpus mostly in the other language. The calibrated
    "not found" keeps one flag per question (the question's language against the corpus's): fitted on corpora
    in one language, its ``foreign`` weight would lift unrelated passages of the other language."""
    from assistant.search import calibration
    from assistant.search.retriever import cross_language

    seen = []
    features = calibration.features
    monkeypatch.setattr(calibration, "features", lambda *a, **kw: seen.append(kw["foreign"]) or features(*a, **kw))

    bot = Assistant(write_docs(tmp_path / "mixed", MIXED), encoder=fake_encoder)
    index = bot.index
    chinese = index.keyword.chinese_passages()
    assert index.keyword.mixed() and sorted(
        {p.source[:2] for p, c in zip(index.passages, chinese, strict=True) if c}
    ) == ["zh"]
    for question, zh in (("世界互联网大会在哪里举行?", True), ("Where is the rye bread sold?", False)):
        answer = bot.ask(question, top_k=len(index.passages), threshold=0.0)
        assert {h.passage.source[:2] for h in answer.hits} == {"zh", "en"}
        for hit in answer.hits:
            cross = zh or not hit.passage.source.startswith("en")  # the Chinese question: everywhere
            alpha = 0.75 if cross else 0.5
            expected = alpha * min(max(hit.dense_score, 0.0), 1.0) + (1 - alpha) * hit.keyword_score
            assert hit.score == pytest.approx(expected, abs=1e-5), (question, hit.passage.source)
        assert index.keyword.language == "en" and index.keyword.is_foreign(question) == zh
        assert seen.pop() is zh and not seen
    # fewer than five passages in the other language: one flag for the whole corpus, by its main language
    single = Assistant(write_docs(tmp_path / "one", DOCS), encoder=fake_encoder).index
    assert not single.keyword.mixed() and single.keyword.language == "zh"
    assert cross_language(single, "When was it founded?", np.arange(2)) is True
    assert cross_language(single, "国际组织是什么时候成立的?", np.arange(2)) is False


SUMMIT = "世界互联网大会乌镇峰会每年在浙江乌镇举行，讨论数字治理与网络安全。"
TOPICAL = {  # a file on the question's subject throughout, and a long one on everything else
    "a-mixed.txt": "杂记\n"
    + "".join(
        f"第{n}条:{topic}\n\n"
        for n, topic in enumerate(
            [
                "面包要在两百三十度的烤箱里烤四十分钟，出炉后放凉再切片。",
                "绿茶要用八十度左右的热水冲泡两分钟，水太烫茶就会发苦。",
            ]
            * 4
        )
    )
    + SUMMIT
    + "\n",
    "wuzhen.txt": "乌镇峰会\n乌镇峰会的主办方是世界互联网大会国际组织，秘书处设在北京。\n\n"
    "乌镇峰会讨论构建网络空间命运共同体，以及全球数字治理的规则。\n\n"
    "每届乌镇峰会都有来自一百多个国家和地区的嘉宾到浙江乌镇参会。\n\n"
    "乌镇峰会期间举办互联网之光博览会，展示数字技术的新成果和新产品。\n\n" + SUMMIT + "\n",
    "short.txt": "短文\n乌镇峰会的分论坛讨论人工智能、数据治理和跨境电子商务。\n\n"
    "乌镇的互联网之光博览会每年秋天开幕，展出数字技术。\n",
    "note.txt": "A one-paragraph note about rye bread.\n",
}


def test_document_means_are_each_files_mean_passage_vector(tmp_path, fake_encoder, monkeypatch):
    """Per file of two passages or more, its mean passage vector and size, read block by block (a block boundary
    inside a file included); a one-passage file has no row, and the table keeps the largest files first."""
    from assistant.storage import document_means

    monkeypatch.setattr(document_means, "BLOCK", 3)
    index = Assistant(write_docs(tmp_path / "docs", TOPICAL), encoder=fake_encoder).index
    means = index.document_means()
    vectors = index.vectors_array().astype(np.float64)
    sources = np.array([p.source for p in index.passages])
    np.testing.assert_allclose(means.overall, vectors.mean(axis=0), atol=1e-6)
    for source in ("a-mixed.txt", "wuzhen.txt", "short.txt"):
        rows = np.flatnonzero(sources == source)
        assert len(rows) >= 2 and len(set(means.row_of[rows])) == 1
        row = means.row_of[rows[0]]
        np.testing.assert_allclose(means.means[row], vectors[rows].mean(axis=0), atol=1e-6)
        assert means.sizes[row] == len(rows)
    assert means.row_of[sources == "note.txt"].tolist() == [-1]
    assert len(means.means) == 3

    monkeypatch.setattr(document_means, "MAX_DOCUMENTS", 1)  # a bounded table: the largest documents first
    index = Assistant(tmp_path / "docs", encoder=fake_encoder).index
    means = index.document_means()
    assert len(means.means) == 1 and set(means.row_of[sources == "a-mixed.txt"]) == {0}
    assert set(means.row_of[sources != "a-mixed.txt"]) == {-1}


def test_the_document_prior_is_the_rest_of_the_file_shrunk_by_its_size(tmp_path, fake_encoder):
    """Each passage's prior: the mean of its file's other passages from the corpus's mean, on the question's
    direction from that mean, × (n - 1) / (n - 1 + DOCUMENT_SHRINK), × DOCUMENT_WEIGHT; 0 for a file of one."""
    from assistant.search import retriever

    index = Assistant(write_docs(tmp_path / "docs", TOPICAL), encoder=fake_encoder).index
    vectors = index.vectors_array().astype(np.float64)
    sources = np.array([p.source for p in index.passages])
    query = fake_encoder.encode_queries(["乌镇峰会在哪里举行?"])
    everything = np.arange(len(sources))
    prior = retriever.document_prior(index, everything, query, (1.0,))
    overall = vectors.mean(axis=0)
    direction = (query[0] - overall) / np.linalg.norm(query[0] - overall)
    for i, source in enumerate(sources):
        rest = [j for j in everything if sources[j] == source and j != i]
        if not rest:
            assert prior[i] == 0.0
            continue
        n = len(rest) + 1
        expected = (vectors[rest].mean(axis=0) - overall) @ direction * (n - 1) / (n - 1 + retriever.DOCUMENT_SHRINK)
        assert prior[i] == pytest.approx(retriever.DOCUMENT_WEIGHT * expected, abs=1e-5), source
    assert prior[sources == "wuzhen.txt"].min() > prior[sources == "a-mixed.txt"].max()


def test_the_same_passage_ranks_first_in_the_file_about_the_question(tmp_path, fake_encoder, monkeypatch):
    """A paragraph that is in two files is cited first from the file whose other passages are about the question
    too. The prior orders the hits (``Hit.order_score``) and stays out of their fused score, which the calibrated
    "not found" reads. In a corpus of one file it is zero."""
    from assistant.search import retriever

    index = Assistant(write_docs(tmp_path / "docs", TOPICAL), encoder=fake_encoder).index
    question = "乌镇峰会在哪里举行，讨论什么?"
    copies = [h for h in retriever.retrieve(index, fake_encoder, [question], k=10)[0].hits if h.passage.text == SUMMIT]
    assert [h.passage.source for h in copies] == ["wuzhen.txt", "a-mixed.txt"]
    assert copies[0].score == pytest.approx(copies[1].score, abs=1e-6)
    assert copies[0].order_score > copies[1].order_score + 0.01 and copies[0].document > 0 > copies[1].document

    monkeypatch.setattr(retriever, "DOCUMENT_WEIGHT", 0.0)  # without it, equal scores go by row: the first file's
    copies = [h for h in retriever.retrieve(index, fake_encoder, [question], k=10)[0].hits if h.passage.text == SUMMIT]
    assert [h.passage.source for h in copies] == ["a-mixed.txt", "wuzhen.txt"]
    assert copies[0].score == pytest.approx(copies[1].score, abs=1e-6)

    monkeypatch.setattr(retriever, "DOCUMENT_WEIGHT", 0.2)
    one = Assistant(write_docs(tmp_path / "one", {"wuzhen.txt": TOPICAL["wuzhen.txt"]}), encoder=fake_encoder).index
    vectors = fake_encoder.encode_queries([question])
    prior = retriever.document_prior(one, np.arange(len(one.passages)), vectors, (1.0,))
    assert len(one.passages) >= 5 and prior == 0.0 and len(one.document_means().means) == 0


def test_a_cross_language_question_meets_the_passages_also_through_its_translation(tmp_path, fake_encoder, monkeypatch):
    """An English question shares no character bigram with Chinese passages, so the fake encoder scores them all
    alike; its word-by-word translation (会员 加入 …) meets the passage that holds them, weighed at
    the encoder's ``TRANSLATION_WEIGHTS`` in the dense score of the passages in the other language only (in a corpus
    in both, an English question's scores for the English passages are its own)."""
    from assistant.search import retriever, settings

    default = settings.TRANSLATION_WEIGHTS["multilingual-e5-small"]
    assert 0 < default < 1 and settings.translation_weight("use-multilingual-v3") == 0.0
    docs = {
        "wic.txt": "世界互联网大会\n目前国际组织已有来自二十五个国家和地区的近一百三十家会员单位加入，覆盖六大洲。\n\n"
        "乌镇峰会不仅是交流的平台，也是展示新技术、新产品和新成果的窗口，每年秋天在浙江举行。\n\n"
        "国际组织的总部和秘书处都设在北京，秘书长负责日常工作，并向理事会报告。\n"
    }
    bot = Assistant(write_docs(tmp_path / "zh", docs), encoder=fake_encoder)
    question = "How many members have joined?"
    assert "会员" in bot.index.keyword.translation(list(retriever.tokenize(question)))

    def dense_scores_at(assistant, weight, text, **options):
        monkeypatch.setitem(settings.TRANSLATION_WEIGHTS, fake_encoder.name, weight)
        hits = assistant.ask(text, top_k=len(assistant.index.passages), threshold=0.0, **options).hits
        return {h.passage.text: h.dense_score for h in hits}

    before, after = (dense_scores_at(bot, w, question, alpha=1.0) for w in (0.0, default))
    assert len(before) == 3 and max(before.values()) < 0.1  # the question alone meets none (hash collisions aside)
    gain = {t: after[t] - before[t] for t in before}
    best = max(after, key=after.get)
    assert "会员" in best and gain[best] > 0.01 and all(gain[t] < gain[best] / 2 for t in gain if t != best)

    mixed = Assistant(write_docs(tmp_path / "mixed", MIXED), encoder=fake_encoder)
    english = "Where is the rye bread of the conference sold?"
    assert retriever.translation(mixed.index, english, retriever.tokenize(english))
    chinese_question = "面包在哪里卖?"  # the other way too, into the English passages' words (bread, sell)
    assert retriever.translation(mixed.index, chinese_question, retriever.tokenize(chinese_question))
    before, after = (dense_scores_at(mixed, w, english) for w in (0.0, default))
    chinese = [t for t in before if retriever.CJK.search(t)]
    assert chinese and all(after[t] == pytest.approx(before[t]) for t in before if t not in chinese)
    assert all(after[t] > before[t] for t in chinese)  # they share the translation's bigrams, not the question's
