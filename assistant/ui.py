"""Stage 8: the Gradio web chat over the Python API (page words and styles are in webpage.py)."""

# No postponed annotations: Gradio reads the handlers' type hints (gr.SelectData) at run time.

import atexit
import logging
import shutil
import tempfile
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

from .answer import language, make_answer, render_conversation, render_markdown
from .api import Assistant
from .conversation import MAX_HISTORY_ITEMS, earlier_questions, text_of
from .errors import AssistantError
from .records import Answer
from .render import escape_html, render_documents, render_error, render_reply, unescape_html
from .retriever import DEFAULT_ALPHA, DEFAULT_THRESHOLD, MAX_TOP_K
from .uploads import MAX_UPLOAD_BYTES
from .webpage import CSS, HEAD, INTRO, PAGE, PLACEHOLDER, SCROLL_TO_QUESTION, TITLE, default_examples

if TYPE_CHECKING:
    import gradio as gr

logger = logging.getLogger(__name__)

FILE_TYPES = [".txt", ".md", ".markdown", ".html", ".htm", ".pdf", ".docx", ".pptx", ".xlsx", ".csv", ".tsv", ".epub"]
MAX_TURNS = 200  # kept for the Markdown export: the chat's history holds no more (``MAX_HISTORY_ITEMS``)


def user_questions(history: list) -> list[str]:
    """The user's last few questions (``conversation.CONTEXT_TURNS``) from a Gradio messages history, oldest
    first (the chat keeps them escaped).

    Raises:
        QuestionError: the history is not a list of messages, or is longer than ``MAX_HISTORY_ITEMS``.
    """
    return [q for q in (unescape_html(text).strip() for text in earlier_questions(history)) if q]


def relevant_only(answer: Answer, threshold: float) -> Answer:
    """The answer citing only passages that reach the threshold (the best one always): no filler cards."""
    kept = [hit for n, hit in enumerate(answer.hits) if n == 0 or hit.score >= threshold]
    if not answer.found or len(kept) == len(answer.hits):
        return answer
    return make_answer(answer.question, kept, found=True, search_query=answer.search_query)


