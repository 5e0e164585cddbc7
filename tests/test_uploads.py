"""The upload sanitiser: safe names, type and size limits, storage only under the data folder."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assistant.errors import AssistantError, UploadError
from assistant.uploads import MAX_NAME_CHARS, check_upload, safe_name, store_upload

from .test_bad_questions import assert_one_clear_sentence


@pytest.mark.parametrize(
    "name, stored",
    [
        ("notes.txt", "notes.txt"),
        ("My Notes.MD", "My Notes.md"),
        ("中文 文件名.txt", "中文 文件名.txt"),
        ('it\'s "quoted".txt', "it's _quoted_.txt"),
        ("<img src=x onerror=alert(1)>.md", "_img src=x onerror=alert(1)_.md"),
        ("tab\tnew\nline\x1b[2J.txt", "tab new line_[2J.txt"),
        ("...hidden.txt", "hidden.txt"),
        ("  spaced  out  .html", "spaced out.html"),
        ("CON.txt", "_CON.txt"),
        ("report\u202etxt.md", "reporttxt.md"),
        ("e\u0301te\u0301.txt", "\u00e9t\u00e9.txt"),
        ("a" * 300 + ".txt", "a" * (MAX_NAME_CHARS - 4) + ".txt"),
    ],
)
def test_safe_names(name, stored):
    assert safe_name(name) == stored


@pytest.mark.parametrize(
    "name, words",
    [
        ("../../etc/passwd", "folder path"),
        ("../notes.txt", "folder path"),
        ("/etc/passwd.txt", "folder path"),
        ("..\\..\\windows\\win.ini.txt", "folder path"),
        ("C:notes.txt", "folder path"),
        ("..", "folder path"),
        ("", "no name"),
        ("   ", "no name"),
        ("photo.png", "not a supported document"),
        ("archive.zip", "not a supported document"),
        ("script.txt.exe", "not a supported document"),
        ("noextension", "not a supported document"),
        ("report.txt\u202egnp.exe", "not a supported document"),
        (".txt", "no usable name"),
        ("???.txt", "no usable name"),
    ],
)
def test_refused_names_get_one_sentence(name, words):
    with pytest.raises(UploadError) as info:
        safe_name(name)
    assert_one_clear_sentence(str(info.value), words)


@pytest.mark.parametrize(
    "size, words", [(0, "is empty"), (-1, "is empty"), (20 * 1024 * 1024 + 1, "larger than 20 MB")]
)
def test_size_limits(size, words):
    with pytest.raises(UploadError) as info:
        check_upload("notes.txt", size)
    assert_one_clear_sentence(str(info.value), words)


def test_store_upload_writes_only_inside_the_folder(tmp_path):
    source = tmp_path / "gradio-tmp" / "whatever"
    source.parent.mkdir()
    source.write_text("世界互联网大会国际组织于2022年成立。", "gb18030")
    data = tmp_path / "data"
    stored = store_upload(source, "会议 记录.txt", data)
    assert stored == data / "会议 记录.txt" and stored.read_bytes() == source.read_bytes()
    assert sorted(p.name for p in data.iterdir()) == ["会议 记录.txt"]
    with pytest.raises(UploadError, match="folder path"):
        store_upload(source, "../../etc/passwd", data)
    assert not (tmp_path / "etc").exists()


@pytest.mark.parametrize(
    "content, words",
    [(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary"), (bytes(range(128, 256)) * 8, "re-save it as UTF-8")],
)
def test_store_upload_refuses_content_that_is_not_text(tmp_path, content, words):
    source = tmp_path / "upload"
    source.write_bytes(content)
    with pytest.raises(UploadError) as info:
        store_upload(source, "notes.txt", tmp_path / "data")
    assert_one_clear_sentence(str(info.value), words)
    assert not (tmp_path / "data" / "notes.txt").exists()
    assert [p.name for p in (tmp_path / "data").iterdir()] == [] if (tmp_path / "data").exists() else True


def test_store_upload_enforces_the_size_limit(tmp_path):
    source = tmp_path / "upload"
    source.write_text("text " * 1000)
    with pytest.raises(UploadError, match="larger than"):
        store_upload(source, "notes.txt", tmp_path / "data", max_bytes=1024 * 1024 // 1024)


def test_store_upload_replaces_a_symlink_not_its_target(tmp_path):
    outside = tmp_path / "outside.txt"
    outside.write_text("keep me")
    data = tmp_path / "data"
    data.mkdir()
    (data / "notes.txt").symlink_to(outside)
    source = tmp_path / "upload"
    source.write_text("new notes")
    stored = store_upload(source, "notes.txt", data)
    assert outside.read_text() == "keep me" and not stored.is_symlink() and stored.read_text() == "new notes"


@given(name=st.text(max_size=300))
@settings(max_examples=500, deadline=None)
def test_any_name_is_made_safe_or_refused(name):
    try:
        stored = safe_name(name)
    except UploadError as exc:
        assert isinstance(exc, AssistantError)
        assert_one_clear_sentence(str(exc))
        return
    assert "/" not in stored and "\\" not in stored and stored not in (".", "..") and not stored.startswith(".")
    assert not any(ord(c) < 32 or 0x7F <= ord(c) <= 0x9F for c in stored)
    assert len(stored) <= MAX_NAME_CHARS and len(stored.encode()) <= 255 * 2
    assert safe_name(stored) == stored  # idempotent
