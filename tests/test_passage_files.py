"""Saved passages read when asked for: the same passages as parsing them all, and broken files refused."""

import itertools

import numpy as np
import pytest

from assistant.api import Assistant
from assistant.errors import IndexStoreError
from assistant.records import Passage
from assistant.storage.passage_files import (
    Columns,
    PassageView,
    SavedPassages,
    columns,
    kept_and_added,
    passage_lines,
    source_codes,
)

from .conftest import FakeEncoder, write_docs


def _passages(n: int, source: str = "a.txt") -> list[Passage]:
    return [
        Passage(
            f"d{i}",
            source if i % 3 else 'b/引号"和\\.txt',
            "标题",
            i + 1,
            f"第{i}段，\n有“引号”\t和 \\ 反斜杠\u2028行分隔符\x85。",
            part=i % 2,
        )
        for i in range(n)
    ]


def _saved(tmp_path, groups: list[list[Passage]]) -> SavedPassages:
    import json

    paths = []
    for k, group in enumerate(groups):
        path = tmp_path / f"passages-{k}.jsonl"
        path.write_text("".join(json.dumps(vars(p), ensure_ascii=False) + "\n" for p in group), encoding="utf-8")
        paths.append(path)
    return SavedPassages(paths, [len(g) for g in groups])


def test_saved_passages_read_on_demand_equal_the_written_ones(tmp_path):
    groups = [_passages(7), [], _passages(5, "c.txt")]
    everything = [p for g in groups for p in g]
    saved = _saved(tmp_path, groups)
    assert len(saved) == 12 and not saved._cache
    assert saved[8] == everything[8] and saved[-1] == everything[-1] and saved[2:9:3] == everything[2:9:3]
    assert saved[8] is saved[8] and sorted(saved._cache) == [2, 5, 8, 11]  # parsed once, only what was asked for
    assert list(saved) == everything and saved == everything
    with pytest.raises(IndexError):
        saved[12]
    cols = columns(saved)
    assert cols.sources == [p.source for p in everything] and cols.titles == [p.title for p in everything]
    expected = Columns.of(everything)
    assert np.array_equal(cols.paragraph, expected.paragraph) and np.array_equal(cols.part, expected.part)


def test_views_keep_rows_and_add_passages_without_parsing_the_rest(tmp_path):
    base = _passages(6)
    saved = _saved(tmp_path, [base])
    new = _passages(2, "new.txt")
    keep = np.array([True, False, True, True, False, True])
    view = kept_and_added(saved, keep, new)
    assert isinstance(view, PassageView) and not saved._cache
    expected = [p for p, k in zip(base, keep, strict=True) if k] + new
    assert view[5] == expected[5] and view[1] == expected[1] and list(view) == expected
    again = kept_and_added(view, np.array([False, True, True, True, True, False]), [new[0]])
    assert list(again) == expected[1:5] + [new[0]] and again.base is saved
    assert columns(again).sources == [p.source for p in expected[1:5] + [new[0]]]
    assert kept_and_added(base, keep, new) == expected  # plain lists stay lists


@pytest.mark.parametrize(
    "damage, message",
    [(lambda t: t[:-1], "ends in the middle"), (lambda t: t + t.split("\n")[0] + "\n", "holds 4 passages")],
)
def test_a_file_that_disagrees_with_its_manifest_is_refused(tmp_path, damage, message):
    saved = _saved(tmp_path, [_passages(3)])
    path = tmp_path / "passages-0.jsonl"
    path.write_text(damage(path.read_text(encoding="utf-8")), encoding="utf-8")
    with pytest.raises(IndexStoreError, match=message):
        SavedPassages([path], [len(saved)])


def test_a_loaded_index_parses_only_what_questions_and_pages_need(tmp_path):
    docs = {f"doc{i}.txt": f"第{i}篇\n北京会议{i}讨论了互联网。\n\n会员单位{i}家来自{i}个国家。\n" for i in range(12)}
    corpus = write_docs(tmp_path / "docs", docs)
    built = Assistant(corpus, encoder=FakeEncoder()).refresh()
    bot = Assistant(corpus, encoder=FakeEncoder())
    loaded = bot.refresh()
    assert isinstance(loaded.passages, SavedPassages) and not loaded.passages._cache
    documents = bot.documents()  # the knowledge-base panel: counts and titles from columns, no objects
    assert len(documents) == 12 and not loaded.passages._cache
    assert {d.source: d.passages for d in documents} == {s: sum(p.source == s for p in built.passages) for s in docs}
    hits = bot.ask("会员单位7家", top_k=2).hits
    assert (
        hits[0].passage.source == "doc7.txt"
        and hits[0].passage is loaded.passages[loaded.passages.index(hits[0].passage)]
    )
    context = bot.context(hits[0].passage)
    assert [p.source for p in context] == ["doc7.txt"] * len(context) and hits[0].passage in context
    assert loaded.passages == built.passages


