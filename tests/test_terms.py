"""Keyword tokens, the cross-language dictionary bridge, and group-normalised BM25."""

import numpy as np
import pytest

from assistant.keyword.bm25 import KeywordIndex
from assistant.keyword.lexicon import build_bridge
from assistant.keyword.terms import fold, stem, tokenize
from assistant.search.retriever import fuse


@pytest.mark.parametrize(
    "text, expected",
    [
        ("世界互聯網大會", "世界互联网大会"),
        ("ＡＢＣ１２３", "abc123"),
        ("Published", "published"),
    ],
)
def test_fold(text, expected):
    assert fold(text) == expected


def test_tokenize_drops_question_words_and_adds_junctions():
    assert tokenize("信息技术为国家治理带来了什么?") == [
        "信息",
        "技术",
        "信息技术",
        "国家",
        "治理",
        "带来",
        "~家治",
        "~理带",
    ]
    assert tokenize("When was this interview published?") == ["interview", "publish"]
    assert tokenize("世界網路大會") == tokenize("世界网路大会")


def test_stem_only_touches_latin_words():
    assert [stem("organizations"), stem("2022"), stem("会员")] == ["organiz", "2022", "会员"]


def test_bridge_maps_english_stems_to_chinese_words_in_the_corpus():
    bridge = build_bridge({"会员", "平台", "峰会", "秘书长", "天气"})
    assert "会员" in bridge["member"] and "平台" in bridge["platform"] and "峰会" in bridge["summit"]
    assert all(len(w) > 1 for targets in bridge.values() for w in targets)
    assert "cake" not in bridge


def test_bridge_maps_chinese_words_to_english_words_in_the_corpus():
    bridge = build_bridge({"member", "platform", "weather"})
    assert "member" in bridge["会员"] and "weather" in bridge["天气"]


def test_bridge_from_lookup_tables_equals_one_pass_over_the_dictionary():
    """The bridge is built from per-word lookup tables; a pass over every dictionary entry is the reference."""
    from assistant.keyword.lexicon import MAX_TRANSLATIONS, _dictionary

    from .conftest import SEEDS

    text = " ".join(path.read_text("utf-8") for path in SEEDS.glob("*.txt"))
    vocabulary = set(tokenize(text + " members platform weather summit tea organization founded"))
    ranked = {}
    for zh, _, glosses in _dictionary():
        for gloss in glosses:
            if len(zh) > 1 and zh in vocabulary:
                for word in gloss:
                    ranked.setdefault(word, []).append((len(gloss), zh))
            for word in gloss:
                if word in vocabulary:
                    ranked.setdefault(zh, []).append((len(gloss), word))
    expected = {}
    for key, targets in ranked.items():
        chosen = list(dict.fromkeys(t for _, t in sorted(targets) if t != key))[:MAX_TRANSLATIONS]
        if chosen:
            expected[key] = chosen
    assert len(expected) > 500 and "summit" in expected and "会员" in expected
    assert build_bridge(vocabulary, names=False) == expected


def test_keyword_scores_are_the_share_of_idf_mass_matched():
    index = KeywordIndex.build(["乌镇峰会在浙江乌镇举行。", "会员来自二十五个国家。", "完全无关的内容。"], bridge=False)
    full = index.scores(tokenize("乌镇峰会"))
    assert full.argmax() == 0 and 0.5 < full[0] <= 1.0
    half = index.scores(tokenize("乌镇峰会 北京天气"))  # unknown words count against the match
    assert half[0] < full[0] and half[2] == 0


def test_english_question_matches_chinese_passage_through_the_bridge():
    index = KeywordIndex.build(["目前已有近130家会员加入。", "乌镇峰会是交流的平台。"])
    scores = index.scores(tokenize("How many members?"))
    assert scores.argmax() == 0 and scores[0] > 0
    assert index.language == "zh" and index.is_foreign("How many members?") and not index.is_foreign("会员")


def test_names_in_pinyin_reach_the_chinese_names_of_the_corpus():
    """English writes Chinese names in pinyin: a proper noun of the dictionary (习近平, 杭州) or a word it lacks (乌镇,
    尼山) is reached by its spelling, also written as two words; a common word (平台) is not."""
    texts = ["尼山对话在山东曲阜举行。", "习近平在乌镇出席大会。", "杭州是浙江的城市。", "乌镇峰会是交流的平台。"]
    index = KeywordIndex.build(texts)
    assert "尼山" in index.bridge["nishan"] and "乌镇" in index.bridge["wuzhen"] and "杭州" in index.bridge["hangzhou"]
    assert "pingtai" not in index.bridge and "nishan" not in KeywordIndex.build(texts, bridge=False).bridge
    assert "nishan" not in build_bridge(set(tokenize(" ".join(texts))), names=False)
    assert index.groups(tokenize("Xi Jinping")) == [["xi", "jinp", "习近平"]]
    assert index.groups(tokenize("Where is Wu Zhen? Wuzhen")) == [["wu", "zhen", "乌镇"], ["wuzhen", "乌镇"]]
    for question, best in (("Where was the Nishan dialogue held?", 0), ("Where did Xi Jinping go?", 1)):
        scores = index.scores(tokenize(question))
        assert scores.argmax() == best and scores[best] > 2 * np.delete(scores, best).max(), question


