"""The Gradio web chat over the Python API (page words and styles are in webpage.py)."""

# No postponed annotations: Gradio reads the handlers' type hints (gr.SelectData) at run time.

import atexit
import io
import json
import logging
import shutil
import tempfile
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

from ..api import ALL, Assistant, KnowledgeBases, split_filters
from ..errors import AssistantError, QuestionError
from ..search import (
    DEFAULT_ALPHA,
    DEFAULT_THRESHOLD,
    MAX_HISTORY_ITEMS,
    MAX_TOP_K,
    earlier_questions,
    language,
    render_conversation,
    render_markdown,
    text_of,
)
from .render import escape_html, render_error, render_page_info, render_reply, unescape_html
from .style import SCROLL_TO_QUESTION
from .webpage import INTRO, PAGE, PLACEHOLDER, TITLE, default_examples, localise, page_language

if TYPE_CHECKING:
    import gradio as gr

logger = logging.getLogger(__name__)

MAX_TURNS = 200  # kept for the Markdown export: the chat's history holds no more (``MAX_HISTORY_ITEMS``)


def user_questions(history: list) -> list[str]:
    """The user's last few questions (``conversation.CONTEXT_TURNS``) from a Gradio messages history, oldest
    first (the chat keeps them escaped).

    Raises:
        QuestionError: the history is not a list of messages, or is longer than ``MAX_HISTORY_ITEMS``.
    """
    return [q for q in (unescape_html(text).strip() for text in earlier_questions(history)) if q]


