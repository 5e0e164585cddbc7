"""Stage 8: the Gradio web chat over the Python API."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from .answer import escape_markdown, render_markdown, unescape_markdown
from .api import Assistant
from .errors import AssistantError
from .retriever import DEFAULT_ALPHA, DEFAULT_THRESHOLD, MAX_TOP_K

if TYPE_CHECKING:
    import gradio as gr

logger = logging.getLogger(__name__)

EXAMPLES = [
    "世界互联网大会国际组织是什么时候成立的?",
    "When was the WIC international organization founded?",
    "2022年乌镇峰会吸引了多少个国家和地区的嘉宾?",
    "What kind of platform is the Wuzhen Summit besides a place for exchange?",
]
UNEXPECTED = "Something went wrong while answering; try again or rephrase the question (the server log has details)."
TITLE = "文档问答 · Document Q&A"
INTRO = (
    "Ask in Chinese or English; every answer cites its document, file and paragraph (¶). "
    "用中文或英文提问，每个回答都注明出处。"
)


def user_questions(history: list[dict]) -> list[str]:
    """The user's earlier questions from a Gradio messages history, oldest first."""
    out = []
    for message in history or []:
        role = message.get("role") if isinstance(message, dict) else getattr(message, "role", None)
        content = message.get("content") if isinstance(message, dict) else getattr(message, "content", None)
        if role == "user" and isinstance(content, str):
            out.append(unescape_markdown(content))
    return out


def _whole(value):
    """A slider's 5.0 as 5; anything else as it came, for the API to accept or explain."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def build_app(assistant: Assistant) -> gr.Blocks:
    """The chat page: conversation, example questions, and retrieval settings."""
    import gradio as gr

    def respond(message: str, history: list[dict], top_k: float, alpha: float, threshold: float):
        history = list(history or [])
        try:
            answer = assistant.ask(
                message, user_questions(history), top_k=_whole(top_k), alpha=alpha, threshold=threshold
            )
            reply = render_markdown(answer)
        except AssistantError as exc:
            reply = f"⚠️ {exc}"
        except Exception:  # a bug or a malformed request: one sentence here, the details in the log
            logger.exception("Could not answer %r", message)
            reply = f"⚠️ {UNEXPECTED}"
        # The question is shown escaped, like everything else: typed HTML stays visible text.
        history += [{"role": "user", "content": escape_markdown(message)}, {"role": "assistant", "content": reply}]
        return "", history

    def ask_json(question: str, history: list[str] | None = None, top_k: int = 5) -> dict:
        """For programs: the same answer as ``ask --json``."""
        try:
            return assistant.ask(question, history or [], top_k=_whole(top_k)).to_dict()
        except AssistantError as exc:
            raise gr.Error(str(exc)) from exc
        except Exception as exc:
            logger.exception("Could not answer %r", question)
            raise gr.Error(UNEXPECTED) from exc

    with gr.Blocks(title=TITLE, fill_height=True) as app:
        gr.Markdown(f"## {TITLE}\n{INTRO}")
        chatbot = gr.Chatbot(label="Chat", height=520, elem_id="chat", buttons=["copy", "copy_all"])
        with gr.Row():
            box = gr.Textbox(
                placeholder="输入问题 / Type a question…",
                show_label=False,
                scale=8,
                elem_id="question",
                max_length=2000,
                submit_btn=False,
            )
            send = gr.Button("Ask · 提问", variant="primary", scale=1, elem_id="send")
        gr.Examples(EXAMPLES, inputs=box, label="Examples · 示例")
        with gr.Accordion("Settings · 设置", open=False):
            top_k = gr.Slider(1, MAX_TOP_K, value=assistant.top_k, step=1, label="Passages · 段落数")
            alpha = gr.Slider(
                0,
                1,
                value=assistant.alpha if assistant.alpha is not None else DEFAULT_ALPHA,
                step=0.05,
                label="Keyword ← → dense balance · 关键词/语义权重",
            )
            threshold = gr.Slider(
                0,
                1,
                value=assistant.threshold if assistant.threshold is not None else DEFAULT_THRESHOLD,
                step=0.01,
                label="Not-found threshold · 无答案阈值",
            )
        clear = gr.Button("New chat · 新对话", size="sm")
        inputs = [box, chatbot, top_k, alpha, threshold]
        box.submit(respond, inputs, [box, chatbot], api_name="chat")
        send.click(respond, inputs, [box, chatbot], api_visibility="private")
        clear.click(lambda: [], None, chatbot, api_visibility="private")
        gr.api(ask_json, api_name="ask")
    return app


def serve(assistant: Assistant, *, host: str = "127.0.0.1", port: int = 7860, share: bool = False, auth=None) -> None:
    """Index (or load) the corpus, then serve the chat until interrupted."""
    index = assistant.index
    assistant.encoder.encode(["warm up"])
    logger.info("Serving %d passages from %s", len(index.passages), assistant.corpus)
    print(f"Ready: {len(index.passages)} passages from {assistant.corpus}. Open http://{host}:{port}", flush=True)
    build_app(assistant).queue(default_concurrency_limit=4).launch(
        server_name=host, server_port=port, share=share, auth=auth, show_error=False
    )
