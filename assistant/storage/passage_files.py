"""The passages of a saved index, read from its JSON-lines segment files as they are asked for.

Loading a saved index used to parse every passage: ~7 s and about a gigabyte of objects at a million
passages. ``SavedPassages`` finds where each line starts (one vectorised scan of each file) and parses
a passage when a question needs it; whole-corpus views (files and their passages, reading order) come
from ``columns``, a compact parse that keeps a few arrays, not a million objects; which file each
passage is from (all an update needs) comes from the runs the manifest records (``SourceCodes``),
without reading the files. ``PassageView`` is an updated index's passages: those an update kept from
a saved version, then the new ones.
"""

from __future__ import annotations

import bisect
import json
import os
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import IndexStoreError
from ..records import Passage

_SCAN = 16 << 20  # bytes per read when finding line starts


@dataclass(frozen=True)
class Columns:
    """Per passage, row-aligned: its file, and where it is in that file (for reading order and counts)."""

    sources: list[str]
    titles: list[str]
    paragraph: np.ndarray  # first paragraph (or the paragraph) of the passage
    last: np.ndarray  # last paragraph it covers
    part: np.ndarray

    def take(self, rows: np.ndarray) -> Columns:
        return Columns(
            [self.sources[i] for i in rows],
            [self.titles[i] for i in rows],
            self.paragraph[rows],
            self.last[rows],
            self.part[rows],
        )

    @classmethod
    def of(cls, passages: Sequence[Passage]) -> Columns:
        return cls(
            [p.source for p in passages],
            [p.title for p in passages],
            np.fromiter((p.first_paragraph or p.paragraph for p in passages), np.int64, len(passages)),
            np.fromiter((p.last_paragraph or p.paragraph for p in passages), np.int64, len(passages)),
            np.fromiter((p.part for p in passages), np.int64, len(passages)),
        )

    @classmethod
    def joined(cls, parts: list[Columns]) -> Columns:
        return cls(
            [s for c in parts for s in c.sources],
            [t for c in parts for t in c.titles],
            *(np.concatenate([getattr(c, f) for c in parts]) for f in ("paragraph", "last", "part")),
        )


def columns(passages: Sequence[Passage]) -> Columns:
    """The passages' ``Columns``, without parsing saved passages into objects when they are on disk."""
    made = getattr(passages, "columns", None)
    return made() if made is not None else Columns.of(passages)


@dataclass(frozen=True)
class SourceCodes:
    """Which file each passage is from, as a number per passage (``codes``) into ``names``."""

    names: list[str]
    codes: np.ndarray

    @classmethod
    def of(cls, sources: Iterable[str]) -> SourceCodes:
        number: dict[str, int] = {}
        codes = np.fromiter((number.setdefault(s, len(number)) for s in sources), dtype=np.int64)
        return cls(list(number), codes)

    @classmethod
    def of_runs(cls, runs: Sequence[tuple[str, int]]) -> SourceCodes:
        """The codes that ``runs`` describes (``(file, passages)`` pairs, as :meth:`runs` makes them)."""
        names = list(dict.fromkeys(name for name, _ in runs))
        number = {name: i for i, name in enumerate(names)}
        codes = np.repeat([number[name] for name, _ in runs], [n for _, n in runs]).astype(np.int64)
        return cls(names, codes)

    def joined(self, other: SourceCodes) -> SourceCodes:
        number = {name: i for i, name in enumerate(self.names)}
        remap = np.array([number.setdefault(name, len(number)) for name in other.names], dtype=np.int64)
        return SourceCodes(list(number), np.concatenate([self.codes, remap[other.codes]]))

    def rows_of(self, names: Iterable[str]) -> np.ndarray:
        """A mask of the passages whose file is one of ``names``."""
        wanted = set(names)
        return np.isin(self.codes, [i for i, name in enumerate(self.names) if name in wanted])

    def runs(self, start: int, stop: int) -> list[list]:
        """``[[file, passages], …]`` of passages ``start:stop``, one pair per run of consecutive passages of
        one file (a file's passages are consecutive, so about one per file)."""
        codes = self.codes[start:stop]
        if not len(codes):
            return []
        edges = np.r_[0, np.flatnonzero(np.diff(codes)) + 1, len(codes)]
        return [
            [self.names[c], int(n)] for c, n in zip(codes[edges[:-1]].tolist(), np.diff(edges).tolist(), strict=True)
        ]


def source_codes(passages: Sequence[Passage]) -> SourceCodes:
    """Each passage's file: for saved passages from the runs their manifest records, without reading them."""
    made = getattr(passages, "source_codes", None)
    return made() if made is not None else SourceCodes.of(p.source for p in passages)