def build_app(assistant: Assistant, *, examples: list[str] | None = None) -> "gr.Blocks":
    """The chat page: conversation with citation cards, knowledge base (upload, list, remove), settings.

    Serve it with :func:`launch` (which adds the page's styles and upload limit).
    """
    import gradio as gr

    from . import webapi, webguard

    examples = default_examples(assistant.documents()) if examples is None else examples
    exports = Path(tempfile.mkdtemp(prefix="assistant-chat-"))  # Markdown exports; Gradio serves copies
    atexit.register(shutil.rmtree, exports, ignore_errors=True)

    def respond(message, history, top_k, alpha, threshold, turns):
        # Called with the request's raw values (preprocess=False): every one is checked here or by the API,
        # so a malformed call gets one sentence, and the history is bounded before anything is read from it.
        turns = list(turns or [])[-MAX_TURNS:]
        try:
            message = text_of(message)
            questions = user_questions(history)
        except AssistantError as exc:
            raise gr.Error(str(exc), print_exception=False) from None
        history = list(history or [])[-(MAX_HISTORY_ITEMS - 2) :]  # the page's chat stays within the bound
        lang = language(message)
        try:
            answer = assistant.ask(message, questions, top_k=webapi.whole(top_k), alpha=alpha, threshold=threshold)
            answer = relevant_only(answer, assistant.threshold if threshold is None else threshold)
            contexts = [assistant.context(hit.passage) for hit in answer.hits]
            reply = render_reply(answer, uid=uuid.uuid4().hex[:8], contexts=contexts)
            turns.append((message, render_markdown(answer)))
        except AssistantError as exc:
            reply = render_error(str(exc), lang)
            turns.append((message, f"⚠️ {exc}"))
        except Exception as exc:  # a bug: one sentence here, one line in the log
            logger.error("Could not answer %r: %s: %s", message[:100], type(exc).__name__, exc)
            logger.debug("Details", exc_info=True)
            reply = render_error(webapi.UNEXPECTED, lang)
        history += [{"role": "user", "content": escape_html(message)}, {"role": "assistant", "content": reply}]
        return "", history, turns

    def pick_example(history: list, top_k: float, alpha: float, threshold: float, turns: list, evt: gr.SelectData):
        return respond(text_of(evt.value), history, top_k, alpha, threshold, turns)

    def after_turn(turns: list, shown: str):
        """The export file, and the page's words in the language of the last question (if it changed)."""
        lang = language(turns[-1][0]) if turns else "both"
        labels = relabel(lang) if lang != shown else [gr.skip()] * len(labelled)
        return (lang, export_file(turns, PAGE[lang]["export"]), *labels)

    def export_file(turns: list, label: str):
        """The download button, holding the conversation so far as a Markdown file."""
        if not turns:
            return gr.update(value=None, interactive=False, label=label)
        path = exports / uuid.uuid4().hex[:12] / f"chat-{time.strftime('%Y%m%d-%H%M%S')}.md"
        path.parent.mkdir(parents=True)
        path.write_text(render_conversation(turns, when=time.strftime("%Y-%m-%d %H:%M")), encoding="utf-8")
        return gr.update(value=str(path), interactive=True, label=label)

    def relabel(lang: str):
        words = PAGE[lang]
        return (
            gr.update(value=words["ask"]),
            gr.update(placeholder=words["placeholder"]),
            gr.update(value=words["new_chat"]),
            gr.update(label=words["kb"]),
            gr.update(label=words["settings"]),
            gr.update(label=words["top_k"]),
            gr.update(label=words["alpha"]),
            gr.update(label=words["threshold"]),
            *knowledge_base(lang),
        )

    def knowledge_base(lang: str, status: str | None = None):
        """Summary, document table, remove choices (and status, when given) in ``lang``."""
        words = PAGE[lang]
        docs = assistant.documents()
        summary = words["summary"].format(docs=len(docs), passages=sum(d.passages for d in docs))
        uploaded = [d.source for d in docs if d.uploaded]
        table = render_documents(docs, "zh" if lang == "zh" else "en")
        out = (
            gr.update(
                value=f'<p class="kb-summary">{escape_html(summary)}</p>{table}'
                + (f'<p class="kb-hint">{escape_html(words["upload_hint"])}</p>' if assistant.uploads else "")
            ),
            gr.update(choices=uploaded, value=None, label=words["remove_pick"], visible=bool(uploaded)),
            gr.update(value=words["remove"], visible=bool(uploaded)),
            gr.update(label=words["upload"]),
        )
        return out if status is None else (*out, status)

    def on_upload(files: list[str] | None, lang: str, progress=gr.Progress(track_tqdm=True)):  # noqa: B008
        words = PAGE[lang or "both"]
        files = [f for f in files or [] if f]
        if not files:
            return knowledge_base(lang or "both", "")
        progress(0.05, desc=words["indexing"].format(n=len(files)))
        try:
            report = assistant.add_documents(files, progress=True)
        except AssistantError as exc:
            return knowledge_base(lang or "both", _status([], [str(exc)]))
        progress(1.0)
        good = [words["added"].format(source=d.source, passages=d.passages) for d in report.added]
        bad = [words["refused"].format(reason=reason) for _, reason in report.refused]
        return knowledge_base(lang or "both", _status(good, bad))

    def on_remove(source: str | None, lang: str):
        words = PAGE[lang or "both"]
        if not source:
            return knowledge_base(lang or "both", _status([], [words["pick_first"]]))
        try:
            assistant.remove_document(source)
        except AssistantError as exc:
            return knowledge_base(lang or "both", _status([], [str(exc)]))
        return knowledge_base(lang or "both", _status([words["removed"].format(source=source)], []))

    words = PAGE["both"]
    with webguard.GuardedBlocks(title=TITLE, fill_height=True, delete_cache=(3600, 3600)) as app:
        lang = gr.State("both")
        turns = gr.State([])
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
                with gr.Accordion(words["kb"], open=True, elem_id="kb") as kb:
                    documents = gr.HTML(elem_id="documents")
                    upload = gr.UploadButton(
                        label=words["upload"],
                        file_count="multiple",
                        file_types=FILE_TYPES,
                        type="filepath",
                        size="sm",
                        elem_id="upload",
                        visible=assistant.uploads is not None,
                    )
                    status = gr.HTML(elem_id="upload-status", elem_classes=["kb-status"], min_height=24)
                    with gr.Row(visible=assistant.uploads is not None):
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

        kb_outputs = [documents, to_remove, remove_btn, upload]
        labelled = [send, box, clear, kb, settings, top_k, alpha, threshold, *kb_outputs]
        inputs = [box, chatbot, top_k, alpha, threshold, turns]
        chat_outputs = [box, chatbot, turns]
        turn_outputs = [lang, export, *labelled]
        for event in (
            box.submit(respond, inputs, chat_outputs, api_name="chat", preprocess=False),
            send.click(respond, inputs, chat_outputs, api_visibility="private", preprocess=False),
            chatbot.example_select(pick_example, inputs[1:], chat_outputs, api_visibility="private", preprocess=False),
        ):
            event.then(None, js=SCROLL_TO_QUESTION).then(
                after_turn, [turns, lang], turn_outputs, api_visibility="private"
            )
        clear.click(lambda: ([], []), None, [chatbot, turns], api_visibility="private").then(
            after_turn, [turns, lang], turn_outputs, api_visibility="private"
        )
        chatbot.clear(lambda: [], None, turns, api_visibility="private").then(  # the chat's own bin icon
            after_turn, [turns, lang], turn_outputs, api_visibility="private"
        )
        upload.upload(
            on_upload,
            [upload, lang],
            [*kb_outputs, status],
            api_visibility="private",
            show_progress_on=[status],
        )
        remove_btn.click(on_remove, [to_remove, lang], [*kb_outputs, status], api_visibility="private")
        app.load(lambda: knowledge_base("both"), None, kb_outputs, api_visibility="private")
        webapi.register(assistant)
    return app


