"""Sentence vectors at any size (issue 19): kept as 8-bit codes per segment, never switched off by a large
upload; indexes saved before (format 9: one float32 file) still load and update."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from assistant.api import Assistant
from assistant.search import known_sentence_vectors, retrieve
from assistant.search.retriever import best_sentence_scores
from assistant.storage.sentences import SentenceBlock, SentenceVectors, quantize, sentence_files
from assistant.text import file_digests, passage_sentences

from .conftest import SEEDS, FakeEncoder, write, write_docs

OLD_LIMIT = 2_000  # passages above which sentence vectors used to be switched off for the whole index


def filler(passages: int) -> str:
    """``passages`` paragraphs of two sentences each about something else than the seed."""
    return "\n\n".join(f"第{i}号仓库存放着{i}箱苹果和梨。仓库管理员每周清点货架{i}一次。" for i in range(passages))


def test_quantized_vectors_keep_their_cosines():
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(200, 512)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    query = vectors[7] + 0.5 * rng.normal(size=512).astype(np.float32) / np.sqrt(512)
    counts = np.array([3, 0, 5] * 10 + [120], dtype=np.int64)
    store = SentenceVectors.split(SentenceBlock.of(vectors, counts), [10, 21], 512)
    assert len(store) == 200 and store.passages == 31 and store.blocks[0].codes.dtype == np.int8
    rows = np.arange(200)
    np.testing.assert_allclose(store.scores(rows, query), vectors @ query, atol=2e-3)
    assert np.argmax(store.scores(rows, query)) == 7
    np.testing.assert_allclose(store.of_passage(2), vectors[3:8], atol=1e-2)
    assert store.of_passage(1).shape == (0, 512)
    codes, scales = quantize(np.zeros((2, 4), np.float32))  # a zero vector stays zero (no division by 0)
    assert not codes.any() and np.all(scales == 1)


@pytest.fixture
def large(tmp_path):
    """The seed beside an unrelated upload of more passages than the old limit."""
    corpus = tmp_path / "docs"
    shutil.copytree(SEEDS, corpus)
    write(corpus, "upload/warehouse.txt", filler(OLD_LIMIT + 100))
    return corpus


def test_a_large_upload_keeps_the_seed_passages_re_scored_by_their_sentences_and_updates(large):
    encoder = FakeEncoder()
    bot = Assistant(large, encoder=encoder)
    index = bot.refresh()
    assert len(index.passages) > OLD_LIMIT + 100 and index.manifest["sentence_vectors"] is True
    offsets = index.sentence_vectors.offsets
    for row, passage in enumerate(index.passages):  # every passage of two sentences or more has them
        assert offsets[row + 1] - offsets[row] == len(passage_sentences(passage))
    question = "世界互联网大会国际组织有多少会员?"
    (retrieval,) = retrieve(index, encoder, [question])
    top = retrieval.hits[0]
    assert top.passage.source.startswith("wuzhen")
    # the hit's dense score is the mean of its own cosine and its best sentence's, from vectors made here
    query = encoder.encode([question])[0]
    whole = float(encoder.encode([top.passage.text])[0] @ query)
    sentences = passage_sentences(top.passage)
    assert len(sentences) >= 2
    best = float((encoder.encode(sentences) @ query).max())
    assert best != pytest.approx(whole, abs=0.01)  # so the check below tells the two stages apart
    assert top.dense_score == pytest.approx((whole + best) / 2, abs=0.01)
    assert not np.isnan(best_sentence_scores(index, np.array([top.row]), query)).any()
    known = known_sentence_vectors(index, retrieval.hits)  # the answer sentence step reads them too
    assert set(sentences) <= set(known)
    np.testing.assert_allclose(known[sentences[0]], encoder.encode([sentences[0]])[0], atol=0.01)

    # adding a file to the large index encodes that file only, and keeps the others' sentence vectors
    first = index
    write(large, "upload/notes.txt", "乌镇的会员活动日在每年十一月举行。活动日邀请所有会员单位参加。\n")
    encoder = FakeEncoder()
    updated = Assistant(large, encoder=encoder).refresh()
    assert updated.encoded == 1 and sum(encoder.calls) == 3  # the passage and its two sentences
    assert len(updated.sentence_vectors) == len(first.sentence_vectors) + 2
    kept = [i for i, p in enumerate(updated.passages) if p.source != "upload/notes.txt"]
    np.testing.assert_allclose(
        np.concatenate([updated.sentence_vectors.of_passage(i) for i in kept]), first.sentence_vectors.array()
    )


def as_format_9(folder) -> None:
    """Rewrite a saved version the way format 9 kept sentence vectors: one float32 file and their offsets."""
    manifest = json.loads((folder / "manifest.json").read_text())
    names = [s["name"] for s in manifest["segments"]]
    store = SentenceVectors.load(folder, names, manifest["dimension"])
    np.save(folder / "sentence_vectors.npy", store.array())
    np.save(folder / "sentence_offsets.npy", store.offsets)
    for name in names:
        for file in sentence_files(name):
            (folder / file).unlink()
            del manifest["checksums"][file]
    new = ["sentence_vectors.npy", "sentence_offsets.npy"]
    manifest["checksums"].update(zip(new, file_digests([folder / n for n in new]), strict=True))
    manifest["format_version"] = 9
    (folder / "manifest.json").write_text(json.dumps(manifest))


def test_an_index_saved_in_format_9_loads_without_encoding_and_updates(tmp_path):
    corpus = write_docs(
        tmp_path / "docs",
        {
            "wic.txt": "世界互联网大会国际组织于2022年7月12日在北京成立。总部设在中国北京。\n\n"
            "目前已有来自25个国家和地区的近130家会员单位加入。会员包括企业和大学。\n",
            "tea.md": "# Tea\n\nGreen tea is brewed at 80 degrees. Black tea wants boiling water.\n",
        },
    )
    built = Assistant(corpus, encoder=FakeEncoder()).refresh()
    before = built.sentence_vectors.array()
    as_format_9(built.folder)
    encoder = FakeEncoder()
    old = Assistant(corpus, encoder=encoder).refresh()
    assert old.manifest["format_version"] == 9 and old.encoded == 0 and encoder.calls == []
    np.testing.assert_allclose(old.sentence_vectors.array(), before, atol=1e-2)
    assert Assistant(corpus, encoder=FakeEncoder()).ask("有多少会员单位?").hits[0].passage.source == "wic.txt"
    write(corpus, "more.txt", "乌镇峰会每年在浙江举办。嘉宾来自很多国家。\n")
    encoder = FakeEncoder()
    updated = Assistant(corpus, encoder=encoder).refresh()
    assert updated.encoded == 1 and updated.manifest["format_version"] == 10
    assert all((updated.folder / f).exists() for name, _ in updated.segments for f in sentence_files(name))
    assert not (updated.folder / "sentence_vectors.npy").exists()
    np.testing.assert_allclose(updated.sentence_vectors.array()[: len(before)], before, atol=1e-2)


def test_a_format_9_index_without_sentence_vectors_gets_them_keeping_its_passage_vectors(tmp_path):
    """As a format 9 index of more than 2,000 passages was saved: no sentence vectors at all."""
    corpus = write_docs(
        tmp_path / "docs",
        {"wic.txt": "国际组织于2022年在北京成立。总部设在北京。\n\n会员单位近130家。会员包括大学。\n"},
    )
    built = Assistant(corpus, encoder=FakeEncoder(), sentence_vectors="off").refresh()
    assert len(built.sentence_vectors) == 0
    as_format_9(built.folder)
    encoder = FakeEncoder()
    upgraded = Assistant(corpus, encoder=encoder).refresh()
    assert upgraded.manifest["sentence_vectors"] is True and upgraded.manifest["format_version"] == 10
    assert len(upgraded.sentence_vectors) == sum(len(passage_sentences(p)) for p in upgraded.passages) == 4
    np.testing.assert_array_equal(upgraded.vectors_array(), built.vectors_array())
    assert Assistant(corpus, encoder=FakeEncoder()).refresh().encoded == 0  # saved: loaded as it is next time
