"""The Milvus store against Milvus Lite's real engine (Milvus's C++ core behind its gRPC protocol)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from assistant.api import Assistant
from assistant.errors import MilvusStoreError

from .conftest import DATA, ROOT, SEEDS, FakeEncoder, assert_one_clear_sentence, free_port, write, write_docs

pytestmark = pytest.mark.slow
pytest.importorskip(
    "pymilvus", reason="the Milvus store's client is not installed: pip install -r requirements-milvus.txt"
)
pytest.importorskip("milvus_lite", reason="Milvus Lite is not installed: pip install -r requirements-milvus.txt")

DOCS = {
    "bread.txt": "Sourdough\n\nSourdough bread rises with wild yeast.\n\nIt is baked at 230 degrees for 40 minutes.",
    "tea.md": "# Tea\n\nGreen tea is steamed or pan-fired.\n\nOolong is partly oxidised.",
    "乌镇.txt": "乌镇峰会\n\n世界互联网大会的年度峰会在浙江乌镇举行。\n\n2022年7月12日,国际组织在北京成立。",
}
QUESTIONS = ["How long is sourdough baked?", "What is oolong?", "峰会在哪里举行?", "国际组织什么时候成立?"]


def cited(hits) -> list[tuple[str, int, int]]:
    return [(h.passage.source, h.passage.paragraph, h.passage.part) for h in hits]


def stored(bot: Assistant) -> tuple[int, list[str]]:
    """(rows in the passages collection, the ids of the passages loaded from it)."""
    dense = bot.index.dense
    return dense.count(), dense.ids


def test_milvus_finds_the_passages_the_local_store_finds(tmp_path):
    docs = write_docs(tmp_path / "docs", DOCS)
    local = Assistant(docs, encoder=FakeEncoder(), index_root=tmp_path / "local")
    milvus = Assistant(docs, encoder=FakeEncoder(), milvus=str(tmp_path / "m" / "docs.db"))
    for mine, theirs in zip(milvus.search(QUESTIONS), local.search(QUESTIONS), strict=True):
        assert cited(mine) == cited(theirs)
        assert [round(h.score, 4) for h in mine] == [round(h.score, 4) for h in theirs]
    assert milvus.index.manifest["store"] == "milvus"
    assert stored(milvus)[0] == len(milvus.index.passages) == len(local.index.passages) == 4
    assert list(milvus.index.passages) == list(local.index.passages)  # the same rows, citations and all
    # a hit carries its citation from the collection: no local file is needed
    assert milvus.ask("How long is sourdough baked?").hits[0].passage.citation == "¶1–3"


def test_a_changed_and_a_deleted_file_update_the_collection(tmp_path):
    docs = write_docs(tmp_path / "docs", DOCS)
    uri = str(tmp_path / "m" / "docs.db")
    Assistant(docs, encoder=FakeEncoder(), milvus=uri).refresh()
    write(docs, "tea.md", "# Tea\n\nGreen tea is steamed.\n\nOolong is partly oxidised.\n\nPu-erh is fermented.")
    (docs / "bread.txt").unlink()
    bot = Assistant(docs, encoder=FakeEncoder(), milvus=uri)
    index = bot.refresh()
    count, ids = stored(bot)
    local = Assistant(docs, encoder=FakeEncoder(), index_root=tmp_path / "local").index
    assert index.encoded == sum(p.source == "tea.md" for p in local.passages)  # tea.md's passages only
    assert count == len(ids) == len(set(ids)) == len(local.passages)
    assert list(index.passages) == list(local.passages)
    assert bot.search(["Pu-erh"])[0][0].passage.source == "tea.md"
    assert Assistant(docs, encoder=FakeEncoder(), milvus=uri).refresh().encoded == 0  # nothing changed since


def test_an_update_interrupted_before_its_manifest_is_redone_without_duplicates(tmp_path):
    from assistant.storage.milvus_client import MilvusStore, Names, check_uri, collection_name

    docs = write_docs(tmp_path / "docs", DOCS)
    uri = str(tmp_path / "m" / "docs.db")
    first = Assistant(docs, encoder=FakeEncoder(), milvus=uri).refresh().manifest
    write(docs, "bread.txt", "Sourdough\n\nRye sourdough is denser.")
    Assistant(docs, encoder=FakeEncoder(), milvus=uri).refresh()
    # the rows were written but the manifest was not: the collection says the update never finished
    store = MilvusStore(check_uri(uri)[0])
    store.write_manifest(Names(collection_name(docs, "fake-bigrams")), first)
    bot = Assistant(docs, encoder=FakeEncoder(), milvus=uri)
    assert bot.refresh().encoded == 1
    count, ids = stored(bot)
    assert count == len(ids) == len(set(ids)) == len(first["files"]) + 1  # bread.txt now has one passage more


def test_another_model_is_refused_in_one_sentence(tmp_path):
    docs = write_docs(tmp_path / "docs", DOCS)
    uri = str(tmp_path / "m" / "docs.db") + "#shared"
    Assistant(docs, encoder=FakeEncoder("model-a"), milvus=uri).refresh()
    with pytest.raises(MilvusStoreError) as refused:
        Assistant(docs, encoder=FakeEncoder("model-b"), milvus=uri).refresh()
    assert_one_clear_sentence(str(refused.value), "model-a (dimension 1024)", "use that model or another collection")


@pytest.mark.parametrize(
    ("uri", "words"),
    [
        ("ftp://example.com/x", ("not a Milvus address", ".db")),
        ("index.sqlite", ("not a Milvus address",)),
        ("x.db#no-dashes", ("cannot name a Milvus collection",)),
        (f"http://127.0.0.1:{free_port()}", ("cannot be reached", "--milvus")),
    ],
)
def test_a_bad_uri_is_one_sentence(tmp_path, uri, words):
    docs = write_docs(tmp_path / "docs", DOCS)
    with pytest.raises(MilvusStoreError) as failed:
        Assistant(docs, encoder=FakeEncoder(), milvus=uri).refresh()
    assert_one_clear_sentence(str(failed.value), *words)
    assert not (tmp_path / "embeddings").exists()  # the local index is never touched


def test_both_dense_sides_meet_the_one_interface(tmp_path):
    import numpy as np

    from assistant.dense import DenseIndex, DenseSide

    docs = write_docs(tmp_path / "docs", DOCS)
    milvus = Assistant(docs, encoder=FakeEncoder(), milvus=str(tmp_path / "m" / "docs.db")).index
    faiss = DenseIndex.build(milvus.vectors_array())
    assert isinstance(faiss, DenseSide) and isinstance(milvus.dense, DenseSide)
    queries = milvus.vectors_array()[[2, 0]]
    assert milvus.dense.search(queries, k=3)[0].tolist() == faiss.search(queries, k=3)[0].tolist()
    assert milvus.dense.count() == faiss.count() == 4
    assert milvus.dense.describe()["metric"] == faiss.describe()["metric"] == "inner_product"
    with pytest.raises(MilvusStoreError, match="python -m assistant index --milvus"):
        milvus.dense.add(np.zeros((1, 1024), np.float32))


def test_seed_dev_questions_find_the_same_passages_with_the_real_model(tmp_path):
    questions = [json.loads(line)["question"] for line in (DATA / "seed_dev_questions.jsonl").read_text().splitlines()]
    local = Assistant(SEEDS, index_root=tmp_path / "local")
    milvus = Assistant(SEEDS, encoder=local.encoder, milvus=str(tmp_path / "m" / "seeds.db"))
    assert [cited(hits) for hits in milvus.search(questions)] == [cited(hits) for hits in local.search(questions)]
    assert [milvus.ask(q).found for q in questions] == [local.ask(q).found for q in questions]


def test_cli_indexes_into_and_answers_from_milvus(tmp_path):
    uri = str(tmp_path / "x" / "seeds.db")

    def cli(*argv):
        return subprocess.run(
            [sys.executable, "-m", "tests.fake_cli", *argv], cwd=ROOT, capture_output=True, text=True, timeout=300
        )

    done = cli("index", str(SEEDS), "--milvus", uri, "--json")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["passages"] == 26 and "collection" in summary["index"]
    done = cli("ask", "世界互联网大会国际组织是什么时候成立的?", "--corpus", str(SEEDS), "--milvus", uri, "--json")
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["found"] and answer["passages"][0]["source"] == "wuzhen_summit_ten_years_interview.txt"
    assert not (tmp_path / "embeddings").exists()