def build_app(
    assistant: "Assistant | KnowledgeBases", *, examples: list[str] | None = None, watch: bool = False
) -> "gr.Blocks":
    """The chat page: conversation with citation cards, knowledge base (upload, list, remove), settings; with
    several knowledge bases, a selector (one, or all of them). With ``watch`` the list follows the indexes.

    Serve it with :func:`launch` (which adds the page's styles and upload limit).
    """
    import gradio as gr
    import PIL.Image

    from . import kbpanel, webapi, webguard

    kbs = assistant if isinstance(assistant, KnowledgeBases) else KnowledgeBases.of([assistant])
    assistant, several = kbs.first, len(kbs) > 1
    start = ALL if several else kbs.names[0]

    examples = default_examples(assistant.documents()) if examples is None else examples
    exports = Path(tempfile.mkdtemp(prefix="assistant-chat-"))  # Markdown exports; Gradio serves copies
    atexit.register(shutil.rmtree, exports, ignore_errors=True)

    def respond(message, history, top_k, alpha, threshold, turns, shown="both", kb=start):
        # Called with the request's raw values (preprocess=False): every one is checked here or by the API,
        # so a malformed call gets one sentence, and the history is bounded before anything is read from it.
        turns = list(turns or [])[-MAX_TURNS:]
        try:
            message = text_of(message)
        except AssistantError as exc:  # a malformed call: one sentence, not a reply
            raise gr.Error(str(exc), print_exception=False) from None
        lang = language(message, default=shown or "both")
        try:
            questions = user_questions(history)
        except AssistantError as exc:
            raise gr.Error(localise(str(exc), "en" if lang == "both" else lang), print_exception=False) from None
        history = list(history or [])[-(MAX_HISTORY_ITEMS - 2) :]  # the page's chat stays within the bound
        if not message.strip():  # nothing asked: no empty bubble, no message, the chat as it was
            return "", history, turns
        try:
            question, filters = split_filters(message)
            own = kbs.settings(kbs.names[0] if kb == ALL else kb)  # a slider left there: each KB's own setting
            top_k, alpha, threshold = (
                None if isinstance(v, int | float) and abs(v - own[key]) < 1e-9 else v
                for key, v in (("top_k", top_k), ("alpha", alpha), ("threshold", threshold))
            )
            top_k = None if top_k is None else webapi.whole(top_k)
            answer = kbs.ask(question, questions, kb=kb, top_k=top_k, alpha=alpha, threshold=threshold, filters=filters)
            contexts = [kbs.get(hit.kb or kb).context(hit.passage) for hit in answer.hits]
            reply = render_reply(answer, uid=uuid.uuid4().hex[:8], contexts=contexts, show_kb=several)
            turns.append((message, render_markdown(answer)))
        except AssistantError as exc:
            reply = render_error(localise(str(exc), lang), lang)
            turns.append((message, f"⚠️ {localise(str(exc), lang)}"))
        except Exception as exc:  # a bug: one sentence here, one line in the log
            logger.error("Could not answer %r: %s: %s", message[:100], type(exc).__name__, exc)
            logger.debug("Details", exc_info=True)
            reply = render_error(localise(webapi.UNEXPECTED, lang), lang)
        history += [{"role": "user", "content": escape_html(message)}, {"role": "assistant", "content": reply}]
        return "", history, turns

    def pick_example(history, top_k, alpha, threshold, turns, shown: str, kb: str, evt: gr.SelectData):
        return respond(text_of(evt.value), history, top_k, alpha, threshold, turns, shown, kb)

    def after_turn(turns: list, shown: str, report: list, kb: str):
        """The export file, and the page's words in the language of the last question (if it changed)."""
        lang = page_language([question for question, _ in turns], shown)
        labels = relabel(lang, report, kb) if lang != shown else [gr.skip()] * len(labelled)
        return (lang, export_file(turns, PAGE[lang]["export"]), *labels)

    def export_file(turns: list, label: str):
        """The download button, holding the conversation so far as a Markdown file."""
        if not turns:
            return gr.update(value=None, interactive=False, label=label)
        path = exports / uuid.uuid4().hex[:12] / f"chat-{time.strftime('%Y%m%d-%H%M%S')}.md"
        path.parent.mkdir(parents=True)
        path.write_text(render_conversation(turns, when=time.strftime("%Y-%m-%d %H:%M")), encoding="utf-8")
        return gr.update(value=str(path), interactive=True, label=label)

    def relabel(lang: str, report: list, kb: str):
        words = PAGE[lang]
        return (
            gr.update(label=words["kb_pick"], choices=kbpanel.selector_choices(kbs, lang)),
            gr.update(value=words["ask"]),
            gr.update(placeholder=words["placeholder"]),
            gr.update(value=words["new_chat"]),
            gr.update(label=words["kb"]),
            gr.update(label=words["settings"]),
            gr.update(label=words["top_k"]),
            gr.update(label=words["alpha"]),
            gr.update(label=words["threshold"]),
            gr.update(label=words["page_view"]),
            gr.update(value=words["prev"]),
            gr.update(value=words["next"]),
            gr.update(label=words["download"]),
            *kbpanel.panel(kbs, kb, lang, report),
        )

    def reported(lang: str, report: list, kb: str):
        """The knowledge base with the status of ``report``, and the report kept for a change of language."""
        return (*kbpanel.panel(kbs, kb, lang or "both", report), report)

    def on_upload(files: list[str] | None, lang: str, kb: str, progress=gr.Progress(track_tqdm=True)):  # noqa: B008
        files = [f for f in files or [] if f]
        if files and kb != ALL:
            progress(0.05, desc=PAGE[lang or "both"]["indexing"].format(n=len(files)))
        report = kbpanel.upload(kbs, kb, files) if files else []
        return reported(lang, report, kb)

    def on_remove(source: str | None, lang: str, kb: str):
        return reported(lang, kbpanel.remove(kbs, kb, source), kb)

    def on_pick(kb: str, lang: str):
        """Another knowledge base chosen: its panel, and the sliders at its settings."""
        try:
            kbs.chosen(kb)  # an unknown name (a forged request) stops here with one sentence
        except AssistantError as exc:
            raise gr.Error(localise(str(exc), lang or "both"), print_exception=False) from None
        own = kbs.settings(kbs.names[0] if kb == ALL else kb)
        sliders = (gr.update(value=own[key]) for key in ("top_k", "alpha", "threshold"))
        return (kb, *kbpanel.panel(kbs, kb, lang or "both", []), *sliders)

    def show_page(request: str, lang: str):
        """The page view of the passage a card's "Show page" link sent (``{source, paragraph, part}``)."""
        try:
            wanted = json.loads(request) if isinstance(request, str) and len(request) <= 2000 else None
            if not isinstance(wanted, dict):
                raise QuestionError("The page request must be a passage's citation; use a card's link.")
            source = webapi.source_name(wanted.get("source"))
            paragraph = webapi.count(wanted.get("paragraph"), "paragraph", lowest=1)
            part = webapi.count(wanted.get("part", 0), "part")
            kb = wanted.get("kb") or kbs.names[0]
            original = original_copy(kbs.get(kb), source)
            at = {"source": source, "paragraph": paragraph, "part": part, "page": 0, "kb": kb}
        except AssistantError as exc:
            return page_error(str(exc), lang)
        return (*page_outputs(at, 0, lang), original)

    def turn_page(at: dict | None, step: int, lang: str):
        if not at:
            return (gr.skip(),) * 6
        return page_outputs(at, at["page"] + step, lang)

    def page_outputs(at: dict, page: int, lang: str):
        """Panel, caption, image, state, previous and next buttons for ``page`` of ``at``'s file (0: its own)."""
        words = PAGE[lang or "both"]
        bot = kbs.get(at.get("kb") or kbs.names[0])
        try:
            view = bot.page(at["source"], page or None, paragraph=at["paragraph"], part=at["part"])
        except AssistantError as exc:
            return page_error(str(exc), lang)[:6]
        cited = bot.passage(at["source"], at["paragraph"], at["part"]).page
        at = {**at, "page": view.page, "cited": cited}
        info = render_page_info(view, at["source"], cited, words)
        image = PIL.Image.open(io.BytesIO(view.png))
        return (
            gr.update(visible=True, open=True),
            info,
            image,
            at,
            gr.update(interactive=view.page > 1),
            gr.update(interactive=view.page < view.pages),
        )

    def page_error(message: str, lang: str):
        sentence = localise(message, "en" if (lang or "both") == "both" else lang)
        off = gr.update(interactive=False)
        return (gr.update(visible=True, open=True), render_error(sentence, lang), None, None, off, off, off)

    def original_copy(bot: Assistant, source: str):
        """The download button, holding a copy of the indexed file (Gradio serves copies, not the corpus)."""
        path = bot.indexed_file(source)
        copy = exports / uuid.uuid4().hex[:12] / path.name
        copy.parent.mkdir(parents=True)
        shutil.copyfile(path, copy)
        return gr.update(value=str(copy), interactive=True)

    words = PAGE["both"]
    with webguard.GuardedBlocks(title=TITLE, fill_height=True, delete_cache=(3600, 3600)) as app:
        lang = gr.State("both")
        turns = gr.State([])
        report = gr.State([])  # the last upload/remove outcome, re-rendered when the page's language changes
        chosen = gr.State(start)  # the knowledge base searched and shown (a name, or "all")
        shown_version = gr.State(None)  # the indexes the list shows (``KnowledgeBases.version``)
        # filled by the page's script when a card's "Show page" link is clicked (in the page, not shown)
        page_request = gr.Textbox(visible="hidden", elem_id="page-request", max_length=2000)
        gr.HTML(f'<div id="masthead"><h2>{escape_html(TITLE)}</h2><p>{escape_html(INTRO)}</p></div>')
        with gr.Row(equal_height=False):
            with gr.Column(scale=3, min_width=320):
                chatbot = gr.Chatbot(
                    elem_id="chat",
                    show_label=False,
                    height="66vh",
                    placeholder=PLACEHOLDER,
                    examples=[{"text": q} for q in examples] or None,
                    latex_delimiters=[],
                    buttons=[],
                    sanitize_html=True,
                    layout="panel",
                    autoscroll=False,
                )
                with gr.Row(elem_id="ask-row"):
                    box = gr.Textbox(
                        placeholder=words["placeholder"],
                        show_label=False,
                        scale=8,
                        min_width=160,
                        elem_id="question",
                        max_length=2000,
                        submit_btn=False,
                        autofocus=True,
                    )
                    send = gr.Button(words["ask"], variant="primary", scale=1, min_width=72, elem_id="send")
                with gr.Row():
                    clear = gr.Button(words["new_chat"], size="sm", elem_id="new-chat")
                    export = gr.DownloadButton(words["export"], size="sm", interactive=False, elem_id="export")
            with gr.Column(scale=2, min_width=300):
                picker = gr.Dropdown(
                    choices=kbpanel.selector_choices(kbs, "both"),
                    value=start,
                    label=words["kb_pick"],
                    visible=several,
                    elem_id="kb-pick",
                )
                with gr.Accordion(words["page_view"], open=True, visible=False, elem_id="page-view") as page_panel:
                    page_info = gr.HTML(elem_id="page-info")
                    page_image = gr.Image(
                        type="pil",
                        format="png",
                        show_label=False,
                        interactive=False,
                        buttons=["fullscreen"],
                        elem_id="page-image",
                    )
                    with gr.Row(elem_id="page-nav"):
                        prev_page = gr.Button(words["prev"], size="sm", min_width=60, elem_id="page-prev")
                        next_page = gr.Button(words["next"], size="sm", min_width=60, elem_id="page-next")
                        original = gr.DownloadButton(
                            words["download"], size="sm", interactive=False, min_width=60, elem_id="page-download"
                        )
                    page_at = gr.State(None)
                with gr.Accordion(words["kb"], open=True, elem_id="kb") as kb:
                    documents = gr.HTML(elem_id="documents")
                    # No file_types: Gradio's own refusal is an English toast. The page's script filters the
                    # picker; the server refuses any other file with a sentence in the page's language.
                    upload = gr.UploadButton(
                        label=words["upload"],
                        file_count="multiple",
                        type="filepath",
                        size="sm",
                        elem_id="upload",
                        visible=assistant.uploads is not None,
                    )
                    status = gr.HTML(elem_id="upload-status", elem_classes=["kb-status"], min_height=24)
                    with gr.Row(visible=False, elem_id="remove-row") as remove_row:
                        to_remove = gr.Dropdown(
                            choices=[], label=words["remove_pick"], scale=3, min_width=160, elem_id="remove-pick"
                        )
                        remove_btn = gr.Button(words["remove"], size="sm", scale=1, min_width=72, elem_id="remove")
                with gr.Accordion(words["settings"], open=False, elem_id="settings") as settings:
                    top_k = gr.Slider(1, MAX_TOP_K, value=assistant.top_k, step=1, label=words["top_k"])
                    alpha = gr.Slider(
                        0,
                        1,
                        value=assistant.alpha if assistant.alpha is not None else DEFAULT_ALPHA,
                        step=0.05,
                        label=words["alpha"],
                    )
                    threshold = gr.Slider(
                        0,
                        1,
                        value=assistant.threshold if assistant.threshold is not None else DEFAULT_THRESHOLD,
                        step=0.01,
                        label=words["threshold"],
                    )

        kb_outputs = [documents, to_remove, remove_btn, remove_row, upload]
        labelled = [picker, send, box, clear, kb, settings, top_k, alpha, threshold, page_panel, prev_page]
        labelled += [next_page, original, *kb_outputs, status]
        inputs = [box, chatbot, top_k, alpha, threshold, turns, lang, chosen]
        chat_outputs = [box, chatbot, turns]
        turn_outputs = [lang, export, *labelled]
        turn_inputs = [turns, lang, report, chosen]
        for event in (
            box.submit(respond, inputs, chat_outputs, api_name="chat", preprocess=False),
            send.click(respond, inputs, chat_outputs, api_visibility="private", preprocess=False),
            chatbot.example_select(pick_example, inputs[1:], chat_outputs, api_visibility="private", preprocess=False),
        ):
            event.then(None, js=SCROLL_TO_QUESTION).then(
                after_turn, turn_inputs, turn_outputs, api_visibility="private"
            )
        clear.click(lambda: ([], []), None, [chatbot, turns], api_visibility="private").then(
            after_turn, turn_inputs, turn_outputs, api_visibility="private"
        )
        chatbot.clear(lambda: [], None, turns, api_visibility="private").then(  # the chat's own bin icon
            after_turn, turn_inputs, turn_outputs, api_visibility="private"
        )
        picker.change(
            on_pick, [picker, lang], [chosen, *kb_outputs, status, top_k, alpha, threshold], api_visibility="private"
        )
        upload.upload(
            on_upload,
            [upload, lang, chosen],
            [*kb_outputs, status, report],
            api_visibility="private",
            show_progress_on=[status],
        )
        remove_btn.click(on_remove, [to_remove, lang, chosen], [*kb_outputs, status, report], api_visibility="private")
        page_outputs_ = [page_panel, page_info, page_image, page_at, prev_page, next_page]
        page_request.change(
            show_page,
            [page_request, lang],
            [*page_outputs_, original],
            api_visibility="private",
            show_progress="minimal",
        )
        prev_page.click(
            lambda at, lang: turn_page(at, -1, lang), [page_at, lang], page_outputs_, api_visibility="private"
        )
        next_page.click(
            lambda at, lang: turn_page(at, 1, lang), [page_at, lang], page_outputs_, api_visibility="private"
        )
        # While the indexes are brought up to date in the background, the list is shown again when it is done;
        # with ``watch``, whenever a watcher replaced an index (a cheap check every 3 s).
        timer = gr.Timer(2, active=False)
        follow = gr.Timer(3, active=watch)
        busy = lambda: any(bot.indexing or (bot.upgrade and bot.upgrade.building) for _, bot in kbs.items())  # noqa: E731

        def when_indexed(lang: str, kb: str):
            if busy():
                return (gr.skip(),) * (len(kb_outputs) + 2)
            return (*kbpanel.panel(kbs, kb, lang), kbs.version(), gr.Timer(active=False))

        def when_changed(lang: str, kb: str, version):
            now = kbs.version()
            if now == tuple(map(tuple, version or ())):  # unchanged: the list (and a choice being made) stays
                return (gr.skip(),) * (len(kb_outputs) + 1)
            return (*kbpanel.panel(kbs, kb, lang), now)

        timer.tick(when_indexed, [lang, chosen], [*kb_outputs, shown_version, timer], api_visibility="private")
        follow.tick(when_changed, [lang, chosen, shown_version], [*kb_outputs, shown_version], api_visibility="private")
        app.load(
            lambda: (*kbpanel.panel(kbs, start, "both"), kbs.version(), gr.Timer(active=busy())),
            None,
            [*kb_outputs, shown_version, timer],
            api_visibility="private",
        )
        webapi.register(assistant)
    return app