def passage_lines(passages: Sequence[Passage], start: int, stop: int, encode) -> bytes:
    """Passages ``start:stop`` as JSON lines (``encode`` makes one from a passage's fields): saved passages
    are copied as the bytes they were saved as, not parsed and encoded again (an update that rewrites a
    segment of 60k passages keeps most of them)."""
    made = getattr(passages, "lines", None)
    if made is not None:
        return made(start, stop, encode)
    return "".join(encode(vars(p)) + "\n" for p in passages[start:stop]).encode("utf-8")  # vars: asdict deep-copies


class _Passages(Sequence[Passage]):
    """Indexing, slicing and equality for passage sequences that make a passage on demand (``_item``)."""

    def _item(self, i: int) -> Passage:
        raise NotImplementedError

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self._item(j) for j in range(*i.indices(len(self)))]
        i = int(i)
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError("passage index out of range")
        return self._item(i)

    def __eq__(self, other) -> bool:
        return isinstance(other, Sequence) and list(self) == list(other)

    __hash__ = None  # type: ignore[assignment]


class SavedPassages(_Passages):
    """Passages of saved segment files (one JSON object per line), parsed when asked for.

    The files stay open: a writer may delete this version's folder while it is served, and an open
    file keeps its data. A passage asked for twice is the same object.
    """

    def __init__(self, paths: list[Path], counts: list[int], runs: list[list] | None = None):
        """``runs``: each segment's ``SourceCodes.runs`` as the manifest records them (None: read the files)."""
        self._runs = _checked_runs(runs, counts)
        self._files = []
        self._starts: list[np.ndarray] = []
        for path, count in zip(paths, counts, strict=True):
            handle = open(path, "rb")  # noqa: SIM115 - kept open for the life of the index
            self._files.append(handle)
            starts = _line_starts(handle)
            if len(starts) - 1 != count:
                raise IndexStoreError(f"{path.name} holds {len(starts) - 1} passages, its manifest {count}")
            self._starts.append(starts)
        self._bounds = np.cumsum([0, *counts]).tolist()
        self._cache: dict[int, Passage] = {}
        self._columns: Columns | None = None

    def __len__(self) -> int:
        return self._bounds[-1]

    def _item(self, i: int) -> Passage:
        found = self._cache.get(i)
        if found is None:
            segment = bisect.bisect_right(self._bounds, i) - 1
            starts = self._starts[segment]
            row = i - self._bounds[segment]
            first, end = int(starts[row]), int(starts[row + 1])
            line = os.pread(self._files[segment].fileno(), end - first, first)
            found = self._cache.setdefault(i, Passage(**json.loads(line)))
        return found

    def __iter__(self) -> Iterator[Passage]:
        for segment in range(len(self._files)):
            offset = self._bounds[segment]
            for row, fields in enumerate(self._rows(segment)):
                yield self._cache.get(offset + row) or self._cache.setdefault(offset + row, Passage(**fields))

    def lines(self, start: int, stop: int, encode=None) -> bytes:
        return self.raw(np.arange(start, max(start, stop)))

    def raw(self, rows: np.ndarray) -> bytes:
        """The saved lines of ``rows`` (ascending), read in one piece per run of consecutive rows."""
        rows = np.asarray(rows, dtype=np.int64)
        if not len(rows):
            return b""
        segment = np.searchsorted(self._bounds, rows, side="right") - 1
        # a run ends where the next row is not the next one or lies in another segment
        breaks = np.flatnonzero((np.diff(rows) != 1) | (np.diff(segment) != 0)) + 1
        out = []
        for a, b in zip(np.r_[0, breaks].tolist(), np.r_[breaks, len(rows)].tolist(), strict=True):
            k = int(segment[a])
            first, last = int(rows[a]) - self._bounds[k], int(rows[b - 1]) - self._bounds[k]
            begin, end = int(self._starts[k][first]), int(self._starts[k][last + 1])
            out.append(os.pread(self._files[k].fileno(), end - begin, begin))
        return b"".join(out)

    def source_codes(self) -> SourceCodes:
        """Each passage's file, from the recorded runs when there are any (a million rows: milliseconds)."""
        if self._runs is None:
            return SourceCodes.of(self.columns().sources)
        return SourceCodes.of_runs(self._runs)

    def columns(self) -> Columns:
        """Sources, titles and paragraph numbers of all passages (parsed once, kept as a few arrays)."""
        if self._columns is None:
            parts = []
            for segment in range(len(self._files)):
                rows = self._rows(segment)
                parts.append(
                    Columns(  # interned: a million rows share a few thousand files and titles
                        [sys.intern(r["source"]) for r in rows],
                        [sys.intern(r["title"]) for r in rows],
                        np.fromiter((r.get("first_paragraph") or r["paragraph"] for r in rows), np.int64, len(rows)),
                        np.fromiter((r.get("last_paragraph") or r["paragraph"] for r in rows), np.int64, len(rows)),
                        np.fromiter((r.get("part", 0) for r in rows), np.int64, len(rows)),
                    )
                )
            self._columns = Columns.joined(parts) if parts else Columns.of([])
        return self._columns

    def _rows(self, segment: int) -> list[dict]:
        """All rows of one segment file, in one parse (one JSON array, not one parse per line)."""
        handle = self._files[segment]
        size = int(self._starts[segment][-1])
        lines = os.pread(handle.fileno(), size, 0).decode("utf-8").split("\n")[:-1]
        # split at "\n" only: splitlines() also splits at U+2028, U+0085 …, which JSON leaves unescaped in text
        return json.loads("[" + ",".join(lines) + "]")


