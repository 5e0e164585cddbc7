"""Any upload name and any upload content: stored under a plain name inside the folder, or refused in one sentence."""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assistant.errors import UploadError
from assistant.text.uploads import MAX_NAME_CHARS, safe_name, store_upload

from .conftest import assert_one_clear_sentence


@given(name=st.text(max_size=300))
@settings(max_examples=500, deadline=None)
def test_any_name_is_made_plain_or_refused(name):
    try:
        stored = safe_name(name)
    except UploadError as exc:
        assert_one_clear_sentence(str(exc))
        return
    assert "/" not in stored and "\\" not in stored and not stored.startswith(".")
    assert not any(ord(c) < 32 or 0x7F <= ord(c) <= 0x9F for c in stored)
    assert len(stored) <= MAX_NAME_CHARS + 10
    assert safe_name(stored) == stored  # already plain: unchanged


@given(name=st.sampled_from(["a.txt", "../../etc/passwd", "b.md", "x/../../c.html", "..", "d.exe"]), data=st.binary())
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_upload_lands_inside_the_folder_or_nowhere(tmp_path_factory, name, data):
    root = tmp_path_factory.mktemp("up")
    folder = root / "uploads"
    try:
        stored = store_upload(folder, name, data)
    except UploadError as exc:
        assert_one_clear_sentence(str(exc))
        stored = None
    written = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
    assert written == ([f"uploads/{stored}"] if stored else [])
