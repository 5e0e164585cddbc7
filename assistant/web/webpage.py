"""The web chat's words: Chinese, English, or both before the first question (styles and script: style.py)."""

from __future__ import annotations

import re
from collections.abc import Sequence

from ..records import DocumentInfo
from ..search import language
from ..text import MAX_UPLOAD_BYTES

_MB = MAX_UPLOAD_BYTES >> 20

PAGE = {
    "en": {
        "ask": "Ask",
        "placeholder": "Type a question…",
        "new_chat": "New chat",
        "export": "Export chat (Markdown)",
        "kb": "Knowledge base",
        "upload": "Add documents…",
        "upload_hint": f"Text, Markdown, HTML, PDF, Word, PowerPoint, Excel/CSV, EPUB or images (OCR), up to {_MB} MB each; "
        "searchable as soon as they are indexed.",
        "remove_pick": "Uploaded document to remove",
        "remove": "Remove",
        "settings": "Settings",
        "top_k": "Passages to cite",
        "alpha": "Keyword ← balance → meaning",
        "threshold": "Relevance threshold: least probability that a passage answers (weaker ones are not shown)",
        "summary": "Documents: {docs} · passages: {passages}",
        "indexing": "Indexing {n} file(s)…",
        "background": "Indexing {n} changed file(s) in the background; answers come from the last index until then…",
        "upgrading": "Building the stronger index ({model}) in the background: {done} of about {total} passages; "
        "answers come from the fast index until then…",
        "added": "Added {source} (passages: {passages}).",
        "refused": "Not added: {reason}",
        "skipped": "Not indexed: {reason}",
        "skipped_more": "… and {n} more files not indexed (python -m assistant index lists them all).",
        "removed": "Removed {source}.",
        "pick_first": "Choose an uploaded document first.",
        "error": "{message}",
        "too_big": f"Not added: {{name}} is larger than {_MB} MB (the limit for each file).",
        "page_view": "Page view",
        "prev": "← Previous page",
        "next": "Next page →",
        "download": "Download the file",
        "page_of": "{source} · page {page} of {pages}",
        "marked": "the cited passage is marked",
        "not_marked": "the cited passage is on page {page}",
        "scanned": "(scanned page, text found by OCR)",
        "kb_pick": "Knowledge base to search",
        "all_kbs": "All knowledge bases",
        "kb_summary": "[{name}] documents: {docs} · passages: {passages}",
        "upload_pick": "Choose one knowledge base above to add documents to it; they cannot go to all of them.",
        "filter_hint": "Filter with words in the question: `source:handbook/*` `type:pdf` `after:2024-01-01` `before:2025-01-01`.",
    },
    "zh": {
        "ask": "提问",
        "placeholder": "输入问题…",
        "new_chat": "新对话",
        "export": "导出对话 (Markdown)",
        "kb": "知识库",
        "upload": "添加文档…",
        "upload_hint": f"支持文本、Markdown、HTML、PDF、Word、PowerPoint、Excel/CSV、EPUB 和图片（OCR），每个不超过 {_MB} MB；"
        "索引完成即可检索。",
        "remove_pick": "要删除的上传文档",
        "remove": "删除",
        "settings": "设置",
        "top_k": "引用片段数",
        "alpha": "关键词 ← 权重 → 语义",
        "threshold": "相关度阈值：片段能回答问题的最低概率（低于此值的不显示）",
        "summary": "{docs} 个文档 · {passages} 个片段",
        "indexing": "正在索引 {n} 个文件…",
        "background": "正在后台索引 {n} 个有变化的文件，完成前按上次的索引回答…",
        "upgrading": "正在后台构建更强的索引（{model}）：约 {total} 段中已完成 {done} 段，完成前由快速索引作答…",
        "added": "已添加 {source}（{passages} 个片段）。",
        "refused": "未添加：{reason}",
        "skipped": "未编入索引：{reason}",
        "skipped_more": "……另有 {n} 个文件未编入索引（python -m assistant index 会全部列出）。",
        "removed": "已删除 {source}。",
        "pick_first": "请先选择一个上传的文档。",
        "error": "{message}",
        "too_big": f"未添加：{{name}} 超过 {_MB} MB（每个文件的上限）。",
        "page_view": "原文页面",
        "prev": "← 上一页",
        "next": "下一页 →",
        "download": "下载原文件",
        "page_of": "{source} · 第 {page} 页，共 {pages} 页",
        "marked": "引用的片段已标出",
        "not_marked": "引用的片段在第 {page} 页",
        "scanned": "（扫描页，文字由 OCR 识别）",
        "kb_pick": "检索的知识库",
        "all_kbs": "所有知识库",
        "kb_summary": "[{name}] {docs} 个文档 · {passages} 个片段",
        "upload_pick": "请先在上方选择一个知识库再添加文档；文档不能同时添加到所有知识库。",
        "filter_hint": "在问题中加上筛选词：`source:handbook/*` `type:pdf` `after:2024-01-01` `before:2025-01-01`。",
    },
}
# Before the first question the page speaks both languages; after it, the question's. Messages (status
# lines, errors) are written in each language and shown one under the other: see ``say``.
PAGE["both"] = {key: f"{PAGE['en'][key]} · {PAGE['zh'][key]}" for key in PAGE["en"]}
PAGE["both"].update(
    placeholder="输入问题 / Type a question…",
    upload_hint=PAGE["en"]["upload_hint"] + " " + PAGE["zh"]["upload_hint"],
    summary=PAGE["en"]["summary"],
    kb_summary=PAGE["en"]["kb_summary"],
    filter_hint=PAGE["en"]["filter_hint"],
)