class PassageView(_Passages):
    """Some rows of saved passages followed by passages in memory: an update's passages (the rows it kept
    from the saved version, then its new files')."""

    def __init__(self, base: SavedPassages, rows: np.ndarray, extra: list[Passage]):
        self.base, self.rows, self.extra = base, np.asarray(rows, dtype=np.int64), list(extra)
        self._columns: Columns | None = None

    def __len__(self) -> int:
        return len(self.rows) + len(self.extra)

    def _item(self, i: int) -> Passage:
        return self.base[self.rows[i]] if i < len(self.rows) else self.extra[i - len(self.rows)]

    def __iter__(self) -> Iterator[Passage]:
        if len(self.rows):
            every = list(self.base)
            yield from (every[r] for r in self.rows)
        yield from self.extra

    def columns(self) -> Columns:
        if self._columns is None:
            self._columns = Columns.joined([self.base.columns().take(self.rows), Columns.of(self.extra)])
        return self._columns

    def lines(self, start: int, stop: int, encode) -> bytes:
        stop = min(stop, len(self))
        kept = self.rows[start : max(start, min(stop, len(self.rows)))]
        extra = self.extra[max(0, start - len(self.rows)) : max(0, stop - len(self.rows))]
        return self.base.raw(kept) + passage_lines(extra, 0, len(extra), encode)

    def source_codes(self) -> SourceCodes:
        base = self.base.source_codes()
        return SourceCodes(base.names, base.codes[self.rows]).joined(SourceCodes.of(p.source for p in self.extra))


def kept_and_added(passages: Sequence[Passage], keep: np.ndarray, added: list[Passage]) -> Sequence[Passage]:
    """``passages`` where ``keep``, then ``added``, without parsing saved passages that are not needed."""
    keep = np.asarray(keep, dtype=bool)
    if isinstance(passages, SavedPassages):
        return PassageView(passages, np.flatnonzero(keep), added)
    if isinstance(passages, PassageView):
        n = len(passages.rows)
        extra = [p for p, k in zip(passages.extra, keep[n:], strict=True) if k]
        return PassageView(passages.base, passages.rows[keep[:n]], extra + list(added))
    return [p for p, k in zip(passages, keep, strict=True) if k] + list(added)


def _checked_runs(runs: list[list] | None, counts: list[int]) -> list[tuple[str, int]] | None:
    """All segments' runs in one list, or None unless each segment's are ``[file, passages]`` pairs adding up
    to its passages (then the files are read instead)."""
    if runs is None or len(runs) != len(counts):
        return None
    out = []
    for segment, count in zip(runs, counts, strict=True):
        if not isinstance(segment, list) or not all(
            isinstance(r, list) and len(r) == 2 and isinstance(r[0], str) and type(r[1]) is int and r[1] > 0
            for r in segment
        ):
            return None
        if sum(n for _, n in segment) != count:
            return None
        out += [(sys.intern(name), n) for name, n in segment]
    return out


def _line_starts(handle) -> np.ndarray:
    """Byte offsets where each line of the file starts, and its size at the end (n lines → n + 1 values)."""
    ends, offset = [], 0
    while chunk := os.pread(handle.fileno(), _SCAN, offset):
        ends.append(np.flatnonzero(np.frombuffer(chunk, dtype=np.uint8) == 10) + offset + 1)
        offset += len(chunk)
    starts = np.concatenate([[0], *ends]).astype(np.int64) if ends else np.zeros(1, np.int64)
    if starts[-1] != offset:  # a last line without its newline: the file was cut short
        raise IndexStoreError(f"{Path(handle.name).name} ends in the middle of a passage")
    return starts
