"""Stage 7: the Gradio web chat: page, replies' HTML, endpoints for programs, request guards.

Gradio itself is imported when the app is built, not here."""

from .server import launch, serve
from .ui import build_app

__all__ = ["build_app", "launch", "serve"]
