"""Uploads, removal, the document list and passages in context, through the Python API (fake encoder)."""

import logging

import pytest

from assistant.api import Assistant, default_uploads
from assistant.errors import QuestionError, UploadError
from assistant.storage.build import open_index
from assistant.text.uploads import MAX_UPLOAD_BYTES, check_size, safe_name, upload_path

from .conftest import write

SEED = (
    "# 世界互联网大会\n\n世界互联网大会国际组织于2022年7月12日在北京正式成立，总部设在中国北京。\n\n"
    "目前国际组织已有来自25个国家和地区的近130家会员单位加入。\n"
)
NOTE = "# Sourdough notes\n\nThe sourdough starter needs flour and water every day to stay lively.\n"
LONG = "\n\n".join(
    [
        "First paragraph: the bakery opened in 1990 and sells bread every morning.",
        " ".join(f"Sentence {i} of a long second paragraph about flour, water and patience." for i in range(12)),
        "Third paragraph: the oven is heated with wood and reaches 250 degrees.",
        "Fourth paragraph: customers queue before seven on Saturdays for rye loaves.",
    ]
)


@pytest.fixture
def bot(tmp_path, fake_encoder):
    corpus = tmp_path / "corpus"
    write(corpus, "wic.md", SEED)
    return Assistant(corpus, encoder=fake_encoder, uploads=tmp_path / "uploads")


@pytest.mark.parametrize(
    "name, stored",
    [
        ("notes.md", "notes.md"),
        ("报告 2024.TXT", "报告 2024.txt"),
        (".hidden.md", "hidden.md"),
        ("<script>alert(1).html", "_script_alert(1).html"),
        ("a" * 300 + ".md", "a" * 117 + ".md"),
    ],
)
def test_safe_names(name, stored):
    assert safe_name(name) == stored


@pytest.mark.parametrize(
    "name, message",
    [
        ("../../etc/passwd", "is a path, not a file name"),
        ("sub/notes.md", "is a path, not a file name"),
        ("..\\..\\boot.ini", "is a path, not a file name"),
        ("..", "is a path, not a file name"),
        ("notes.exe", "is not a supported document; upload one of: .txt, .md"),
        ("passwd", "is not a supported document"),
        ("   ", "The file has no name"),
    ],
)
def test_unsafe_names_are_refused(name, message):
    with pytest.raises(UploadError, match=message.replace(".", r"\.")):
        safe_name(name)


def test_size_limits_name_the_file_and_the_limit():
    with pytest.raises(UploadError, match="a.md is empty"):
        check_size("a.md", 0)
    with pytest.raises(UploadError, match=r"a.md is 20.0 MB; the limit is 20 MB"):
        check_size("a.md", MAX_UPLOAD_BYTES + 1)


def test_upload_path_only_reaches_uploaded_files(tmp_path):
    assert upload_path(tmp_path, "uploads/a.md") == tmp_path / "a.md"
    for source in ["wic.md", "uploads/../wic.md", "uploads/", "uploads/sub/a.md", "../uploads/a.md"]:
        with pytest.raises(UploadError, match="not an uploaded document"):
            upload_path(tmp_path, source)


def test_an_upload_is_searchable_and_only_it_is_encoded(bot, fake_encoder, tmp_path):
    bot.refresh()
    calls_before = len(fake_encoder.calls)
    report = bot.add_documents([("notes.md", NOTE.encode())])
    assert [(d.source, d.title, d.uploaded) for d in report.added] == [("uploads/notes.md", "Sourdough notes", True)]
    assert report.refused == ()
    assert bot.index.encoded == 1  # the seed document's vectors were reused
    assert sum(fake_encoder.calls[calls_before:]) == 1
    answer = bot.ask("What does the sourdough starter need?")
    assert answer.found and answer.hits[0].passage.source == "uploads/notes.md"
    assert (tmp_path / "uploads" / "notes.md").read_text() == NOTE
    assert [p.name for p in (tmp_path / "uploads").iterdir()] == ["notes.md"]  # no temporary file left


