"""Folders that index themselves: the real watcher (watchfiles) over a real folder, polled with a deadline."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

import httpx
import pytest

from assistant.api import Assistant, Watcher, WatchSettings
from assistant.web import serve

from .conftest import ROOT, FakeEncoder, write

pytestmark = pytest.mark.slow
DEADLINE = 20.0  # seconds: each change is expected in the answers within a few; this only bounds a failure


def eventually(check, what: str, deadline: float = DEADLINE):
    """Poll ``check()`` until it returns something true; fail naming ``what`` after ``deadline`` seconds."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if result := check():
            return result
        time.sleep(0.05)
    pytest.fail(f"{what} did not happen within {deadline} s")


def sources(bot: Assistant) -> set[str]:
    return {d.source for d in bot.documents()}


def top_source(bot: Assistant, question: str) -> str | None:
    answer = bot.ask(question)
    return answer.hits[0].passage.source if answer.found else None


@pytest.fixture
def watched(tmp_path):
    folder = tmp_path / "docs"
    write(folder, "bread.md", "# Bread\n\nThe sourdough starter is fed at nine every morning.\n")
    bot = Assistant(folder, index_root=tmp_path / "emb", uploads=tmp_path / "uploads", encoder=FakeEncoder())
    bot.refresh()
    watcher = Watcher(bot).start()
    yield bot, folder, watcher
    watcher.stop()
    assert not watcher.running


def settled(watcher: Watcher, quiet: float = 1.0) -> int:
    """The watcher's update count once it has not changed for ``quiet`` seconds."""
    last, since = watcher.updates, time.monotonic()
    while time.monotonic() - since < quiet:
        time.sleep(0.05)
        if watcher.updates != last:
            last, since = watcher.updates, time.monotonic()
    return last


def test_saved_file_is_answered_anew(watched):
    bot, folder, watcher = watched
    (folder / "bread.md").write_text("# Bread\n\nThe rye loaf is baked on Fridays at the harbour bakery.\n")
    eventually(lambda: "rye loaf" in bot.ask("when is the rye loaf baked").answer, "the saved text in the answer")
    assert settled(watcher) == 1


def test_added_file_is_answered(watched):
    bot, folder, _ = watched
    write(folder, "sub/tea.txt", "Tea\n\nGreen tea is steeped for two minutes at eighty degrees.\n")
    assert eventually(lambda: top_source(bot, "how long is green tea steeped") == "sub/tea.txt", "the new file")


def test_deleted_file_leaves_the_answers(watched):
    bot, folder, _ = watched
    write(folder, "tea.txt", "Tea\n\nGreen tea is steeped for two minutes at eighty degrees.\n")
    eventually(lambda: "tea.txt" in sources(bot), "the new file")
    (folder / "tea.txt").unlink()
    eventually(lambda: "tea.txt" not in sources(bot), "the deleted file leaving")
    assert top_source(bot, "how long is green tea steeped") != "tea.txt"


def test_renamed_file_is_cited_by_its_new_name(watched):
    bot, folder, _ = watched
    (folder / "bread.md").rename(folder / "baking.md")
    eventually(lambda: sources(bot) == {"baking.md"}, "the rename")
    assert top_source(bot, "when is the sourdough starter fed") == "baking.md"


def test_editor_save_rename_save_is_one_update(watched):
    bot, folder, watcher = watched
    before = watcher.updates
    target = folder / "bread.md"
    swap = folder / ".bread.md.swp"
    swap.write_text("# Bread\n\nThe starter is fed at ten.\n")  # the editor's way: write aside, rename over
    os.replace(swap, target)
    target.write_text("# Bread\n\nThe starter is fed at eleven every evening.\n")
    eventually(lambda: "eleven" in bot.ask("when is the starter fed").answer, "the saved text")
    assert settled(watcher) - before == 1


def test_burst_of_300_files_is_a_few_updates(watched):
    bot, folder, watcher = watched
    before = watcher.updates
    for n in range(300):
        write(folder, f"burst/note-{n:03}.txt", f"Note {n}\n\nItem number {n} is stored on shelf {n % 17}.\n")
    eventually(lambda: len(sources(bot)) == 301, "all 300 new files indexed", deadline=60)
    assert settled(watcher) - before <= 3


def test_file_being_written_is_read_whole(tmp_path):
    folder = tmp_path / "docs"
    write(folder, "bread.md", "# Bread\n\nThe sourdough starter is fed at nine every morning.\n")
    bot = Assistant(folder, index_root=tmp_path / "emb", encoder=FakeEncoder())
    bot.refresh()
    # Batches end after 0.1 s of quiet, but a file is read only after 1 s without a change: a writer pausing
    # 0.4 s between chunks is waited for.
    watcher = Watcher(bot, WatchSettings(step_ms=100, settle_s=1.0)).start()
    try:
        with (folder / "slow.txt").open("w") as out:
            out.write("Slow\n\n")
            for n in range(6):
                out.write(f"Chunk {n} of the slowly written file. ")
                out.flush()
                time.sleep(0.4)  # the writer's pace, not a wait for the result
            out.write("The end of the slow file.\n")
        passage = eventually(
            lambda: next((p for p in bot.index.passages if p.source == "slow.txt"), None), "the slow file"
        )
        assert passage.text.endswith("The end of the slow file.") and settled(watcher) == 1
    finally:
        watcher.stop()


