"""Folders that index themselves: the corpus folder and the uploads, followed with watchfiles."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ..errors import AssistantError
from ..storage import changed_sources, corpus_files
from ..text import UPLOADS
from .assistant import Assistant

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class WatchSettings:
    """How changes are grouped into updates.

    Args:
        step_ms: a batch of changes ends after this long without a new one (an editor's save-rename-save, a
            copy of 1,000 files, is one batch).
        debounce_ms: a batch ends after this long even while changes keep coming.
        settle_s: a changed file is read once its size and mtime stayed the same this long (not half-written).
        max_settle_s: a file still growing after this long is indexed as it is (the next change re-indexes it).
    """

    step_ms: int = 300
    debounce_ms: int = 3000
    settle_s: float = 0.3
    max_settle_s: float = 30.0

    def __post_init__(self):
        if not 0 < self.step_ms <= self.debounce_ms or not 0 < self.settle_s <= self.max_settle_s:
            raise AssistantError(
                "Watch settings must be positive, with step_ms <= debounce_ms and settle_s <= max_settle_s; "
                f"got {self}."
            )


def _wanted(path: str) -> bool:
    """A change worth an update: not a hidden file (``.upload-*``, ``.swp``, ``.git``), nor an editor's backup."""
    parts = Path(path).parts
    return not any(part.startswith(".") for part in parts[-3:]) and not path.endswith(("~", ".tmp"))


class Watcher:
    """Re-indexes the assistant's corpus folder (and uploads) in a daemon thread whenever files in it are saved,
    added, renamed or deleted: one :meth:`Assistant.refresh` per batch of changes, one log line per update.

    Example:
        >>> watcher = Watcher(bot).start()   # … files change, questions see them within seconds …
        >>> watcher.stop()
    """

    def __init__(self, assistant: Assistant, settings: WatchSettings | None = None):
        self.assistant = assistant
        self.settings = settings or WatchSettings()
        self.updates = 0  # refreshes that indexed a change
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def folders(self) -> list[Path]:
        folders = [self.assistant.corpus, self.assistant.uploads]
        return [Path(f) for f in folders if f is not None]

    def start(self) -> Watcher:
        """Start following the folders; returns once changes are being watched."""
        if self.assistant.uploads is not None:  # watched from the start, before the first upload makes it
            Path(self.assistant.uploads).mkdir(parents=True, exist_ok=True)
        self._thread = threading.Thread(target=self.run, name="folder-watch", daemon=True)
        self._thread.start()
        self._ready.wait(60)  # set once the notifier runs, or when watching failed
        return self

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop watching (an update under way finishes first)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def run(self) -> None:
        """Watch until :meth:`stop` (blocks; :meth:`start` runs it in a thread)."""
        try:
            self._watch()
        except Exception as exc:  # the folder went away, the notifier failed: say so once, stop watching
            logger.error("Stopped watching %s: %s: %s", self.assistant.corpus, type(exc).__name__, exc)
            logger.debug("Details", exc_info=True)
        finally:
            self._ready.set()

    def _watch(self) -> None:
        from watchfiles import watch

        s = self.settings
        folders = [f for f in self.folders if f.exists()]
        logger.info("Watching %s for changes", ", ".join(str(f) for f in folders))
        for changes in watch(
            *folders,
            watch_filter=lambda _change, path: _wanted(path),
            debounce=s.debounce_ms,
            step=s.step_ms,
            stop_event=self._stop,
            yield_on_timeout=True,
            rust_timeout=200,
            raise_interrupt=False,
        ):
            if self._stop.is_set():
                self._ready.set()
                continue
            if changes:
                self._settle(path for _, path in changes)
            if changes or (not self._ready.is_set() and self.assistant._index is not None):
                # the first batch (at the latest the first empty timeout: the notifier is running) also catches
                # up files saved between the last indexing and the notifier's start
                self.update()
            self._ready.set()

    def _settle(self, paths: Iterable[str]) -> None:
        """Wait until every changed file that exists has kept its size and mtime for ``settle_s``."""
        s = self.settings
        deadline = time.monotonic() + s.max_settle_s
        last = _stats(paths := list(paths))
        while not self._stop.wait(s.settle_s) and time.monotonic() < deadline:
            now = _stats(paths)
            if now == last:
                return
            last = now

    def update(self) -> bool:
        """Index what changed, if anything did; True when the index was updated."""
        bot = self.assistant
        started = time.perf_counter()
        try:
            changed = changed_sources(corpus_files(bot.corpus, {UPLOADS: bot.uploads}), bot.index.manifest)
            if not changed:
                return False  # e.g. an upload the API already indexed
            index = bot.refresh()
        except AssistantError as exc:
            logger.warning("Could not index the changes (%s); answering from the last index.", exc)
            return False
        except Exception as exc:  # a bug: keep watching, answer from the last index
            logger.error("Indexing the changes failed: %s: %s", type(exc).__name__, exc)
            logger.debug("Details", exc_info=True)
            return False
        self.updates += 1
        shown = ", ".join(changed[:3]) + (f" and {len(changed) - 3} more" if len(changed) > 3 else "")
        logger.warning(
            "Re-indexed %d changed file%s (%s) in %.1f s: %d passages now.",
            len(changed),
            "s" * (len(changed) != 1),
            shown,
            time.perf_counter() - started,
            len(index.passages),
        )
        return True


def _stats(paths: list[str]) -> list[tuple[int, int] | None]:
    out = []
    for path in paths:
        try:
            st = Path(path).stat()
            out.append((st.st_size, st.st_mtime_ns))
        except OSError:
            out.append(None)
    return out
