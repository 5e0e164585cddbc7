"""The question and the chat's earlier turns: a question cleaned and bounded, history in the shapes chat programs
keep, bounded, and follow-ups resolved against it."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from ..errors import QuestionError
from ..text import CONTROL, weight

MAX_QUESTION_CHARS = 2000
# Bounds on what a request's history may hold.
MAX_HISTORY_ITEMS = 400  # messages or turns in one history: 200 questions with their answers
CONTEXT_TURNS = 4  # earlier questions a follow-up may lean on; older ones never change the search
MAX_CONTEXT_CHARS = 2000  # of an earlier question, and of the resolved context a follow-up borrows
MAX_CONTENT_DEPTH = 3  # a message's content: text, a list of parts, a part's {"text": ...}
ROLES = ("user", "assistant", "system", "tool")

_FOLLOW_UP = re.compile(
    r"^(那|那么|还有|另外|并且|而且|此外|so\b|and\b|also\b|what about|how about)"
    r"|[它其该此这那][个些]?(?:组织|机构|会议|大会|活动|人|地方|时候)?"
    r"|\b(it|its|they|their|them|there|that|this|he|she|his|her|those|these)\b",
    re.IGNORECASE,
)

_WORD_CHAR = re.compile(r"[^\W_]")  # a letter, digit or CJK character

_HISTORY_HELP = (
    "The history must be a list of the chat's earlier questions, oldest first, e.g. "
    '["世界互联网大会国际组织是什么时候成立的?"] ([question, answer] pairs and {{"role": "user", "content": ...}} '
    "messages are read too); got {got}."
)


def clean_question(question: str) -> str:
    """Strip control characters and surrounding space; refuse a missing, empty, over-long or wordless question."""
    if question is None:
        raise QuestionError("The question is missing. Type a question, e.g. 世界互联网大会国际组织是什么时候成立的?")
    if not isinstance(question, str):
        raise QuestionError(f"The question must be text; got {type(question).__name__}.")
    text = CONTROL.sub(" ", question).strip()
    if not text:
        raise QuestionError("The question is empty. Type a question, e.g. 世界互联网大会国际组织是什么时候成立的?")
    if len(text) > MAX_QUESTION_CHARS:
        raise QuestionError(f"The question is {len(text)} characters long; shorten it to at most {MAX_QUESTION_CHARS}.")
    if not _WORD_CHAR.search(text):
        raise QuestionError("The question has no words, only symbols; ask in words, e.g. 乌镇峰会是什么时候开始的?")
    return text


def is_follow_up(question: str) -> bool:
    """A question that leans on the previous turn: a pronoun, a leading 那/and, or too few words alone."""
    return bool(_FOLLOW_UP.search(question)) or weight(question) < 6


def text_of(content) -> str:
    """The text of a chat message's content: a string, a ``{"text": ...}`` part, or a list of parts.

    Iterative, and refused past ``MAX_CONTENT_DEPTH`` levels: content nested 900 deep is no message.
    Parts without text (a file, an image) count as no text.
    """
    pieces, stack = [], [(content, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_CONTENT_DEPTH:
            raise QuestionError(_HISTORY_HELP.format(got=f"message content nested more than {MAX_CONTENT_DEPTH} deep"))
        if isinstance(item, str):
            pieces.append(item)
        elif isinstance(item, dict):
            text = item.get("text")
            if text is not None:
                stack.append((text, depth + 1))
        elif isinstance(item, list | tuple):
            stack.extend((part, depth + 1) for part in reversed(item))
        elif item is not None:
            raise QuestionError(_HISTORY_HELP.format(got=f"message content {type(item).__name__} {str(item)[:40]!r}"))
    return "".join(pieces)


def earlier_questions(history) -> list[str]:
    """The chat's last ``CONTEXT_TURNS`` questions, oldest first, from a list of questions, of [question, answer]
    pairs or of {"role", "content"} messages (the shapes chat front-ends keep; only the user's turns count).

    Every item is checked, so a malformed history gets one sentence wherever the bad item is; each question is
    cut to ``MAX_CONTEXT_CHARS`` and cleaned of control characters.

    Raises:
        QuestionError: the history is not such a list, or holds more than ``MAX_HISTORY_ITEMS`` items.
    """
    if history is None:
        return []
    if isinstance(history, str):
        history = [history]
    if not isinstance(history, list | tuple):
        raise QuestionError(_HISTORY_HELP.format(got=type(history).__name__))
    if len(history) > MAX_HISTORY_ITEMS:
        raise QuestionError(
            f"The history holds {len(history):,} items; at most {MAX_HISTORY_ITEMS} are read. "
            "Start a new chat, or send only the last few questions."
        )
    questions = [text for text in map(_question_of, history) if text]
    return questions[-CONTEXT_TURNS:]


def _question_of(item) -> str:
    """The user's question in one history item ('' for an answer or an empty item)."""
    if isinstance(item, dict) and "content" in item:
        role = item.get("role", "user")
        if role not in ROLES:
            raise QuestionError(
                _HISTORY_HELP.format(got=f"a message with role {str(role)[:20]!r} (roles: {', '.join(ROLES)})")
            )
        text = text_of(item["content"]) if role == "user" else ""
    elif isinstance(item, list | tuple) and item:
        text = item[0]
    else:
        text = item
    if text is None:
        return ""
    if not isinstance(text, str):
        raise QuestionError(_HISTORY_HELP.format(got=f"an item {type(item).__name__} {str(item)[:40]!r}"))
    return CONTROL.sub(" ", text[: MAX_CONTEXT_CHARS * 2]).strip()[:MAX_CONTEXT_CHARS]


def search_query(question: str, history: Sequence[str] = ()) -> str:
    """The text to retrieve with: a follow-up is prefixed by the (resolved) previous question.

    Resolved oldest first, in one pass over the last ``CONTEXT_TURNS`` questions: each follow-up joins the
    context it leans on, any other question starts a new one; the context is cut to its first ``MAX_CONTEXT_CHARS``
    (the question that set the subject comes first).
    """
    context = ""
    for earlier in history[-CONTEXT_TURNS:]:
        earlier = CONTROL.sub(" ", earlier or "").strip()[:MAX_CONTEXT_CHARS]
        if earlier:
            context = f"{context} {earlier}"[:MAX_CONTEXT_CHARS] if context and is_follow_up(earlier) else earlier
    if not context or not is_follow_up(question):
        return question
    return f"{context} {question}"


@dataclass(frozen=True)
class Query:
    """What to retrieve with: weighted texts (a follow-up is the question plus its context)."""

    parts: tuple[str, ...]
    weights: tuple[float, ...] = (1.0,)

    @classmethod
    def of(cls, text: str) -> Query:
        return cls((text,), (1.0,))

    @property
    def text(self) -> str:
        return " ".join(self.parts)


def make_query(question: str, history: Sequence[str] = (), *, context_weight: float = 0.5) -> Query:
    """A follow-up keeps its own words first and borrows the resolved previous question as context."""
    combined = search_query(question, history)
    if combined == question:
        return Query.of(question)
    return Query((question, combined), (1.0 - context_weight, context_weight))