# The library's messages are English; the page shows those a user can meet in Chinese on a Chinese page.
# Each pattern matches a whole message; its groups (file names, numbers, values) fill the Chinese one.
_ZH_MESSAGES = [
    (r"The question is empty\..*", "问题是空的，请输入一个问题，例如：世界互联网大会国际组织是什么时候成立的?"),
    (r"The question must be text\.", "问题必须是文字。"),
    (
        r"The question is (\d+) characters long; shorten it to at most (\d+)\.",
        "问题有 {0} 个字，请缩短到 {1} 个字以内。",
    ),
    (
        r"The question has no words, only symbols.*",
        "问题里只有符号，没有文字；请用文字提问，例如：乌镇峰会是什么时候开始的?",
    ),
    (r"The history must be a list.*", "对话历史的格式不对：应是之前问题的列表，按先后排列。"),
    (
        r"The number of passages must be a whole number from 1 to (\d+); got (.*)\.",
        "引用片段数必须是 1 到 {0} 之间的整数；收到的是 {1}。",
    ),
    (
        r"The keyword/dense balance(?: \(alpha\))? must be .*between 0 and 1; got (.*)\.",
        "关键词与语义的权重必须是 0 到 1 之间的数；收到的是 {0}。",
    ),
    (
        r"The not-found threshold is the least probability .*; got (.*)\.",
        "相关度阈值是片段能回答问题的最低概率，必须是 0 到 1 之间的数，例如 0.3；收到的是 {0}。",
    ),
    (r"Something went wrong; try again.*", "出了点问题，请重试；如果再次出现，请报告（服务器日志里有详细信息）。"),
    (
        r"The file has no name.*",
        "文件没有名字；请上传文档（.txt、.md、.html、.pdf、.docx、.pptx、.xlsx、.csv 或 .epub）。",
    ),
    (r"(.+) is a path, not a file name; upload the file itself\.", "{0} 是路径，不是文件名；请直接上传文件本身。"),
    (r"(.+) is not a supported document; upload one of: (.+)\.", "{0} 不是支持的文档类型；请上传以下类型之一：{1}。"),
    (r"(.+) is empty; nothing to add\.", "{0} 是空文件，没有可添加的内容。"),
    (r"(.+) has no text; nothing to add\.", "{0} 里没有文字，没有可添加的内容。"),
    (
        r"(.+) is ([\d.]+) MB; the limit is (\d+) MB\. Split it into smaller files\.",
        "{0} 有 {1} MB，超过了 {2} MB 的上限；请拆分成较小的文件。",
    ),
    (r"(.+) is larger than (\d+) MB; split it into smaller files\.", "{0} 超过 {1} MB；请拆分成较小的文件。"),
    (r"(.+) looks like a binary file, not text.*", "{0} 看起来是二进制文件，不是文本；请转换成 .txt 后再上传。"),
    (
        r"(.+) starts like (\S+) but is damaged; re-save it as UTF-8\.",
        "{0} 开头像 {1} 文本，但已损坏；请另存为 UTF-8。",
    ),
    (
        r"(.+) is not UTF-8, GB18030 or Big5 text.*",
        "{0} 不是 UTF-8、GB18030 或 Big5 文本（可能已损坏或是二进制文件）；请另存为 UTF-8。",
    ),
    (r"(.+) cannot be read \((.+?)\)(?:;.*)?\.", "{0} 无法读取（{1}）。"),
    (r"(.+) did not arrive; upload it again\.", "{0} 没有传到；请重新上传。"),
    (r"(.+) is a password-protected PDF; .*", "{0} 是加密的 PDF；请另存一份不带密码的副本再上传。"),
    (
        r"(.+) is a damaged (PDF|Word document|PowerPoint presentation|Excel workbook|EPUB book) .*",
        "{0} 已损坏；请用原程序重新保存或导出。",
    ),
    (
        r"(.+) has no text: no page has a text layer and OCR found none.*",
        "{0} 没有文字：没有一页有文字层，OCR 也没有识别出文字；请确认文件是否正确。",
    ),
    (r"(.+) is an image in which OCR found no text.*", "{0} 是图片，OCR 没有识别出文字。"),
    (r"(.+) is not a readable image .*", "{0} 不是可读取的图片；请重新保存。"),
    (r"(.+) is (\d+)×(\d+) pixels, more than OCR reads.*", "{0} 有 {1}×{2} 像素，超出 OCR 的上限；请缩小后再上传。"),
    (r"(.+) looks like a zip bomb .*", "{0} 看起来是压缩炸弹（解压后异常巨大），没有打开；请删除它。"),
    (
        r"(.+) is not an? (Word document|PowerPoint presentation|Excel workbook|EPUB book) .*",
        "{0} 的内容与扩展名不符；请用原程序重新保存，或改成正确的扩展名。",
    ),
    (
        r"(.+) is password-protected, or an old-format file .*",
        "{0} 有密码保护，或是改了扩展名的旧格式文件；请去掉密码并另存为新格式。",
    ),
    (r"(\d+) files at once; upload at most (\d+) at a time\.", "一次上传了 {0} 个文件；每次最多 {1} 个。"),
    (r"Uploads are off: .*", "上传已关闭：请带上传文件夹启动（serve --uploads DIR）。"),
    (r"Uploads are off, so there is nothing uploaded to remove\.", "上传已关闭，没有可删除的上传文档。"),
    (r"(.+) is not an uploaded document; .*", "{0} 不是上传的文档；这里只能删除上传的文档。"),
    (r"(.+) is not in the knowledge base; refresh the list\.", "{0} 不在知识库中；请刷新页面。"),
    (r"(.+) is the only document; add another before removing it\.", "{0} 是唯一的文档；请先添加别的文档再删除它。"),
    (
        r"There is no knowledge base (.+); choose one of (.+) or all\.",
        "没有名为 {0} 的知识库；请从 {1} 中选择，或选择 all（所有知识库）。",
    ),
    (
        r"(.+) is not a knowledge base name; use 1 to (\d+) letters, .*",
        "{0} 不能作知识库名称；请用 1 到 {1} 个字母、数字、“-”、“_”或汉字。",
    ),
    (
        r"This needs one knowledge base, not all; choose one of (.+)\.",
        "这里需要一个知识库，不能是所有知识库；请从 {0} 中选择。",
    ),
    (r"(.+) is a reserved word, not a knowledge base name; .*", "{0} 是保留字，不能作知识库名称；请换一个名称。"),
    (
        r"(modified_after|modified_before) must be an ISO date such as 2024-01-01; got (.+)\.",
        "{0} 必须是 ISO 格式的日期，例如 2024-01-01；收到的是 {1}。",
    ),
    (r"The (kb|source|type) filter must be a non-empty text .*", "筛选条件 {0} 必须是不超过 1000 个字符的非空文字。"),
]
_ZH_PATTERNS = [(re.compile(pattern, re.DOTALL), zh) for pattern, zh in _ZH_MESSAGES]