def test_update_that_fails_keeps_watching(watched):
    bot, folder, watcher = watched
    write(folder, "broken.txt", "")  # an empty file is skipped with a warning, not an error
    write(folder, "tea.txt", "Tea\n\nGreen tea is steeped for two minutes at eighty degrees.\n")
    eventually(lambda: "tea.txt" in sources(bot), "the file after the broken one")
    assert watcher.running


def test_serve_watch_answers_through_the_api(tmp_path):
    folder = tmp_path / "docs"
    write(folder, "bread.md", "# Bread\n\nThe sourdough starter is fed at nine every morning.\n")
    bot = Assistant(folder, index_root=tmp_path / "emb", uploads=tmp_path / "uploads", encoder=FakeEncoder())
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = serve(bot, port=port, block=False, watch=True)
    try:
        assert app.watcher.running
        write(folder, "tea.txt", "Tea\n\nGreen tea is steeped for two minutes at eighty degrees.\n")

        def cited():
            body = {"question": "how long is green tea steeped", "top_k": 1}
            passages = httpx.post(f"http://127.0.0.1:{port}/api/v1/search", json=body, timeout=30).json()["passages"]
            return passages and passages[0]["source"] == "tea.txt"

        eventually(cited, "the new file answering through the API")
    finally:
        app.watcher.stop()
        app.close()


def test_stop_ends_the_thread(tmp_path):
    folder = tmp_path / "docs"
    write(folder, "a.md", "# A\n\nSome text about apples.\n")
    bot = Assistant(folder, index_root=tmp_path / "emb", encoder=FakeEncoder())
    watcher = Watcher(bot).start()
    assert watcher.running and any(t.name == "folder-watch" for t in threading.enumerate())
    watcher.stop()
    assert not watcher.running and not any(t.name == "folder-watch" for t in threading.enumerate())


def test_index_watch_command(tmp_path):
    """``index --watch`` (the real CLI with the fake encoder, in its own process): one line per update, Ctrl-C
    stops it."""
    folder = tmp_path / "docs"
    write(folder, "a.md", "# A\n\nSome text about apples.\n")
    env = {
        **os.environ,
        "ASSISTANT_INDEX_DIR": str(tmp_path / "emb"),
        "PYTHONUNBUFFERED": "1",
        "PYTHONFAULTHANDLER": "1",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.fake_cli", "index", str(folder), "--watch", "--uploads", str(tmp_path / "up")],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True).start()
    try:
        eventually(lambda: any(line.startswith("Watching") for line in lines), "the watcher starting", 60)
        write(folder, "b.md", "# B\n\nText about bananas.\n")
        eventually(lambda: any("Re-indexed 1 changed file (b.md)" in line for line in lines), "the update's line")
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            code = proc.wait(60)
        except subprocess.TimeoutExpired:  # seen twice in full CI runs, never alone: say where it hangs
            proc.send_signal(signal.SIGABRT)  # faulthandler prints every thread's stack
            proc.wait(30)
            time.sleep(0.5)
            pytest.fail("index --watch did not stop within 60 s of Ctrl-C:\n" + "".join(lines[-80:]))
    assert code == 130
    assert not [line for line in lines if "Traceback" in line]


@pytest.mark.parametrize(
    "settings", [{"step_ms": 0}, {"step_ms": 5000, "debounce_ms": 1000}, {"settle_s": -1}, {"max_settle_s": 0.1}]
)
def test_bad_watch_settings_say_what_they_must_be(settings):
    from assistant.errors import AssistantError

    with pytest.raises(AssistantError, match="Watch settings must be positive"):
        WatchSettings(**settings)


def test_folder_that_goes_away_stops_with_one_line(tmp_path, caplog):
    folder = tmp_path / "docs"
    write(folder, "a.md", "# A\n\nSome text about apples.\n")
    bot = Assistant(folder, index_root=tmp_path / "emb", encoder=FakeEncoder())
    bot.refresh()
    watcher = Watcher(bot).start()
    shutil.rmtree(folder)

    def said():
        return [r.getMessage() for r in caplog.records if r.name == "assistant.api.watch" and r.levelname != "INFO"]

    (line,) = eventually(said, "a line on the folder going away")
    assert line.startswith(("Could not index the changes", "Stopped watching")) and watcher.updates == 0
    watcher.stop()
    assert not watcher.running and not [r for r in caplog.records if r.exc_info]


def test_file_saved_before_the_watcher_started_is_caught_up(tmp_path):
    """A file saved after the last indexing but before the notifier ran is indexed once the watch begins."""
    folder = tmp_path / "docs"
    write(folder, "bread.md", "# Bread\n\nThe sourdough starter is fed at nine every morning.\n")
    bot = Assistant(folder, index_root=tmp_path / "emb", encoder=FakeEncoder())
    bot.refresh()
    write(folder, "tea.txt", "Tea\n\nGreen tea is steeped for two minutes at eighty degrees.\n")  # no watcher yet
    watcher = Watcher(bot).start()
    try:
        eventually(lambda: "tea.txt" in sources(bot), "the file saved before the watch")
        assert settled(watcher) == 1
    finally:
        watcher.stop()
