"""Several knowledge bases: their names, ``NAME=FOLDER`` definitions, and searching one or all of them."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import KnowledgeBaseError, UnknownKnowledgeBase
from ..records import Answer, Hit
from ..search import MAX_TOP_K, clean_question, make_answer
from .assistant import Assistant
from .filters import Filters

ALL = "all"  # searches every knowledge base ("*" too)
DEFAULT = "default"  # the first knowledge base, in the REST API
MAX_NAME = 64
# Letters and digits of ASCII, "-", "_", and CJK ideographs (the unified blocks and their extensions).
NAME_CHARS = "A-Za-z0-9_\\-\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
_NAME = re.compile(f"[{NAME_CHARS}]{{1,{MAX_NAME}}}")
_NOT_NAME = re.compile(f"[^{NAME_CHARS}]+")


def check_name(name) -> str:
    """``name`` if it can name a knowledge base, else the one sentence saying what a name is."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        shown = repr(name[:70]) if isinstance(name, str) else "That"
        raise KnowledgeBaseError(
            f"{shown} is not a knowledge base name; use 1 to {MAX_NAME} letters, digits, '-', '_' or Chinese characters."
        )
    if name.lower() in (ALL, DEFAULT):
        raise KnowledgeBaseError(f"{name!r} is a reserved word, not a knowledge base name; choose another name.")
    return name


def folder_name(folder: str | Path) -> str:
    """A knowledge base name made from a folder's name (its other characters become ``-``)."""
    base = _NOT_NAME.sub("-", Path(folder).resolve().name).strip("-")[:MAX_NAME]
    return base if base and base.lower() not in (ALL, DEFAULT) else "kb"


@dataclass(frozen=True)
class KBSpec:
    """A knowledge base as the command line gives it: ``NAME=FOLDER``, or a bare ``FOLDER`` (named after it)."""

    name: str | None
    folder: Path

    @classmethod
    def parse(cls, text: str) -> KBSpec:
        if not isinstance(text, str) or not text.strip() or len(text) > 4096:
            raise KnowledgeBaseError("--kb needs NAME=FOLDER (or a FOLDER), e.g. --kb handbook=docs/handbook.")
        name, sep, folder = text.partition("=")
        if not sep:
            return cls(None, Path(text))
        if not folder:
            raise KnowledgeBaseError(f"--kb {text[:80]!r} names no folder; write --kb NAME=FOLDER.")
        return cls(check_name(name), Path(folder))


def unique_names(specs: Sequence[KBSpec]) -> list[str]:
    """Each spec's name: its own (two alike are refused), else its folder's, made unique with ``-2``, ``-3`` …"""
    given = [s.name for s in specs if s.name]
    if twice := sorted({n for n in given if given.count(n) > 1}):
        raise KnowledgeBaseError(f"Two knowledge bases are named {twice[0]!r}; give each its own name.")
    names: list[str] = []
    for spec in specs:
        if spec.name:
            names.append(spec.name)
            continue
        base = folder_name(spec.folder)
        name, n = base, 1
        while name in names or name in given:
            n += 1
            name = f"{base}-{n}"
        names.append(name)
    return names


class KnowledgeBases:
    """Knowledge bases by name, in order (the first is ``default``): choose one or all, search them.

    Args:
        kbs: name → assistant; names are checked (see :func:`check_name`).
    """

    def __init__(self, kbs: Mapping[str, Assistant]):
        if not kbs:
            raise KnowledgeBaseError("No knowledge base was given; pass --corpus FOLDER or --kb NAME=FOLDER.")
        self._kbs = {check_name(name): bot for name, bot in kbs.items()}

    @classmethod
    def of(cls, assistants: Sequence[Assistant]) -> KnowledgeBases:
        """The assistants named after their folders."""
        names = unique_names([KBSpec(None, bot.corpus) for bot in assistants])
        return cls(dict(zip(names, assistants, strict=True)))

    def __len__(self) -> int:
        return len(self._kbs)

    def __iter__(self) -> Iterator[str]:
        return iter(self._kbs)

    def items(self):
        return self._kbs.items()

    @property
    def names(self) -> list[str]:
        return list(self._kbs)

    @property
    def first(self) -> Assistant:
        return next(iter(self._kbs.values()))

    def get(self, name) -> Assistant:
        """The knowledge base ``name`` (``default``: the first).

        Raises:
            UnknownKnowledgeBase: there is none of that name (or it is ``all``).
        """
        if name == DEFAULT and DEFAULT not in self._kbs:
            return self.first
        if name in (ALL, "*"):
            raise UnknownKnowledgeBase(f"This needs one knowledge base, not all; choose one of {', '.join(self._kbs)}.")
        if not isinstance(name, str) or name not in self._kbs:
            shown = repr(name[:80]) if isinstance(name, str) else repr(type(name).__name__)
            raise UnknownKnowledgeBase(
                f"There is no knowledge base {shown}; choose one of {', '.join(self._kbs)} or {ALL}."
            )
        return self._kbs[name]

    def chosen(self, name) -> list[tuple[str, Assistant]]:
        """``[(name, assistant)]`` for one knowledge base, or every one for ``all`` (or ``*``)."""
        if name in (ALL, "*"):
            return list(self._kbs.items())
        bot = self.get(name)
        return [(next(n for n, b in self._kbs.items() if b is bot), bot)]

    def settings(self, name: str) -> dict:
        """The settings knowledge base ``name`` answers with: passages, balance, threshold and model."""
        bot = self.get(name)
        return {"top_k": bot.top_k, "alpha": bot.alpha, "threshold": bot.threshold, "model": bot.encoder.name}

    def version(self) -> tuple:
        """Changes whenever any knowledge base's index is replaced (a cheap check for the page's list)."""
        return tuple((id(bot.index), bot.index.manifest.get("built_at")) for bot in self._kbs.values())

    def ask(
        self,
        question: str,
        history: Sequence = (),
        *,
        kb: str = ALL,
        top_k: int | None = None,
        alpha: float | None = None,
        threshold: float | None = None,
        filters: Filters | None = None,
    ) -> Answer:
        """Answer from knowledge base ``kb`` (or all of them, best scores first), each hit naming its KB.

        Each knowledge base answers with its own settings unless ``top_k``, ``alpha`` or ``threshold`` are
        given; with ``filters``, its best 50 passages are filtered and cut to ``top_k``.
        """
        clean_question(question)  # a bad question says so even when no knowledge base is searched
        filters = filters or Filters()
        targets = [(n, b) for n, b in self.chosen(kb) if filters.takes_kb(n)]
        if filters.kb is not None and not targets:
            self.get(filters.kb)  # an unknown name says so; a known one outside ``kb`` finds nothing
        hits: list[Hit] = []
        answers = []
        for name, bot in targets:
            answer = bot.ask(
                question, history, top_k=MAX_TOP_K if filters.active else top_k, alpha=alpha, threshold=threshold
            )
            answers.append(answer)
            files = bot.index.manifest.get("files", {}) if filters.needs_dates else {}
            hits += [dataclasses.replace(hit, kb=name) for hit in answer.hits if filters.keeps(hit.passage, files)]
        limit = top_k or max((bot.top_k for _, bot in targets), default=5)
        hits = sorted(hits, key=lambda h: -h.order_score)[:limit]
        first = answers[0] if answers else None
        if len(answers) == 1 and not filters.active and hits:
            return dataclasses.replace(first, hits=tuple(hits))
        return make_answer(
            first.question if first else question,
            hits,
            found=bool(hits),
            search_query=first.search_query if first else "",
            terms=first.terms if first else (),
        )
