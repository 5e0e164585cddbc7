"""Serving the chat: ``launch`` with the page's styles and request bounds, ``serve`` with the REST API,
background indexing and folder watchers."""

# No postponed annotations: as in ui.py.

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..api import Assistant, KnowledgeBases
from ..text import MAX_UPLOAD_BYTES
from .style import CSS, HEAD
from .ui import build_app

if TYPE_CHECKING:
    import gradio as gr

logger = logging.getLogger(__name__)


def launch(app: "gr.Blocks", **kwargs):
    """``app.launch`` with the page's styles, script and upload size limit (other arguments pass through)."""
    from .webguard import app_settings

    kwargs.setdefault("max_file_size", MAX_UPLOAD_BYTES)
    kwargs["app_kwargs"] = app_settings(kwargs.get("app_kwargs"))
    kwargs.setdefault("footer_links", ["api"])
    return app.launch(css=CSS, head=HEAD, **kwargs)


def serve(
    assistant: "Assistant | KnowledgeBases",
    *,
    host: str = "127.0.0.1",
    port: int = 7860,
    share: bool = False,
    auth=None,
    api_token: str | None = None,
    watch: bool = False,
    more_kbs: Sequence[Assistant] = (),
    block=True,
):
    """Load the last saved indexes (build those there are none of), open the chat and the REST API (``/api/v1``,
    behind the same login; ``api_token`` is the bearer token programs may send instead) over ``assistant``'s
    knowledge bases (one assistant, named after its folder, with ``more_kbs``; or ``KnowledgeBases``), then
    index what changed since in the background, and with ``watch`` whatever changes later; serve until
    interrupted (or, without ``block``, return the running app, whose ``watchers`` are the folder watchers, one
    per knowledge base, and ``watcher`` the first's, or None)."""
    kbs = assistant if isinstance(assistant, KnowledgeBases) else KnowledgeBases.of([assistant, *more_kbs])
    bots = [bot for _, bot in kbs.items()]
    for name, bot in kbs.items():
        logger.info("Serving %d passages from %s as %s", len(bot.warm_up(stale_ok=True).passages), bot.corpus, name)
    from ..api import Watcher
    from .rest import mounted
    from .webguard import MAX_QUEUE

    app = build_app(kbs, watch=watch).queue(default_concurrency_limit=4, max_size=MAX_QUEUE)
    launch(
        app,
        server_name=host,
        server_port=port,
        share=share,
        auth=auth,
        show_error=False,
        prevent_thread_lock=True,
        app_kwargs={"routes": [mounted(kbs, token=api_token)]},
    )
    for bot in bots:
        bot.update_in_background()
        if bot.upgrade is not None:  # the stronger model's index, built beside the fast one and switched to
            bot.upgrade.start()
    app.watchers = [Watcher(bot).start() for bot in bots] if watch else []
    app.watcher = app.watchers[0] if app.watchers else None
    first = kbs.first
    passages = sum(len(bot.index.passages) for bot in bots)
    where = ", ".join(f"{name} ({bot.corpus})" for name, bot in kbs.items())
    uploads = f"; uploads go to {first.uploads}" if first.uploads and len(kbs) == 1 else ""
    uploads = uploads if first.uploads else "; uploads are off"
    watching = "; re-indexing changed files as they are saved" if watch else ""
    print(
        f"Ready: {passages} passages from {where}{uploads}{watching}. "
        f"Open http://{host}:{port} (REST API: http://{host}:{port}/api/v1/docs)",
        flush=True,
    )
    if block:
        app.block_thread()
    return app
