"""The web chat's functions for other programs (gradio_client): ask, documents, upload, remove, context.

Imported only when the web app is built; the type hints are read by ``gr.api`` (so no postponed annotations).
"""

import functools
import logging
from dataclasses import asdict
from pathlib import Path

import gradio as gr

from .api import Assistant
from .errors import AssistantError, UploadError
from .uploads import MAX_UPLOAD_BYTES, check_size

MAX_CONTEXT = 10
UNEXPECTED = "Something went wrong; try again, and report it if it happens again (the server log has details)."
logger = logging.getLogger(__name__)


def whole(value):
    """A slider's 5.0 as 5; anything else as it came, for the API to accept or explain."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def register(assistant: Assistant) -> None:
    """Add the endpoints to the Blocks being built (call inside ``with gr.Blocks()``)."""

    def guarded(fn):
        @functools.wraps(fn)
        def call(*args, **kwargs):
            try:
                return fn(*args, **kwargs)
            except AssistantError as exc:  # the user's to fix: one line in the log, no traceback
                logger.info("Refused a call to %s: %s", fn.__name__, exc)
                raise gr.Error(str(exc), print_exception=False) from None
            except Exception as exc:  # a bug or a malformed request: one sentence, the details in the log (once)
                logger.exception("%s failed", fn.__name__)
                raise gr.Error(UNEXPECTED, print_exception=False) from exc

        return call

    def ask(question: str, history: list[str] | None = None, top_k: int = 5) -> dict:
        """Answer a question from the documents: the same JSON as ``ask --json``."""
        return assistant.ask(question, history or [], top_k=whole(top_k)).to_dict()

    def documents() -> list[dict]:
        """The documents in the knowledge base: source, title, passages, paragraphs, uploaded."""
        return [asdict(d) for d in assistant.documents()]

    def upload(files: list[gr.FileData]) -> dict:
        """Add .txt/.md/.html documents; returns ``{"added": [documents], "refused": [[name, reason]]}``."""
        items = []
        for file in files or []:
            data = file if isinstance(file, dict) else file.model_dump()
            path = Path(data["path"])
            name = data.get("orig_name") or path.name
            try:
                check_size(name, path.stat().st_size, MAX_UPLOAD_BYTES)
            except OSError as exc:
                raise UploadError(f"{name} did not arrive; upload it again.") from exc
            items.append((name, path.read_bytes()))
        report = assistant.add_documents(items)
        return {"added": [asdict(d) for d in report.added], "refused": [list(r) for r in report.refused]}

    def remove(source: str) -> list[dict]:
        """Remove an uploaded document (e.g. ``uploads/notes.md``); returns the documents left."""
        assistant.remove_document(source)
        return documents()

    def context(source: str, paragraph: int, part: int = 0, before: int = 1, after: int = 1) -> list[dict]:
        """A cited paragraph with up to 10 paragraphs before and after it, in reading order."""
        passage = assistant.passage(source, int(paragraph), int(part))
        around = assistant.context(
            passage, before=max(0, min(int(before), MAX_CONTEXT)), after=max(0, min(int(after), MAX_CONTEXT))
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

    for fn in (ask, documents, upload, remove, context):
        gr.api(guarded(fn), api_name=fn.__name__)
