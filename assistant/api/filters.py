"""Filters on a question's passages: knowledge base, file glob, file type and modified date."""

from __future__ import annotations

import datetime as dt
import fnmatch
import re
from dataclasses import dataclass
from pathlib import PurePosixPath

from ..errors import QuestionError
from ..records import Passage

# ``source:handbook/* type:pdf after:2024-01-01 before:2025-01-01 kb:hr`` in a question on the page.
_TOKEN = re.compile(r"(?<!\S)(source|type|after|before|kb):(\S{1,1000})(?!\S)")
_KEYS = {"source": "source", "type": "type", "after": "modified_after", "before": "modified_before", "kb": "kb"}


def day(value, field: str) -> dt.date | None:
    """An ISO date (``2024-01-01``) from ``value``, None for None; else one sentence naming ``field``."""
    if value is None or isinstance(value, dt.date):
        return value
    try:
        if isinstance(value, str) and len(value) <= 32:
            return dt.date.fromisoformat(value.strip())
    except ValueError:
        pass
    shown = repr(value[:40]) if isinstance(value, str) else type(value).__name__
    raise QuestionError(f"{field} must be an ISO date such as 2024-01-01; got {shown}.")


@dataclass(frozen=True)
class Filters:
    """Which passages a question may cite: ``kb`` a knowledge base's name, ``source`` a glob over the cited
    file (``handbook/*``), ``type`` a file type (``.pdf`` or ``pdf``), and the file's modification day (as
    recorded when it was indexed, UTC): on or after ``modified_after``, before ``modified_before``."""

    kb: str | None = None
    source: str | None = None
    type: str | None = None
    modified_after: dt.date | None = None
    modified_before: dt.date | None = None

    def __post_init__(self):
        for name in ("kb", "source", "type"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, str) or not value.strip() or len(value) > 1000):
                raise QuestionError(f"The {name} filter must be a non-empty text of at most 1,000 characters.")
        if self.type is not None:
            object.__setattr__(self, "type", "." + self.type.lower().lstrip("."))
        object.__setattr__(self, "modified_after", day(self.modified_after, "modified_after"))
        object.__setattr__(self, "modified_before", day(self.modified_before, "modified_before"))

    @property
    def active(self) -> bool:
        """Whether passages are filtered (a knowledge base alone only chooses which ones are searched)."""
        return any(v is not None for v in (self.source, self.type, self.modified_after, self.modified_before))

    @property
    def needs_dates(self) -> bool:
        return self.modified_after is not None or self.modified_before is not None

    def takes_kb(self, name: str) -> bool:
        return self.kb is None or self.kb == name

    def keeps(self, passage: Passage, files: dict) -> bool:
        """Whether ``passage`` passes; ``files`` is the index manifest's file state (for the dates)."""
        source = passage.source
        if self.source is not None and not fnmatch.fnmatchcase(source, self.source):
            return False
        if self.type is not None and PurePosixPath(source).suffix.lower() != self.type:
            return False
        if not self.needs_dates:
            return True
        mtime = (files.get(source) or {}).get("mtime_ns")
        if not isinstance(mtime, int):  # an index that did not record it: the date is not known
            return False
        when = dt.datetime.fromtimestamp(mtime / 1e9, dt.UTC).date()
        return (self.modified_after is None or when >= self.modified_after) and (
            self.modified_before is None or when < self.modified_before
        )


def split_filters(question: str) -> tuple[str, Filters]:
    """The question without its filter words (``source:handbook/*``, ``type:pdf``, ``after:2024-01-01``,
    ``before:…``, ``kb:NAME``), and the filters they give (the last of each kind counts)."""
    if not isinstance(question, str):
        return question, Filters()
    found = {_KEYS[key]: value for key, value in _TOKEN.findall(question)}
    if not found:
        return question, Filters()
    return _TOKEN.sub(" ", question).strip(), Filters(**found)
