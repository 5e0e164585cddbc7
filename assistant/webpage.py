"""The web chat's words (Chinese, English, or both before the first question), styles and one small script."""

from __future__ import annotations

from collections.abc import Sequence

from .records import DocumentInfo
from .uploads import MAX_UPLOAD_BYTES

_MB = MAX_UPLOAD_BYTES >> 20

PAGE = {
    "en": {
        "ask": "Ask",
        "placeholder": "Type a question…",
        "new_chat": "New chat",
        "export": "Export chat (Markdown)",
        "kb": "Knowledge base",
        "upload": "Add documents…",
        "upload_hint": f"Text, Markdown, HTML, PDF, Word, PowerPoint, Excel/CSV or EPUB, up to {_MB} MB each; searchable as soon as they are indexed.",
        "remove_pick": "Uploaded document to remove",
        "remove": "Remove",
        "settings": "Settings",
        "top_k": "Passages to cite",
        "alpha": "Keyword ← balance → meaning",
        "threshold": "Relevance threshold (weaker passages are not shown)",
        "summary": "Documents: {docs} · passages: {passages}",
        "indexing": "Indexing {n} file(s)…",
        "added": "Added {source} ({passages} passages).",
        "refused": "Not added: {reason}",
        "removed": "Removed {source}.",
        "pick_first": "Choose an uploaded document first.",
    },
    "zh": {
        "ask": "提问",
        "placeholder": "输入问题…",
        "new_chat": "新对话",
        "export": "导出对话 (Markdown)",
        "kb": "知识库",
        "upload": "添加文档…",
        "upload_hint": f"支持 .txt、.md、.html，每个不超过 {_MB} MB；索引完成即可检索。",
        "remove_pick": "要删除的上传文档",
        "remove": "删除",
        "settings": "设置",
        "top_k": "引用段落数",
        "alpha": "关键词 ← 权重 → 语义",
        "threshold": "相关度阈值（低于此值的段落不显示）",
        "summary": "{docs} 个文档 · {passages} 个段落",
        "indexing": "正在索引 {n} 个文件…",
        "added": "已添加 {source}（{passages} 个段落）。",
        "refused": "未添加：{reason}",
        "removed": "已删除 {source}。",
        "pick_first": "请先选择一个上传的文档。",
    },
}
# Before the first question the page speaks both languages; after it, the question's.
PAGE["both"] = {key: f"{PAGE['en'][key]} · {PAGE['zh'][key]}" for key in PAGE["en"]}
PAGE["both"].update(
    placeholder="输入问题 / Type a question…",
    upload_hint=PAGE["en"]["upload_hint"] + " " + PAGE["zh"]["upload_hint"],
    summary=PAGE["en"]["summary"],
    indexing=PAGE["en"]["indexing"],
    added=PAGE["en"]["added"],
    refused=PAGE["en"]["refused"],
    removed=PAGE["en"]["removed"],
    pick_first=PAGE["en"]["pick_first"],
)

SEED_SOURCE = "wuzhen_summit_ten_years_interview.txt"
SEED_EXAMPLES = [
    "世界互联网大会国际组织是什么时候成立的?",
    "When was the WIC international organization founded?",
    "2022年乌镇峰会吸引了多少个国家和地区的嘉宾?",
    "What kind of platform is the Wuzhen Summit besides a place for exchange?",
]


def default_examples(documents: Sequence[DocumentInfo]) -> list[str]:
    """The seed questions when the seed document is there; otherwise one per language about the first document."""
    if any(d.source.endswith(SEED_SOURCE) for d in documents):
        return SEED_EXAMPLES
    title = documents[0].title if documents else ""
    return [f"《{title}》主要讲了什么?", f"What is “{title}” about?"] if title else []


TITLE = "文档问答 · Document Q&A"
INTRO = (
    "Ask in Chinese or English: answers quote the documents and cite file and paragraph (¶). "
    "用中文或英文提问：回答引用原文，并注明文件和段落。"
)
PLACEHOLDER = (
    "### 问我文档里的内容 · Ask about the documents\n"
    "Every answer quotes its sources; open a citation to read it in context. "
    "每个回答都附有出处，点开引用即可查看上下文。"
)