def test_bad_files_are_refused_with_a_reason_and_the_good_ones_added(bot, tmp_path):
    path = write(tmp_path / "elsewhere", "keep.md", NOTE)
    report = bot.add_documents(
        [
            ("image.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(200)),
            ("../../etc/passwd", b"root:x:0:0"),
            ("run.exe", b"MZ"),
            ("empty.md", b""),
            ("blank.md", b"\n\n   \n"),
            path,
        ]
    )
    assert [d.source for d in report.added] == ["uploads/keep.md"]
    reasons = dict(report.refused)
    assert "binary file" in reasons["image.txt"] and "image.txt" in reasons["image.txt"]
    assert "is a path" in reasons["../../etc/passwd"]
    assert "not a supported document" in reasons["run.exe"]
    assert "empty" in reasons["empty.md"] and "no text" in reasons["blank.md"]
    assert sorted(p.name for p in (tmp_path / "uploads").iterdir()) == ["keep.md"]
    assert not (tmp_path / "etc").exists()


def test_same_name_replaces_the_earlier_upload(bot):
    bot.add_documents([("notes.md", NOTE.encode())])
    bot.add_documents([("notes.md", b"# Tea\n\nGreen tea is brewed at 80 degrees for two minutes.\n")])
    docs = {d.source: d.title for d in bot.documents()}
    assert docs == {"uploads/notes.md": "Tea", "wic.md": "世界互联网大会"}


def test_remove_an_upload_but_not_a_corpus_document(bot, tmp_path):
    bot.add_documents([("notes.md", NOTE.encode())])
    bot.remove_document("uploads/notes.md")
    assert [d.source for d in bot.documents()] == ["wic.md"]
    assert not (tmp_path / "uploads" / "notes.md").exists()
    assert all(h.passage.source == "wic.md" for h in bot.search(["sourdough starter"])[0])
    with pytest.raises(UploadError, match="wic.md is not an uploaded document"):
        bot.remove_document("wic.md")
    with pytest.raises(UploadError, match="is not in the knowledge base"):
        bot.remove_document("uploads/notes.md")


def test_the_last_document_cannot_be_removed(tmp_path, fake_encoder):
    bot = Assistant(tmp_path / "empty-corpus", encoder=fake_encoder, uploads=tmp_path / "up")
    (tmp_path / "empty-corpus").mkdir()
    bot.add_documents([("notes.md", NOTE.encode())])
    with pytest.raises(UploadError, match="the only document"):
        bot.remove_document("uploads/notes.md")


def test_uploads_are_off_without_a_folder(tmp_path, fake_encoder):
    write(tmp_path / "c", "wic.md", SEED)
    bot = Assistant(tmp_path / "c", encoder=fake_encoder)
    with pytest.raises(UploadError, match="Uploads are off"):
        bot.add_documents([("notes.md", NOTE.encode())])
    assert [d.uploaded for d in bot.documents()] == [False]


def test_too_many_files_at_once(bot):
    with pytest.raises(UploadError, match="at most 20"):
        bot.add_documents([(f"{i}.md", NOTE.encode()) for i in range(21)])


def test_a_corpus_uploads_folder_and_an_upload_of_the_same_name_never_collide(tmp_path, fake_encoder):
    corpus = tmp_path / "corpus"
    write(corpus, "uploads/notes.md", "# Corpus copy\n\nThe corpus copy says the kiln is fired on Mondays.\n")
    bot = Assistant(corpus, encoder=fake_encoder, uploads=tmp_path / "uploads")
    assert [(d.source, d.uploaded) for d in bot.documents()] == [("./uploads/notes.md", False)]
    report = bot.add_documents([("notes.md", NOTE.encode())])
    assert [(d.source, d.title, d.uploaded) for d in report.added] == [("uploads/notes.md", "Sourdough notes", True)]
    docs = {d.source: (d.title, d.uploaded) for d in bot.documents()}
    assert docs == {"./uploads/notes.md": ("Corpus copy", False), "uploads/notes.md": ("Sourdough notes", True)}
    assert bot.ask("What does the sourdough starter need?").hits[0].passage.source == "uploads/notes.md"
    assert bot.ask("When is the kiln fired?").hits[0].passage.source == "./uploads/notes.md"
    with pytest.raises(UploadError, match="./uploads/notes.md is not an uploaded document"):
        bot.remove_document("./uploads/notes.md")
    bot.remove_document("uploads/notes.md")
    assert [(d.source, d.uploaded) for d in bot.documents()] == [("./uploads/notes.md", False)]
    assert (corpus / "uploads" / "notes.md").exists() and not (tmp_path / "uploads" / "notes.md").exists()


def test_a_corpus_uploads_folder_is_cited_the_same_with_uploads_off(tmp_path, fake_encoder):
    corpus = tmp_path / "corpus"
    write(corpus, "uploads/notes.md", NOTE)
    write(corpus, "more/uploads/tea.md", "# Tea\n\nGreen tea is brewed at 80 degrees.\n")
    bot = Assistant(corpus, encoder=fake_encoder)
    assert [(d.source, d.uploaded) for d in bot.documents()] == [
        ("./uploads/notes.md", False),
        ("more/uploads/tea.md", False),
    ]


def test_an_uploads_folder_inside_the_corpus_is_read_once_as_uploads(tmp_path, fake_encoder):
    corpus = tmp_path / "corpus"
    write(corpus, "wic.md", SEED)
    bot = Assistant(corpus, encoder=fake_encoder, uploads=corpus / "uploads")
    bot.add_documents([("notes.md", NOTE.encode())])
    assert [(d.source, d.uploaded) for d in bot.documents()] == [("uploads/notes.md", True), ("wic.md", False)]


def test_default_uploads_folder_is_per_corpus_under_the_index_root(tmp_path):
    a, b = default_uploads(tmp_path / "a", tmp_path / "emb"), default_uploads(tmp_path / "b", tmp_path / "emb")
    assert a.parent == b.parent == tmp_path / "emb" / "uploads" and a != b and a.name.startswith("a-")


def test_context_gives_the_whole_paragraph_between_its_neighbours(bot):
    bot.add_documents([("bakery.md", LONG.encode())])
    passages = [p for p in bot.index.passages if p.source == "uploads/bakery.md"]
    long_parts = [p for p in passages if p.paragraph == 2]
    assert len(long_parts) >= 2  # the long paragraph was split into parts
    around = bot.context(long_parts[-1], before=1, after=1)
    assert [(p.paragraph, p.part) for p in around] == [(1, 0), *[(2, p.part) for p in long_parts], (3, 0)]
    assert [p.paragraph for p in bot.context(passages[0], before=2, after=0)] == [1]
    last = [p for p in passages if p.paragraph == 4][0]
    assert [p.paragraph for p in bot.context(last, before=0, after=5)] == [4]


def test_context_of_a_removed_passage_is_the_passage_itself(bot):
    bot.add_documents([("notes.md", NOTE.encode())])
    passage = next(p for p in bot.index.passages if p.source == "uploads/notes.md")
    bot.add_documents([("other.md", b"# Other\n\nSomething else entirely to keep in the knowledge base.\n")])
    bot.remove_document("uploads/notes.md")
    assert bot.context(passage) == [passage]


def test_passage_lookup(bot):
    bot.refresh()
    assert bot.passage("wic.md", 2).text.startswith("世界互联网大会\n世界互联网大会国际组织")
    assert bot.passage("wic.md", 3).text.startswith("目前")
    with pytest.raises(QuestionError, match="No passage wic.md ¶99"):
        bot.passage("wic.md", 99)


def test_questions_are_answered_from_the_old_index_while_an_upload_is_indexed(tmp_path):
    import threading

    from .conftest import FakeEncoder

    class Paused(FakeEncoder):
        """Holds the encoding of the upload until released."""

        started, release = threading.Event(), threading.Event()

        def encode(self, texts, *, progress=False):
            if any("sourdough" in t for t in texts) and not self.release.is_set():
                self.started.set()
                assert self.release.wait(10)
            return super().encode(texts, progress=progress)

    write(tmp_path / "corpus", "wic.md", SEED)
    bot = Assistant(tmp_path / "corpus", encoder=Paused(), uploads=tmp_path / "uploads")
    bot.refresh()
    worker = threading.Thread(target=bot.add_documents, args=([("notes.md", NOTE.encode())],))
    worker.start()
    try:
        assert Paused.started.wait(10)
        during = bot.ask("世界互联网大会国际组织是什么时候成立的?")
        assert during.found and {h.passage.source for h in during.hits} == {"wic.md"}
    finally:
        Paused.release.set()
        worker.join(10)
    assert bot.ask("What does the sourdough starter need?").hits[0].passage.source == "uploads/notes.md"


def test_an_index_that_cited_a_corpus_uploads_folder_the_old_way_is_updated_with_a_message(
    tmp_path, fake_encoder, caplog
):
    corpus = tmp_path / "corpus"
    write(corpus, "wic.md", SEED)
    write(corpus, "uploads/notes.md", NOTE)
    old = open_index(corpus, fake_encoder)  # no name reserved, as every index was saved before
    assert sorted({p.source for p in old.passages}) == ["uploads/notes.md", "wic.md"]
    with caplog.at_level(logging.WARNING, logger="assistant.storage.build"):
        index = Assistant(corpus, encoder=fake_encoder).refresh()
    assert "1 corpus file(s) such as uploads/notes.md are now cited ./uploads/notes.md" in caplog.text
    assert sorted({p.source for p in index.passages}) == ["./uploads/notes.md", "wic.md"]
