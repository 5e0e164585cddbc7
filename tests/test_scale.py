"""Index choice by size, approximate recall, keyword counts reuse, vectorised scoring and incremental updates."""

import json

import bm25s
import numpy as np
import pytest

from assistant.api import Assistant
from assistant.dense.faiss_index import EXACT_LIMIT, DenseIndex, choose_kind, choose_spec, recall_at, reuse_or_build
from assistant.keyword.bm25 import KeywordIndex, count_terms, stack_counts
from assistant.keyword.terms import tokenize_many
from assistant.storage import Index
from assistant.storage.sentences import SentenceBlock, SentenceVectors
from assistant.text import passage_sentences

from .conftest import FakeEncoder, dense_scores, write, write_docs


def clustered(n: int, dimension: int = 64, clusters: int = 50, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Normalised vectors around random centres (as real embeddings cluster by topic), and queries near them."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(clusters, dimension)).astype(np.float32)
    points = centres[rng.integers(0, clusters, n)] + 0.35 * rng.normal(size=(n, dimension)).astype(np.float32)
    queries = centres[rng.integers(0, clusters, 200)] + 0.35 * rng.normal(size=(200, dimension)).astype(np.float32)
    points /= np.linalg.norm(points, axis=1, keepdims=True)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    return points, queries


@pytest.mark.parametrize(
    "size, kind, expected",
    [(10, "auto", "flat"), (EXACT_LIMIT, "auto", "flat"), (EXACT_LIMIT + 1, "auto", "ivf"), (10, "hnsw", "hnsw")],
)
def test_index_kind_follows_size_unless_overridden(size, kind, expected):
    assert choose_kind(size, kind) == expected


def test_unknown_kind_is_refused():
    with pytest.raises(ValueError, match="unknown dense index kind"):
        choose_kind(10, "annoy")


def test_ivf_parameters_grow_with_size_and_can_be_overridden():
    small, large = choose_spec(100_000), choose_spec(1_000_000)
    assert (small.kind, large.kind) == ("ivf", "ivf")
    assert small.params["nlist"] < large.params["nlist"] and small.params["quantizer"] == "sq8"
    assert choose_spec(1_000_000, nprobe=7).params["nprobe"] == 7


@pytest.mark.parametrize("kind, params", [("ivf", {"nlist": 64, "nprobe": 8}), ("hnsw", {})])
def test_approximate_index_recall_at_10_against_exact(kind, params):
    points, queries = clustered(8000)
    approx = DenseIndex.build(points, kind=kind, **params)
    assert approx.size == len(points) and approx.kind == kind
    assert recall_at(approx, points, queries, k=10) >= 0.95


def test_saved_ivf_index_loads_memory_mapped_with_its_search_parameters(tmp_path):
    points, queries = clustered(4000)
    index = DenseIndex.build(points, kind="ivf", nlist=32, nprobe=4)
    index.save(tmp_path / "dense.faiss")
    loaded = DenseIndex.load(tmp_path / "dense.faiss", "ivf", index.params, mmap=True)
    assert loaded.size == 4000
    np.testing.assert_array_equal(loaded.search(queries, k=5)[0], index.search(queries, k=5)[0])


@pytest.mark.parametrize("mmap", [False, True])
def test_ivf_update_reuses_the_trained_centroids(tmp_path, mmap):
    points, queries = clustered(4000)
    old = DenseIndex.build(points[:3000], kind="ivf", nlist=32, nprobe=8)
    if mmap:  # as loaded from a saved large index
        old.save(tmp_path / "dense.faiss")
        old = DenseIndex.load(tmp_path / "dense.faiss", "ivf", old.params, mmap=True)
    spec = choose_spec(4000, "ivf", nlist=40, nprobe=8)
    updated = reuse_or_build(old, points, spec)
    assert updated.size == 4000 and updated.params["nlist"] == 32  # close enough in size: no k-means again
    assert recall_at(updated, points, queries, k=10) >= 0.95
    assert old.size == 3000 and old.search(queries[:3], k=3)[0].min() >= 0  # the old index is left intact


def test_keyword_weights_equal_bm25s_from_tokens():
    rng = np.random.default_rng(3)
    words = [f"w{i}" for i in range(200)]
    docs = [[words[j] for j in rng.integers(0, rng.integers(5, 200), rng.integers(1, 40))] for _ in range(300)]
    reference = bm25s.BM25(k1=1.2, b=0.75, method="lucene")
    reference.index(docs, show_progress=False)
    vocab: dict[str, int] = {}
    ours = KeywordIndex.from_counts(count_terms(docs, vocab), vocab)
    for query in (["w1", "w2"], ["w150", "w7"], ["w0"]):
        expected = reference.get_scores_from_ids([reference.vocab_dict[w] for w in query])
        got = ours.bm25([vocab[w] for w in query])
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("merge_at", [None, 1, 2])
def test_keyword_segments_score_as_one_index_of_all_rows(tmp_path, merge_at):
    rng = np.random.default_rng(4)
    words = [f"w{i}" for i in range(300)]
    docs = [[words[j] for j in rng.integers(0, rng.integers(5, 300), rng.integers(1, 40))] for _ in range(400)]
    reference = bm25s.BM25(k1=1.2, b=0.75, method="lucene")
    reference.index(docs, show_progress=False)
    vocab: dict[str, int] = {}
    index = KeywordIndex.from_counts(count_terms(docs[:100], vocab), dict(vocab))
    for block in (docs[100:250], docs[250:260], docs[260:]):  # later blocks bring words the first lacks
        grown = dict(index.vocab)
        index = index.appended(count_terms(block, grown), grown, merge_from=merge_at)
    assert index.size == 400 and len(index.segments) == (4 if merge_at is None else merge_at + 1)
    assert [s.start for s in index.segments] == list(np.cumsum([0, *(s.rows for s in index.segments)])[:-1])
    index.save(tmp_path)
    loaded = KeywordIndex.load(tmp_path, mmap=True)
    for query in (["w1", "w2"], ["w280", "w7"], ["w0"], ["w250", "w3", "w3"]):
        expected = reference.get_scores_from_ids([reference.vocab_dict[w] for w in dict.fromkeys(query)])
        for ours in (index, loaded):
            got = ours.bm25([ours.vocab[w] for w in dict.fromkeys(query)])
            np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    assert (loaded.term_counts() != index.term_counts()).nnz == 0


def test_keyword_index_from_reused_rows_equals_a_fresh_one():
    texts = [
        "世界互联网大会在乌镇举办",
        "绿茶用八十度的水冲泡",
        "乌镇峰会吸引了多个国家的嘉宾",
        "Sourdough bread needs a starter",
    ]
    fresh = KeywordIndex.build(texts)
    vocab: dict[str, int] = {}
    first = count_terms([["乌镇", "峰会"], ["绿茶"]], vocab)  # older vocabulary, then more words arrive
    second = count_terms([["乌镇", "面包"]], vocab)
    stacked = stack_counts([first, second], len(vocab))
    assert stacked.shape == (3, len(vocab)) and stacked.sum() == 5
    rebuilt = KeywordIndex.from_counts(fresh.term_counts(), dict(fresh.vocab))
    for words in (["乌镇", "峰会"], ["绿茶"], ["bread"]):
        np.testing.assert_allclose(rebuilt.scores(words), fresh.scores(words))


def test_vectorised_dense_scores_match_the_per_passage_loop():
    rng = np.random.default_rng(1)
    vectors = rng.normal(size=(30, 16)).astype(np.float32)
    counts = rng.integers(0, 4, size=30)  # some passages have no sentence vectors
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    sentences = rng.normal(size=(int(offsets[-1]), 16)).astype(np.float32)
    index = Index(
        passages=[None] * 30,
        dense=None,
        keyword=None,
        manifest={},
        folder=None,
        vectors=vectors,
        sentence_vectors=SentenceVectors([SentenceBlock.of(sentences, counts)], 16),
    )
    query = rng.normal(size=16).astype(np.float32)
    ids = np.array([0, 3, 4, 9, 17, 29], dtype=np.int64)
    whole = vectors[ids] @ query
    best = [
        (sentences[offsets[i] : offsets[i + 1]] @ query).max() if counts[i] else whole[j] for j, i in enumerate(ids)
    ]
    # 8-bit codes: each cosine moves by at most half a step per component (|q| ~ 4 here)
    np.testing.assert_allclose(dense_scores(index, ids, query), (whole + np.array(best)) / 2, atol=0.02)


DOCS = {
    "a.txt": "世界互联网大会国际组织于2022年7月12日在北京正式成立。总部设在中国北京。\n"
    "目前已有来自25个国家和地区的近130家会员单位加入。\n",
    "b.md": "# Tea\n\nGreen tea is brewed at 80 degrees for two minutes. Black tea wants boiling water.\n\n"
    "Oolong tea likes hotter water.\n",
    "c.txt": "乌镇峰会每年在浙江桐乡举办，吸引众多国家的嘉宾参会。\n",
}


def test_adding_one_file_encodes_only_it_and_matches_a_full_rebuild(tmp_path):
    corpus = tmp_path / "docs"
    for name, text in DOCS.items():
        write(corpus, name, text)
    Assistant(corpus, encoder=FakeEncoder()).refresh()
    write(corpus, "d.txt", "新加入的文件讲述乌镇峰会的会员活动日安排。\n")
    encoder = FakeEncoder()
    updated = Assistant(corpus, encoder=encoder).index
    assert updated.encoded == 1 and sum(encoder.calls) == 1 + len(passage_sentences(updated.passages[-1]))
    rebuilt = Assistant(corpus, encoder=FakeEncoder()).refresh(rebuild=True)
    assert [p.text for p in updated.passages] == [p.text for p in rebuilt.passages]
    np.testing.assert_allclose(updated.vectors_array(), rebuilt.vectors_array(), atol=1e-6)
    np.testing.assert_array_equal(updated.sentence_vectors.offsets, rebuilt.sentence_vectors.offsets)
    np.testing.assert_allclose(updated.sentence_vectors.array(), rebuilt.sentence_vectors.array(), atol=1e-6)
    for words in (["乌镇", "会员"], ["tea"], ["北京"]):
        np.testing.assert_allclose(updated.keyword.scores(words), rebuilt.keyword.scores(words), rtol=1e-5)
    bot = Assistant(corpus, encoder=FakeEncoder())
    assert bot.ask("乌镇峰会的会员活动日").hits[0].passage.source == "d.txt"


def test_sentence_vectors_are_automatic_only_when_the_encoder_pools_them(tmp_path):
    class SeparateSentences(FakeEncoder):
        pools_spans = False  # like MiniLM: each sentence would be encoded again, on its own

    corpus = write_docs(tmp_path / "docs", DOCS)
    encoder = SeparateSentences()
    auto = Assistant(corpus, encoder=encoder).index
    assert auto.manifest["sentence_vectors"] is False and len(auto.sentence_vectors) == 0
    assert sum(encoder.calls) == len(auto.passages)  # the passages alone were encoded
    on = Assistant(corpus, encoder=SeparateSentences(), sentence_vectors="on").index
    assert on.manifest["sentence_vectors"] is True and len(on.sentence_vectors) > len(on.passages)
    assert Assistant(corpus, encoder=SeparateSentences()).index.manifest["sentence_vectors"] is False  # rebuilt


def test_sentence_vectors_follow_the_setting_and_are_recorded(tmp_path):
    corpus = tmp_path / "docs"
    for name, text in DOCS.items():
        write(corpus, name, text)
    on = Assistant(corpus, encoder=FakeEncoder()).index
    assert on.manifest["sentence_vectors"] is True and len(on.sentence_vectors) > 0
    encoder = FakeEncoder()
    off = Assistant(corpus, encoder=encoder, sentence_vectors="off").index
    assert off.manifest["sentence_vectors"] is False and len(off.sentence_vectors) == 0
    assert off.encoded == 0 and sum(encoder.calls) == 0  # dropping them re-encodes nothing
    saved = json.loads((off.folder / "manifest.json").read_text())
    assert saved["sentence_vectors"] is False and saved["dense"] == {
        "kind": "flat",
        "metric": "inner_product",
        "params": {},
    }
    again = Assistant(corpus, encoder=FakeEncoder()).index
    np.testing.assert_allclose(again.sentence_vectors.array(), on.sentence_vectors.array(), atol=1e-6)


def test_dense_kind_override_is_recorded_and_used(tmp_path):
    corpus = tmp_path / "docs"
    for name, text in DOCS.items():
        write(corpus, name, text)
    index = Assistant(corpus, encoder=FakeEncoder(), dense_kind="hnsw").index
    assert index.manifest["dense"]["kind"] == "hnsw" and index.manifest["dense"]["params"]["m"] == 32
    loaded = Assistant(corpus, encoder=FakeEncoder(), dense_kind="hnsw").index
    assert loaded.dense.kind == "hnsw" and loaded.encoded == 0


def test_top_k_returns_the_largest_positive_scores_best_first():
    from assistant.keyword.bm25 import top_k

    scores = np.array([0.0, 0.5, -1.0, 0.9, 0.5, 0.0, 0.1], dtype=np.float32)
    assert top_k(scores, 3)[0].tolist() == [3, 1, 4]
    assert top_k(scores, 10)[0].tolist() == [3, 1, 4, 6]
    assert top_k(np.zeros(5, np.float32), 2)[0].tolist() == []


def test_keyword_scores_equal_bm25s_summation_after_normalisation():
    texts = ["世界互联网大会在乌镇举办", "乌镇峰会吸引了多个国家的嘉宾", "绿茶用八十度的水冲泡", "乌镇 乌镇 水乡"]
    index = KeywordIndex.build(texts)
    words = ["乌镇", "嘉宾", "不存在的词"]
    reference = bm25s.BM25(k1=1.2, b=0.75, method="lucene")
    reference.index(tokenize_many(texts), show_progress=False)
    ids = [reference.vocab_dict[w] for w in words if w in reference.vocab_dict]
    total = sum(index.idf(w) or index.unknown_idf() for w in words)
    expected = np.minimum(reference.get_scores_from_ids(ids) / total, 1.0)
    np.testing.assert_allclose(index.scores(words), expected, rtol=1e-6)
    assert index.scores(words)[2] == 0 and index.scores(words)[1] > index.scores(words)[0] > 0