def test_a_bridge_saved_before_pinyin_names_is_made_again_on_load(tmp_path):
    import json

    index = KeywordIndex.build(["尼山对话在山东曲阜举行。", "乌镇峰会是交流的平台。"])
    index.save(tmp_path)
    meta = json.loads((tmp_path / "keyword.json").read_text())
    meta["bridge"] = {k: v for k, v in meta["bridge"].items() if k not in ("nishan", "wuzhen")}
    (tmp_path / "keyword.json").write_text(json.dumps(meta, ensure_ascii=False))
    assert KeywordIndex.load(tmp_path).bridge == meta["bridge"]  # this version's: read as saved
    del meta["bridge_version"]
    (tmp_path / "keyword.json").write_text(json.dumps(meta, ensure_ascii=False))
    assert KeywordIndex.load(tmp_path).bridge == index.bridge and "尼山" in index.bridge["nishan"]


def test_cross_language_fusion_halves_the_keyword_weight():
    dense, keyword = np.array([0.4]), np.array([0.8])
    assert fuse(dense, keyword, alpha=0.5)[0] == pytest.approx(0.6)
    assert fuse(dense, keyword, alpha=0.5, cross_language=True)[0] == pytest.approx(0.75 * 0.4 + 0.25 * 0.8)
    assert fuse(dense, keyword, alpha=0.0, cross_language=True)[0] == pytest.approx(0.8)


@pytest.mark.parametrize(
    "text",
    [
        "世界互联网大会国际组织于2022年7月12日在北京正式成立",
        "中华人民共和国国务院新闻办公室发布会",
        "乌镇峰会 WIC 2024",
    ],
)
def test_search_words_from_one_cut_equal_jiebas_search_mode(text):
    import jieba

    from assistant.keyword.terms import _search_words, _segmenter

    rjieba = _segmenter()
    assert (
        _search_words(rjieba.cut(text), rjieba.has_word) == rjieba.cut_for_search(text) == jieba.lcut_for_search(text)
    )


def test_jieba_rs_cuts_as_python_jieba_on_real_text():
    import json

    import jieba

    from assistant.keyword.terms import _segmenter, _split_signs, fold

    from .conftest import DATA, SEEDS

    rjieba = _segmenter()
    texts = [line for path in SEEDS.glob("*.txt") for line in path.read_text("utf-8").splitlines() if line.strip()]
    data = json.loads((DATA / "cmrc2018_trial.json").read_text("utf-8"))["data"]
    texts += [p["context"] for article in data for p in article["paragraphs"]]
    texts += ["1988-89赛季", "约0.5-2毫米", "Förderverein e.V.成立", "MonoDevelop支持C++和C#"]
    folded = [fold(t) for t in texts]
    same = sum(_split_signs(rjieba.cut(t), rjieba.has_word) == jieba.lcut(t) for t in folded)
    assert same == len(folded), f"{len(folded) - same} of {len(folded)} texts are cut otherwise"


def test_dictionary_cache_is_used_and_a_damaged_one_is_rebuilt(tmp_path, monkeypatch):
    import marshal

    from assistant.keyword import lexicon

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    source = lexicon.cedict_path()
    cache = lexicon._cache_path(source)
    assert cache.parent == tmp_path / "assistant"
    lexicon._dictionary.cache_clear()
    parsed = lexicon._dictionary()
    assert cache.exists() and len(parsed) > 50_000
    fake = (("假", ("jia",), (("fake",),)),)
    cache.write_bytes(marshal.dumps(fake))  # a cache that someone else wrote is read as it is
    lexicon._dictionary.cache_clear()
    assert lexicon._dictionary() == fake
    cache.write_bytes(marshal.dumps(fake)[:-3])  # truncated
    lexicon._dictionary.cache_clear()
    assert lexicon._dictionary() == parsed
    cache.write_bytes(marshal.dumps({"not": "rows"}))
    lexicon._dictionary.cache_clear()
    assert lexicon._dictionary() == parsed
    lexicon._dictionary.cache_clear()