def _status(good: list[str], bad: list[str]) -> str:
    lines = [f'<p class="kb-good">{escape_html(line)}</p>' for line in good]
    lines += [f'<p class="kb-bad">{escape_html(line)}</p>' for line in bad]
    return "".join(lines)


def launch(app: "gr.Blocks", **kwargs):
    """``app.launch`` with the page's styles, script and upload size limit (other arguments pass through)."""
    from .webguard import app_settings

    kwargs.setdefault("max_file_size", MAX_UPLOAD_BYTES)
    kwargs["app_kwargs"] = app_settings(kwargs.get("app_kwargs"))
    kwargs.setdefault("footer_links", ["api"])
    return app.launch(css=CSS, head=HEAD, **kwargs)


def serve(assistant: Assistant, *, host: str = "127.0.0.1", port: int = 7860, share: bool = False, auth=None) -> None:
    """Index (or load) the corpus, then serve the chat until interrupted."""
    index = assistant.warm_up()
    logger.info("Serving %d passages from %s", len(index.passages), assistant.corpus)
    uploads = f"; uploads go to {assistant.uploads}" if assistant.uploads else "; uploads are off"
    print(
        f"Ready: {len(index.passages)} passages from {assistant.corpus}{uploads}. Open http://{host}:{port}", flush=True
    )
    from .webguard import MAX_QUEUE

    app = build_app(assistant).queue(default_concurrency_limit=4, max_size=MAX_QUEUE)
    launch(app, server_name=host, server_port=port, share=share, auth=auth, show_error=False)