def test_updates_find_a_files_rows_from_the_recorded_runs_without_reading_passages(tmp_path, monkeypatch):
    import json

    docs = {f"doc{i}.txt": f"第{i}篇\n北京会议{i}讨论了互联网。\n\n会员单位{i}家来自{i}个国家。\n" for i in range(12)}
    corpus = write_docs(tmp_path / "docs", docs)
    built = Assistant(corpus, encoder=FakeEncoder()).refresh()
    saved = json.loads((built.folder / "manifest.json").read_text())["segments"]
    per_file = {s: sum(p.source == s for p in built.passages) for s in docs}
    assert [run for s in saved for run in s["sources"]] == [[s, per_file[s]] for s in sorted(docs)]

    def no_parse(self, segment):
        raise AssertionError("the passage files were parsed")

    (corpus / "doc3.txt").unlink()  # a deletion, a change and an addition: rows by file come from the runs
    (corpus / "doc5.txt").write_text("第5篇\n改过的内容讲茶。\n", encoding="utf-8")
    write_docs(corpus, {"new.txt": "新文件\n乌镇峰会的新会员。\n"})
    with monkeypatch.context() as patch:  # nor one by one: a rewritten segment's kept lines are copied as saved
        patch.setattr(SavedPassages, "_rows", no_parse)
        patch.setattr(SavedPassages, "_item", no_parse)
        updated = Assistant(corpus, encoder=FakeEncoder()).refresh()
    loaded = Assistant(corpus, encoder=FakeEncoder()).refresh()  # the saved update, its runs read back
    rebuilt = Assistant(corpus, encoder=FakeEncoder()).refresh(rebuild=True)
    per_file = {s: sum(p.source == s for p in rebuilt.passages) for s in {p.source for p in rebuilt.passages}}
    kept = [s for s in sorted(docs) if s not in ("doc3.txt", "doc5.txt")]
    expected = [s for s in [*kept, "doc5.txt", "new.txt"] for _ in range(per_file[s])]  # kept rows, then new ones
    assert [p.source for p in updated.passages] == expected
    assert sorted(p.text for p in updated.passages) == sorted(p.text for p in rebuilt.passages)
    assert isinstance(loaded.passages, SavedPassages) and _names(source_codes(loaded.passages)) == expected


@pytest.mark.parametrize("runs", [None, [[["a.txt", 3]], []], [[["a.txt", "7"]], [["c.txt", 5]]], [[["a.txt", 7]]]])
def test_missing_or_wrong_runs_are_ignored_and_the_files_read(tmp_path, runs):
    import json

    groups = [_passages(7), _passages(5, "c.txt")]
    paths = []
    for k, group in enumerate(groups):
        path = tmp_path / f"passages-{k}.jsonl"
        path.write_text("".join(json.dumps(vars(p), ensure_ascii=False) + "\n" for p in group), encoding="utf-8")
        paths.append(path)
    saved = SavedPassages(paths, [7, 5], runs)
    assert saved._runs is None and _names(source_codes(saved)) == [p.source for g in groups for p in g]


def _names(codes) -> list[str]:
    return [codes.names[c] for c in codes.codes]


def test_source_codes_of_views_and_their_runs(tmp_path):
    saved = _saved(tmp_path, [_passages(7), _passages(5, "c.txt")])
    view = kept_and_added(saved, np.arange(12) % 5 != 2, _passages(3, "new.txt") + _passages(1, "c.txt"))
    codes = source_codes(view)
    assert _names(codes) == [p.source for p in view] and len(set(codes.names)) == len(codes.names)
    assert list(np.flatnonzero(codes.rows_of({"c.txt", "nowhere"}))) == [
        i for i, p in enumerate(view) if p.source == "c.txt"
    ]
    expected = [[s, sum(1 for _ in run)] for s, run in itertools.groupby(p.source for p in list(view)[2:11])]
    assert codes.runs(2, 11) == expected and codes.runs(4, 4) == []


def test_saved_lines_are_copied_as_written_for_any_rows(tmp_path):
    import json

    groups = [_passages(7), [], _passages(5, "c.txt"), _passages(3, "d.txt")]
    everything = [p for g in groups for p in g]
    saved = _saved(tmp_path, groups)
    line = json.JSONEncoder(ensure_ascii=False).encode
    for rows in ([], [0], [6, 7], [1, 2, 3, 8, 9, 11, 12, 13], list(range(15))):
        expected = "".join(line(vars(everything[r])) + "\n" for r in rows).encode("utf-8")
        assert saved.raw(np.array(rows, dtype=np.int64)) == expected
    view = kept_and_added(saved, np.arange(15) % 4 != 1, _passages(2, "new.txt"))
    for start, stop in ((0, len(view)), (3, 9), (10, 13), (12, 40)):
        expected = "".join(line(vars(p)) + "\n" for p in list(view)[start:stop]).encode("utf-8")
        assert passage_lines(view, start, stop, line) == expected
    fresh = SavedPassages([tmp_path / f"passages-{k}.jsonl" for k in range(4)], [7, 0, 5, 3])
    assert fresh.raw(np.arange(15)) == b"".join(p.read_bytes() for p in sorted(tmp_path.glob("passages-*.jsonl")))
    assert not fresh._cache  # copied, never parsed
