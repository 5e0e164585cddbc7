"""Typed records that travel between the pipeline stages."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Paragraph:
    """One paragraph of a source file as a reader counts it (``number`` starts at 1), and where it is:
    its PDF ``page``, PPTX ``slide``, ``sheet`` and ``row`` of a spreadsheet, heading path ``section``
    (headings joined with `` › ``); 0 or "" where the file type has no such place."""

    number: int
    text: str
    page: int = 0
    slide: int = 0
    section: str = ""
    sheet: str = ""
    row: int = 0


@dataclass(frozen=True)
class Document:
    """A decoded source file: its title and its paragraphs in reading order."""

    doc_id: str
    source: str
    title: str
    paragraphs: tuple[Paragraph, ...]


@dataclass(frozen=True)
class Passage:
    """The unit that is indexed and cited: one paragraph, or one window of a long paragraph.

    ``paragraph`` is the cited ¶ number (the main paragraph); ``first_paragraph`` and
    ``last_paragraph`` span the short lines (bylines, labels) attached to it; ``part`` is 1.. for
    windows of a long paragraph, 0 otherwise. ``page``, ``slide``, ``section``, ``sheet`` and ``row`` are
    its main paragraph's place (see ``Paragraph``); ``local_paragraph`` is that paragraph counted from the
    start of its page or section (0: not counted there).
    """

    doc_id: str
    source: str
    title: str
    paragraph: int
    text: str
    part: int = 0
    first_paragraph: int = 0
    last_paragraph: int = 0
    page: int = 0
    slide: int = 0
    section: str = ""
    sheet: str = ""
    row: int = 0
    local_paragraph: int = 0

    @property
    def citation(self) -> str:
        """Human-readable location, e.g. ``¶21, part 2`` or ``¶29–31`` (short lines attached) in a text file;
        ``p. 12 · ¶3``, ``slide 4``, ``Sheet1 · row 37`` or ``3 休假 › 3.2 年假 · ¶2`` where the file has places."""
        where = self.place or self.paragraphs
        return f"{where}, part {self.part}" if self.part else where

    @property
    def paragraphs(self) -> str:
        """The paragraphs it spans, as a reader counts them in the file: ``¶15`` or ``¶29–31``."""
        first = self.first_paragraph or self.paragraph
        last = self.last_paragraph or self.paragraph
        return f"¶{first}" if first == last else f"¶{first}–{last}"

    @property
    def place(self) -> str:
        """Where the passage is in a file that has places (``p. 12 · ¶3``, ``slide 4``, …); "" in a text file."""
        if not (self.page or self.slide or self.sheet or self.section):
            return ""
        if self.sheet:
            parts = [self.sheet, f"row {self.row}"] if self.row else [self.sheet]
        elif self.slide:
            parts = [f"slide {self.slide}"]
        else:
            parts = [self.section] if self.section else []
            if self.page:
                parts.append(f"p. {self.page}")
            if self.local_paragraph:
                parts.append(f"¶{self.local_paragraph}")
        return " · ".join(parts)


@dataclass(frozen=True)
class Hit:
    """A passage returned by retrieval with its fused and component scores."""

    passage: Passage
    score: float
    dense_score: float = 0.0
    keyword_score: float = 0.0
    sentence: str = ""
    sentence_score: float = 0.0  # how well ``sentence`` matches the question (set with it by answer.best_sentences)
    row: int = -1  # the passage's row in the index it came from (-1: not from an index)
    kb: str = ""  # the knowledge base it came from, when several are searched ("": not named)
    confidence: float = 0.0  # calibrated probability that it answers the question (set by search.calibrate)
    # What the document prior added for the order (search.retriever.document_prior), kept out of ``score``: the
    # calibrated "not found" was fitted on corpora where it is zero, and lifting every card of the file by it
    # moved its probabilities down (score weighs against score_margin).
    document: float = 0.0

    @property
    def order_score(self) -> float:
        """What the hits are ordered by: the fused score and the document prior."""
        return self.score + self.document


@dataclass(frozen=True)
class Answer:
    """What the assistant says to one question: an extractive answer and the cited hits."""

    question: str
    found: bool
    answer: str
    hits: tuple[Hit, ...] = field(default_factory=tuple)
    search_query: str = ""
    # The answer's sentences, each with the numbers (1-based) of the hits that say it; the hits no sentence
    # cites ("see also"); the question's words as the keyword index folds them (what the cards highlight).
    sentences: tuple[tuple[str, tuple[int, ...]], ...] = ()
    see_also: tuple[int, ...] = ()
    terms: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        """The ``ask --json`` shape."""
        return {
            "question": self.question,
            "found": self.found,
            "answer": self.answer,
            "passages": [
                {
                    **({"kb": h.kb} if h.kb else {}),
                    "text": h.passage.text,
                    "title": h.passage.title,
                    "source": h.passage.source,
                    "paragraph": h.passage.paragraph,
                    "part": h.passage.part,
                    "citation": h.passage.citation,
                    "page": h.passage.page,
                    "slide": h.passage.slide,
                    "section": h.passage.section,
                    "sheet": h.passage.sheet,
                    "row": h.passage.row,
                    "sentence": h.sentence,
                    "score": round(h.score, 4),
                    "dense_score": round(h.dense_score, 4),
                    "keyword_score": round(h.keyword_score, 4),
                }
                for h in self.hits
            ],
        }


@dataclass(frozen=True)
class DocumentInfo:
    """One document of the knowledge base, as the web chat lists it."""

    source: str
    title: str
    passages: int
    paragraphs: int
    uploaded: bool = False


@dataclass(frozen=True)
class UploadReport:
    """What an upload did: documents added (or replaced) and files refused, with the reason."""

    added: tuple[DocumentInfo, ...] = ()
    refused: tuple[tuple[str, str], ...] = ()