def in_chinese(message: str) -> str | None:
    """The Chinese for one of the library's English messages, or None when it is not a known one."""
    for pattern, zh in _ZH_PATTERNS:
        if match := pattern.fullmatch(message):
            return zh.format(*match.groups())
    return None


def localise(message: str, lang: str) -> str:
    """A library message in the page's language: English, Chinese, or both (English first, one per line).

    An unknown message stays English: better a sentence in English than none.
    """
    if lang == "en":
        return message
    zh = in_chinese(message)
    if lang == "zh" or zh is None:
        return zh or message
    return f"{message}\n{zh}"


def say(key: str, lang: str, **params) -> str:
    """A page message (``PAGE[lang][key]``) with its parameters; ``reason`` and ``message`` are library
    messages, put in the same language. On the bilingual page: the English line, then the Chinese."""
    if lang not in ("en", "zh"):
        return say(key, "en", **params) + "\n" + say(key, "zh", **params)
    for name in ("reason", "message"):
        if name in params:
            params[name] = localise(params[name], lang)
    return PAGE[lang][key].format(**params)


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
    "用中文或英文提问：回答引用原文，并注明文件和第几段（¶）。"
)
PLACEHOLDER = (
    "### 问我文档里的内容 · Ask about the documents\n"
    "Every answer quotes its sources; open a citation to read it in context. "
    "每个回答都附有出处，点开引用即可查看上下文。"
)


def page_language(questions: list[str], shown: str) -> str:
    """The page's language: that of the last question with letters in it (one of digits and symbols
    alone says nothing), ``shown`` when none has any, both languages on an empty chat."""
    if not questions:
        return "both"
    for question in reversed(questions):
        if (lang := language(question, default="")) != "":
            return lang
    return shown
