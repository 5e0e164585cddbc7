"""Files added to an index go into a new segment; the previous version's segment files are shared, not rewritten."""

import numpy as np

from assistant.api import Assistant
from assistant.storage import IndexSettings
from assistant.storage.loading import _load_current

from .conftest import FakeEncoder, write, write_docs

DOCS = {
    "b.txt": "世界互联网大会国际组织于2022年7月12日在北京正式成立。总部设在中国北京。\n"
    "目前已有来自25个国家和地区的近130家会员单位加入。\n",
    "c.md": "# Tea\n\nGreen tea is brewed at 80 degrees for two minutes. Black tea wants boiling water.\n\n"
    "Oolong tea likes hotter water.\n",
    "d.txt": "乌镇峰会每年在浙江桐乡举办，吸引众多国家的嘉宾参会。\n",
}
NEW = {
    "a.txt": "新加入的文件讲述乌镇峰会的会员活动日安排。\n",  # sorts before the others: still appended
    "e.md": "Sourdough bread needs a starter, flour, water and salt.\n",
    "f.txt": "绿茶用八十度的水冲泡两分钟。\n",
    "g.txt": "The summit's volunteers come from Zhejiang universities.\n",
}
QUESTIONS = ["乌镇峰会的会员活动日", "green tea water", "sourdough starter", "国际组织什么时候成立", "volunteers"]


def answers(bot: Assistant) -> list[list[tuple]]:
    """Each question's hits; passages tied at score 0 are left out (ties go by row, and rows differ)."""
    hits = [bot.ask(q).hits for q in QUESTIONS]
    return [
        [(h.passage.source, h.passage.paragraph, round(h.score, 5)) for h in found if h.score > 0] for found in hits
    ]


def segment_inodes(index) -> dict[str, int]:
    return {
        p.relative_to(index.folder).as_posix(): p.stat().st_ino
        for name, _ in index.segments
        for p in index.folder.rglob(f"*{name}*")
    }


def test_an_added_file_is_a_new_segment_and_the_old_segment_files_are_shared(tmp_path):
    corpus = write_docs(tmp_path / "docs", DOCS)
    first = Assistant(corpus, encoder=FakeEncoder()).index
    shared = segment_inodes(first)
    assert len(shared) == 9  # passages, vectors, three sentence-vector arrays and four keyword arrays
    write(corpus, "a.txt", NEW["a.txt"])
    encoder = FakeEncoder()
    bot = Assistant(corpus, encoder=encoder)
    added = bot.index
    assert added.encoded == 1 and len(added.segments) == 2 and added.folder != first.folder
    assert [p.source for p in added.passages][-1] == "a.txt"  # after the old rows, not in name order
    assert {f: ino for f, ino in segment_inodes(added).items() if f in shared} == shared  # the same files
    assert bot.ask("乌镇峰会的会员活动日").hits[0].passage.source == "a.txt"
    loaded = _load_current(added.folder.parent, FakeEncoder())
    assert loaded.segments == added.segments
    np.testing.assert_array_equal(loaded.vectors_array(), added.vectors_array())
    rows = np.array([0, len(added.passages) - 1, 2])
    np.testing.assert_array_equal(loaded.vector_rows(rows), added.vectors_array()[rows])
    assert [len(b.counts) for b in loaded.sentence_vectors.blocks] == [rows for _, rows in loaded.segments]
    np.testing.assert_array_equal(loaded.sentence_vectors.array(), added.sentence_vectors.array())


def test_many_added_files_are_merged_and_answer_as_a_full_rebuild(tmp_path):
    corpus = write_docs(tmp_path / "docs", DOCS)
    bot = Assistant(corpus, encoder=FakeEncoder(), index_settings=IndexSettings(max_segments=3))
    counts = [len(bot.refresh().segments)]
    for name, text in NEW.items():
        write(corpus, name, text)
        counts.append(len(bot.refresh().segments))
    assert counts == [1, 2, 3, 1, 2]  # the fourth update merged the small segments at the end (here all)
    assert len(bot.index.passages) == len({(p.source, p.paragraph, p.part) for p in bot.index.passages})
    rebuilt = Assistant(corpus, encoder=FakeEncoder())
    rebuilt.refresh(rebuild=True)
    assert len(rebuilt.index.segments) == 1
    assert answers(bot) == answers(rebuilt)
    loaded = Assistant(corpus, encoder=FakeEncoder())  # from disk, memory-mapped
    assert loaded.index.encoded == 0 and answers(loaded) == answers(bot)


def test_deleting_or_changing_a_file_rewrites_only_its_segment(tmp_path):
    corpus = write_docs(tmp_path / "docs", {**DOCS, **NEW})
    bot = Assistant(corpus, encoder=FakeEncoder(), index_settings=IndexSettings(segment_rows=2))  # 2 per segment
    first = bot.refresh()
    assert len(first.segments) >= 3
    rows = {p.source: i for i, p in enumerate(first.passages)}
    owner = np.searchsorted(np.cumsum([n for _, n in first.segments]), rows["c.md"], side="right")
    before = segment_inodes(first)
    (corpus / "c.md").unlink()
    encoder = FakeEncoder()
    bot.encoder = encoder
    index = bot.refresh()
    assert index.encoded == 0 and sum(encoder.calls) == 0
    assert "c.md" not in {p.source for p in index.passages}
    kept = {name for name, _ in first.segments} & {name for name, _ in index.segments}
    assert kept == {name for i, (name, _) in enumerate(first.segments) if i != owner}  # only c.md's is rewritten
    assert all(segment_inodes(index)[f] == ino for f, ino in before.items() if any(n in f for n in kept))
    write(corpus, "d.txt", "乌镇峰会改为每两年举办一次。\n")
    index = bot.refresh()
    assert index.encoded == 1 and index.passages[-1].source == "d.txt"
    assert bot.ask("乌镇峰会每两年举办").hits[0].passage.source == "d.txt"
    assert [p.source for p in index.passages].count("d.txt") == 1
    rebuilt = Assistant(corpus, encoder=FakeEncoder())
    rebuilt.refresh(rebuild=True)
    assert sorted(answers(bot)) == sorted(answers(rebuilt))
    loaded = Assistant(corpus, encoder=FakeEncoder())
    assert loaded.index.encoded == 0 and answers(loaded) == answers(bot)