CSS = """
#chat { min-height: 420px; }
.kb-reply { line-height: 1.6; }
.kb-reply p { margin: 0.25em 0 !important; }
.kb-lead { font-size: 1.05em; }
.kb-label { font-weight: 700; margin-right: 0.4em; }
.kb-label::after { content: ":"; }
a.kb-cite { font-size: 0.78em; vertical-align: super; text-decoration: none; padding: 0 0.1em;
  color: var(--color-accent) !important; font-weight: 600; }
.kb-more, .kb-hint { color: var(--body-text-color-subdued); font-size: 0.9em; }
.kb-cards { margin-top: 0.5em; }
.kb-card { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 0.45em 0.75em;
  margin: 0.5em 0; background: var(--background-fill-primary); }
.kb-card.kb-flash { animation: kb-flash 1.2s ease-out; }
@keyframes kb-flash { from { box-shadow: 0 0 0 3px var(--color-accent); } to { box-shadow: 0 0 0 0 transparent; } }
.kb-head { font-size: 0.85em; color: var(--body-text-color-subdued); overflow-wrap: anywhere; }
.kb-n { font-weight: 700; color: var(--color-accent); }
.kb-title { font-weight: 600; color: var(--body-text-color); }
.kb-head code { font-size: 0.95em; white-space: normal; overflow-wrap: anywhere; }
.kb-text { margin: 0.3em 0; overflow-wrap: anywhere; }
mark.kb-term { background: #fef08a; color: #1f2937; padding: 0 0.1em; border-radius: 2px; }
strong.kb-best { font-weight: 700; }
details.kb-context > summary { cursor: pointer; color: var(--color-accent); font-size: 0.85em; margin-top: 0.2em; }
.kb-para { padding-left: 0.6em; border-left: 3px solid transparent; opacity: 0.7; overflow-wrap: anywhere; }
.kb-para.kb-cited { border-left-color: var(--color-accent); opacity: 1; }
.kb-pn { font-size: 0.8em; color: var(--body-text-color-subdued); margin-right: 0.5em; }
.kb-docs { width: 100%; font-size: 0.85em; border-collapse: collapse; }
.kb-docs th, .kb-docs td { text-align: left; padding: 0.2em 0.4em; border-bottom: 1px solid var(--border-color-primary);
  overflow-wrap: anywhere; vertical-align: top; }
.kb-docs .kb-num { text-align: right; white-space: nowrap; }
.kb-docs code { font-size: 0.9em; white-space: normal; overflow-wrap: anywhere; }
.kb-tag { font-size: 0.8em; padding: 0 0.35em; border-radius: 4px; background: var(--color-accent-soft); }
.kb-status p { margin: 0.2em 0; }
.kb-status .kb-good { color: #15803d; }
.kb-status .kb-bad, .kb-error { color: #b91c1c; }
#ask-row { align-items: stretch; }
#send { min-width: 72px; }
@media (max-width: 640px) {
  #masthead h2 { font-size: 1.2em; margin: 0; }
  #masthead p { font-size: 0.85em; }
  #chat { height: 62vh !important; min-height: 320px; }
  .kb-head { font-size: 0.8em; }
}
"""

# After an answer arrives, bring the question and the start of its answer into view (not the last card).
SCROLL_TO_QUESTION = """() => { setTimeout(() => {
  const asked = document.querySelectorAll("#chat [data-testid='user']");
  if (asked.length) asked[asked.length - 1].scrollIntoView({ block: "start", behavior: "smooth" });
}, 80); }"""

# Page-level styles, and: clicking a marker scrolls to its card and flashes it (a plain anchor without the script).
HEAD = """
<style>
/* Outside the app's own container, where Gradio does not scope custom CSS. */
.gradio-container { max-width: 1280px !important; margin: 0 auto !important; }
@media (max-width: 640px) { .gradio-container .main.app { padding: 8px 6px !important; } }
</style>
<script>
document.addEventListener("click", function (event) {
  var link = event.target && event.target.closest ? event.target.closest("a.kb-cite") : null;
  if (!link) return;
  var card = document.getElementById((link.getAttribute("href") || "").slice(1));
  if (!card) return;
  event.preventDefault();
  card.scrollIntoView({ behavior: "smooth", block: "nearest" });
  card.classList.remove("kb-flash");
  void card.offsetWidth;
  card.classList.add("kb-flash");
}, true);
</script>
"""