def test_to_simplified_and_the_share_of_traditional_characters():
    from assistant.keyword.terms import to_simplified, traditional_share

    assert to_simplified("世界互联網大會國際組織是什麼時候成立的?") == "世界互联网大会国际组织是什么时候成立的?"
    assert to_simplified("When was it founded? 成立") == "When was it founded? 成立"
    assert traditional_share("世界互联网大会国际组织") == 0.0 and traditional_share("no Chinese") == 0.0
    assert traditional_share("世界互聯網大會國際組織") > 0.3


def _tokenize_reference(text, stopwords):
    """The tokenizer's definition, word by word over the whole text (no per-word cache)."""
    import re

    from assistant.keyword.terms import _TOKEN_OK, _search_words, _segmenter, _split_signs

    cjk = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
    jieba = _segmenter()
    pieces = _split_signs(jieba.cut(fold(text)), jieba.has_word)
    words = (w.strip() for w in _search_words(pieces, jieba.has_word))
    tokens = [stem(w) for w in words if w and w not in stopwords and _TOKEN_OK.search(w)]
    for a, b in zip(pieces, pieces[1:], strict=False):
        if a not in stopwords and b not in stopwords and cjk.match(a[-1]) and cjk.match(b[0]):
            tokens.append(f"~{a[-1]}{b[0]}")
    return tokens


def test_tokens_from_the_per_word_cache_equal_the_definition_on_real_text(monkeypatch):
    import json

    from assistant.keyword import terms

    from .conftest import DATA, SEEDS

    texts = [line for path in SEEDS.glob("*.txt") for line in path.read_text("utf-8").splitlines()]
    data = json.loads((DATA / "cmrc2018_trial.json").read_text("utf-8"))["data"]
    texts += [p["context"] for article in data[:60] for p in article["paragraphs"]]
    texts += ["x光 A股 中x 中国a x光机", "1988-89赛季 e.V. 3.5% U.S.A.", "的的 the 了", " ", ""]
    monkeypatch.setattr(terms, "_BY_STOPWORDS", {})
    for stopwords in (terms.STOPWORDS, frozenset({"世界", "x"})):
        cold = [tokenize(t, stopwords=stopwords) for t in texts]
        warm = [tokenize(t, stopwords=stopwords) for t in texts]
        assert cold == warm == [_tokenize_reference(t, stopwords) for t in texts]
    assert tokenize("世界互联网", junctions=False) == ["世界", "互联", "联网", "互联网"]
    small = terms._Words(terms.STOPWORDS, limit=5)  # a long tail is dropped, not kept forever
    for word in "一二三四五六七八":
        small[word]
    assert len(small) <= 5


def test_a_name_jieba_cuts_after_its_surname_is_reached_by_its_whole_spelling():
    """jieba cuts 任贤良 as 任|贤良 (贤良 is a dictionary word, "virtuous"): the name in pinyin reaches the junction
    bigram across that cut, the only token of the corpus that stands for the name; 贤良 alone is not linked (a
    common word)."""
    texts = ["受访者简介:任贤良,世界互联网大会秘书长。", "乌镇峰会是交流的平台。", "这项任务很重,要选贤良之人。"]
    assert {"任", "贤良", "~任贤"} <= set(tokenize(texts[0])) and "任贤良" not in tokenize(texts[0])
    index = KeywordIndex.build(texts)
    assert index.bridge["renxianliang"] == ["~任贤"] and "xianliang" not in index.bridge
    assert index.groups(tokenize("Who is Ren Xianliang?")) == [["ren", "xianliang", "~任贤"]]
    scores = index.scores(tokenize("Who is Ren Xianliang?"))
    assert scores.argmax() == 0 and scores[0] > 0 and scores[1] == scores[2] == 0
    assert "renxianliang" not in KeywordIndex.build(texts, bridge=False).bridge


def test_a_question_is_translated_word_by_word_into_the_corpus_words_of_the_other_language():
    """``translation``: each question word's first corpus translations, a number as it is, a name cut after its
    surname as the characters of the bigram across the cut; joined as the target language writes (no spaces in
    Chinese); empty when no word has one."""
    index = KeywordIndex.build(["目前已有近130家会员加入。", "受访者简介:任贤良,世界互联网大会秘书长。"])
    text = index.translation(tokenize("How many members joined in 2015?"))
    assert "会员" in text and "加入" in text and text.endswith("2015") and " " not in text
    assert index.translation(tokenize("Who is Ren Xianliang?")) == "任贤"
    assert index.translation(tokenize("sourdough starter")) == ""
    assert len(index.translation(tokenize("members"), per_word=1)) == 2
    english = KeywordIndex.build(["Members of the organization joined in 2022.", "Bread needs flour and water."])
    assert set(english.translation(tokenize("会员加入")).split(" ")) >= {"member", "join"}
