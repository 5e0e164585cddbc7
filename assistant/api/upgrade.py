"""Two tiers: answer at once from the fast model's index while a stronger model's index is built in the
background, then switch to it.

The bundled USE builds an index in seconds; multilingual-e5-small ranks user-style questions far better but
encodes a passage about 5-25 times slower here. ``Upgrade`` gives both: the assistant answers from its own
(fast) index while the strong model's index is built beside it in a daemon thread (resumable: the encoded
chunks are saved as they are made, so an interrupted build continues where it stopped), and the encoder and
index are switched together, atomically, when it is ready. Files that changed meanwhile are indexed after
the switch, and a saved strong index is loaded at start-up as the first thing the upgrade does.
"""

from __future__ import annotations

import logging
import os
import threading
import time

from ..encoders import MODEL_ENV, TextEncoder, make_encoder
from ..errors import AssistantError
from ..storage import Index, open_index
from ..text import UPLOADS

logger = logging.getLogger(__name__)

STRONG_MODEL = "multilingual-e5-small"  # the upgrade the command line makes when no model is named
UPGRADE_ENV = "ASSISTANT_UPGRADE"
_OFF = ("none", "off", "no", "false", "0")
_encoders: dict[str, TextEncoder] = {}  # one strong model per process, shared by the knowledge bases
_loading = threading.Lock()


class _Counting:
    """The strong encoder, counting the passages it encodes for the progress line (its name and size unchanged)."""

    def __init__(self, encoder: TextEncoder, upgrade: Upgrade):
        self._encoder, self._upgrade = encoder, upgrade

    def __getattr__(self, name: str):
        return getattr(self._encoder, name)

    def encode(self, texts: list[str], *, progress: bool = False):
        vectors = self._encoder.encode(texts, progress=progress)
        self._upgrade.encoded(len(texts))
        return vectors

    def encode_spans(self, texts: list[str], spans):
        vectors = self._encoder.encode_spans(texts, spans)
        self._upgrade.encoded(len(texts))
        return vectors


class Upgrade:
    """Builds ``bot``'s index with ``model`` in the background and switches ``bot`` to it when it is done.

    ``state`` is ``waiting``, ``building``, ``ready`` or ``failed`` (``error`` says why, in one sentence; the
    fast index stays in use). ``seconds`` is the time the strong index took, ``done``/``total`` the passages
    encoded so far and those in the fast index (the same documents, so about the strong index's size)."""

    def __init__(self, bot, model: str = STRONG_MODEL, *, encoder: TextEncoder | None = None):
        self.bot, self.model = bot, model
        self._encoder = encoder
        self.state, self.error = "waiting", ""
        self.done = self.total = 0
        self.seconds: float | None = None
        self.thread: threading.Thread | None = None
        self._logged = 0
        bot.upgrade = self

    def start(self) -> threading.Thread:
        """Run :meth:`run` in a daemon thread."""
        self.thread = threading.Thread(target=self.run, name="index-upgrade", daemon=True)
        self.thread.start()
        return self.thread

    def run(self, *, progress: bool = False, rebuild: bool = False) -> Index | None:
        """Build (or load, or bring up to date; ``rebuild``: encode all again) the strong index and switch
        ``bot`` to it; the index, or None when it failed."""
        bot = self.bot
        started = time.perf_counter()
        try:
            strong = self._encoder or _shared(self.model)
            if strong.name == bot.encoder.name:
                self.state, self.seconds = "ready", 0.0
                return bot.index
            if bot.milvus:
                raise AssistantError("The stronger index is not built for Milvus; name one --model for Milvus.")
            self.total, self.state = len(bot.index.passages), "building"
            index = open_index(
                bot.corpus,
                _Counting(strong, self),
                root=bot.index_root,
                rebuild=rebuild,
                settings=bot.index_settings,
                progress=progress,
                extra={UPLOADS: bot.uploads},
            )
            strong.encode_queries(["warm up"])  # its question encoder ready (exported once) before any question
            index = bot.switch(strong, index)  # questions go on being answered meanwhile
        except AssistantError as exc:
            self.state, self.error = "failed", str(exc)
            logger.warning(
                "The stronger index (%s) was not built: %s Answering from %s.", self.model, exc, bot.encoder.name
            )
            return None
        except Exception as exc:  # a bug: the fast index stays in use
            self.state, self.error = "failed", f"{type(exc).__name__}: {exc}"
            logger.warning(
                "The stronger index (%s) failed (%s); answering from %s.", self.model, self.error, bot.encoder.name
            )
            logger.debug("Upgrade failure", exc_info=True)
            return None
        self.seconds, self.state = time.perf_counter() - started, "ready"
        (logger.warning if threading.current_thread() is self.thread else logger.info)(
            "Switched to the stronger index: %d passages with %s, ready after %.1f s.",
            len(index.passages),
            strong.name,
            self.seconds,
        )
        return index

    def encoded(self, n: int) -> None:
        """Count ``n`` more passages encoded; log every tenth of the way."""
        self.done += n
        if self.total and self.done * 10 // self.total > self._logged:
            self._logged = self.done * 10 // self.total
            logger.info("Stronger index (%s): %d of about %d passages encoded", self.model, self.done, self.total)

    @property
    def building(self) -> bool:
        return self.state in ("waiting", "building")

    def status(self) -> str:
        """One line for the page and the log while it is built ("" once it is ready)."""
        if self.state == "building":
            return (
                f"Building the stronger index ({self.model}) in the background: {min(self.done, self.total)} of about "
                f"{self.total} passages; answers come from the fast index until then."
            )
        return f"The stronger index ({self.model}) was not built: {self.error}" if self.state == "failed" else ""


def _shared(model: str) -> TextEncoder:
    """The strong encoder, made once per process."""
    with _loading:
        if model not in _encoders:
            _encoders[model] = make_encoder(model)
        return _encoders[model]


def upgrade_model(flag: str | None, model: str | None) -> str | None:
    """The stronger model the command line builds next: ``--upgrade`` (``none``: no upgrade), else, when no
    model is named (``--model``, ``$ASSISTANT_MODEL``), ``$ASSISTANT_UPGRADE`` or ``STRONG_MODEL``."""
    if flag:
        return None if flag.strip().lower() in _OFF else flag
    if model or os.environ.get(MODEL_ENV):
        return None
    choice = os.environ.get(UPGRADE_ENV) or STRONG_MODEL
    return None if choice.strip().lower() in _OFF else choice
