"""The web chat's functions for other programs (gradio_client): ask, documents, upload, remove, context, page.

Imported only when the web app is built; the type hints are read by ``gr.api`` (so no postponed annotations).
"""

import base64
import functools
import logging
from dataclasses import asdict
from pathlib import Path

import gradio as gr

from ..api import Assistant
from ..errors import AssistantError, QuestionError, UploadError
from ..text import MAX_FILES_PER_UPLOAD
from .webguard import UNEXPECTED

MAX_CONTEXT = 10
MAX_SOURCE_CHARS = 1000
logger = logging.getLogger(__name__)


def whole(value):
    """A slider's 5.0 as 5; anything else as it came, for the API to accept or explain."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def count(value, name: str, *, lowest: int = 0, highest: int | None = None) -> int:
    """A whole number for the argument ``name`` (5.0 from a slider counts; "1", 1.5, true and null do not)."""
    value = whole(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < lowest:
        raise QuestionError(f"{name} must be a whole number from {lowest}; got {value!r}."[:300])
    return value if highest is None else min(value, highest)


def source_name(value) -> str:
    """A document's source as the knowledge base lists it (``uploads/notes.md``), or one sentence."""
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_SOURCE_CHARS:
        raise QuestionError(f"source must be a document's name as /documents lists it; got {str(value)[:60]!r}.")
    if any(ord(ch) < 32 or 0x7F <= ord(ch) < 0xA0 for ch in value):
        raise QuestionError("source must be a document's name as /documents lists it; it holds a control character.")
    return value


def uploaded_files(files) -> list[tuple[str, Path]]:
    """(name, path) of each file of an /upload call, or one sentence saying what ``files`` must be."""
    if not isinstance(files, list):
        raise UploadError(
            f"files must be a list of uploaded files (gradio_client's handle_file); got {type(files).__name__}."
        )
    if len(files) > MAX_FILES_PER_UPLOAD:
        raise UploadError(f"{len(files)} files at once; upload at most {MAX_FILES_PER_UPLOAD} at a time.")
    out = []
    for file in files:
        data = file if isinstance(file, dict) else file.model_dump() if isinstance(file, gr.FileData) else None
        if not data or not isinstance(data.get("path"), str):
            raise UploadError(
                f"files must be a list of uploaded files (gradio_client's handle_file); got {str(file)[:60]!r}."
            )
        path = Path(data["path"])
        name = data.get("orig_name") if isinstance(data.get("orig_name"), str) else None
        out.append((name or path.name, path))
    return out


def register(assistant: Assistant) -> None:
    """Add the endpoints to the Blocks being built (call inside ``with gr.Blocks()``)."""

    def guarded(fn):
        @functools.wraps(fn)
        def call(*args, **kwargs):
            try:
                return fn(*args, **kwargs)
            except AssistantError as exc:  # the user's to fix: one line in the log, no traceback
                logger.info("Refused a call to /%s: %s", fn.__name__, exc)
                raise gr.Error(str(exc), print_exception=False) from None
            except Exception as exc:  # a bug: one sentence for the caller, one line in the log
                logger.error("/%s failed: %s: %s", fn.__name__, type(exc).__name__, str(exc)[:200])
                logger.debug("Details", exc_info=True)
                raise gr.Error(UNEXPECTED, print_exception=False) from None

        return call

    def ask(question: str | None = None, history: list[str] | None = None, top_k: int = 5) -> dict:
        """Answer a question from the documents: the same JSON as ``ask --json``."""
        return assistant.ask(question, history or [], top_k=whole(top_k)).to_dict()

    def documents() -> list[dict]:
        """The documents in the knowledge base: source, title, passages, paragraphs, uploaded."""
        return [asdict(d) for d in assistant.documents()]

    def upload(files: list[gr.FileData]) -> dict:
        """Add .txt/.md/.html documents; returns ``{"added": [documents], "refused": [[name, reason]]}``."""
        report = assistant.add_documents(uploaded_files(files))
        return {"added": [asdict(d) for d in report.added], "refused": [list(r) for r in report.refused]}

    def remove(source: str) -> list[dict]:
        """Remove an uploaded document (e.g. ``uploads/notes.md``); returns the documents left."""
        assistant.remove_document(source_name(source))
        return documents()

    def context(source: str, paragraph: int, part: int = 0, before: int = 1, after: int = 1) -> list[dict]:
        """A cited paragraph with up to 10 paragraphs before and after it, in reading order."""
        passage = assistant.passage(source_name(source), count(paragraph, "paragraph", lowest=1), count(part, "part"))
        around = assistant.context(
            passage,
            before=count(before, "before", highest=MAX_CONTEXT),
            after=count(after, "after", highest=MAX_CONTEXT),
        )
        return [
            {
                "paragraph": p.paragraph,
                "part": p.part,
                "citation": p.citation,
                "text": p.text,
                "cited": p.paragraph == passage.paragraph,
            }
            for p in around
        ]

    def page(source: str, page: int = 0, paragraph: int = 0, part: int = 0) -> dict:
        """A page of an indexed PDF as a PNG ``data:`` URL at most 1,400 pixels wide, with ``boxes`` (left, top,
        right, bottom in its pixels) over the passage ``paragraph``/``part`` when given (page 0: its page)."""
        view = assistant.page(
            source_name(source),
            count(page, "page") or None,
            paragraph=count(paragraph, "paragraph"),
            part=count(part, "part"),
        )
        return {
            "source": source,
            "page": view.page,
            "pages": view.pages,
            "width": view.width,
            "height": view.height,
            "boxes": [list(box) for box in view.boxes],
            "ocr": view.ocr,
            "image": "data:image/png;base64," + base64.b64encode(view.png).decode("ascii"),
        }

    for fn in (ask, documents, upload, remove, context, page):
        gr.api(guarded(fn), api_name=fn.__name__)
