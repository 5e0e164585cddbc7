"""The documents of one index as a reader sees them: the list of files, each file's passages in reading
order, the paragraphs around a passage, a passage by its citation."""

from __future__ import annotations

from collections.abc import Set

from ..errors import QuestionError
from ..records import DocumentInfo, Passage
from ..storage import Index, columns


class Library:
    """Made once per index: its passage columns (no saved passage is parsed for them) and the rows of each
    file's passages in reading order."""

    def __init__(self, index: Index):
        self.index = index
        self.columns = cols = columns(index.passages)
        rows: dict[str, list[int]] = {}
        for i, source in enumerate(cols.sources):
            rows.setdefault(source, []).append(i)
        for ids in rows.values():
            ids.sort(key=lambda i: (cols.paragraph[i], cols.part[i]))
        self.rows = rows

    def documents(self, *, uploaded: Set[str] = frozenset()) -> list[DocumentInfo]:
        """The documents by source: title, passage and paragraph counts, and whether each is one of ``uploaded``
        (the sources read from the uploads folder: a corpus file is never marked, whatever its name)."""
        cols = self.columns
        return [
            DocumentInfo(
                source=source,
                title=cols.titles[rows[0]],
                passages=len(rows),
                paragraphs=int(cols.last[rows].max()),
                uploaded=source in uploaded,
            )
            for source, rows in self.rows.items()
        ]

    def context(self, passage: Passage, *, before: int = 1, after: int = 1) -> list[Passage]:
        """The passage's whole paragraph (all its parts) with ``before``/``after`` paragraphs around it,
        in reading order; just the passage when it is no longer in the index."""
        blocks: list[list[Passage]] = []
        for p in (self.index.passages[i] for i in self.rows.get(passage.source, [])):
            key = (p.paragraph, p.first_paragraph, p.last_paragraph)
            if blocks and (blocks[-1][0].paragraph, blocks[-1][0].first_paragraph, blocks[-1][0].last_paragraph) == key:
                blocks[-1].append(p)
            else:
                blocks.append([p])
        at = next((i for i, block in enumerate(blocks) if passage in block), None)
        if at is None:
            return [passage]
        return [p for block in blocks[max(0, at - before) : at + after + 1] for p in block]

    def passage(self, source: str, paragraph: int, part: int = 0) -> Passage:
        """The passage at ``source`` ¶``paragraph`` (``part`` of a long one).

        Raises:
            QuestionError: no such passage.
        """
        for i in self.rows.get(source, []):
            p = self.index.passages[i]
            if p.paragraph == paragraph and p.part == part:
                return p
        raise QuestionError(f"No passage {source} ¶{paragraph}" + (f", part {part}" if part else "") + ".")
