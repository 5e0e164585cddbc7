"""The chat's HTML: the answer with citation markers, passage cards with highlights, passages in context.

Every piece of document text and every question goes through :func:`escape_html`; the only tags in a
reply are the ones written here. The chat renders Markdown, so the reply is one HTML block (no blank
line, no newline) and Markdown's special characters are escaped as entities as well.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Sequence
from functools import lru_cache
from urllib.parse import quote

from ..keyword import fold, stem, tokenize
from ..records import Answer, DocumentInfo, Passage
from ..search import LABELS, language
from ..text import join_parts
from .webpage import say

WORDS = {
    "zh": {
        **LABELS["zh"],
        "context": "查看原文上下文",
        "show_page": "查看原文页面",
        "not_found_hint": "换个说法再问，或在“知识库”里上传相关文档。",
        "documents": "文档",
        "passages": "片段",
        "uploaded": "已上传",
        "empty": "知识库是空的。",
        "more": "……另有 {n} 个文档未列出",
        "filter": "筛选文档（标题或文件名）…",
        "no_match": "没有匹配的文档。",
    },
    "en": {
        **LABELS["en"],
        "context": "Show in context",
        "show_page": "Show page",
        "not_found_hint": "Try other words, or upload a document that covers it under “Knowledge base”.",
        "documents": "Document",
        "passages": "Passages",
        "uploaded": "uploaded",
        "empty": "The knowledge base is empty.",
        "more": "… and {n} more documents",
        "filter": "Filter documents (title or file)…",
        "no_match": "No document matches.",
    },
}

# HTML's specials as entities, and Markdown's inline ones too (emphasis, code, links, autolinks, maths):
# the reply is an HTML block, but nothing in a document should depend on that to stay text.
_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;", "\n": "<br>"}
_ESCAPES.update({c: f"&#{ord(c)};" for c in "\\`*_[]~$:|"})
_ESCAPE = str.maketrans(_ESCAPES)


def escape_html(text: str) -> str:
    """Text shown literally by both HTML and Markdown; newlines become ``<br>``."""
    return text.translate(_ESCAPE)


def unescape_html(text: str) -> str:
    """The inverse of :func:`escape_html` (the chat keeps user messages escaped)."""
    return html.unescape(text.replace("<br>", "\n"))


@lru_cache(maxsize=8192)
def _fold_char(ch: str) -> str:
    return fold(ch) if not ch.isascii() else ch.lower()


def query_terms(query: str) -> list[str]:
    """The question's words worth highlighting (folded as the keyword index folds them), longest first."""
    return highlight_terms(tokenize(query))


def highlight_terms(words) -> list[str]:
    """Of the question's words (as retrieval tokenized them), those worth highlighting, longest first."""
    return sorted({t for t in words if len(t) >= 2}, key=lambda t: (-len(t), t))


def term_spans(text: str, terms: Sequence[str]) -> list[tuple[int, int]]:
    """Merged ``(start, end)`` spans of ``text`` where a term occurs, matched on folded text.

    Folding (NFKC, lower case, traditional → simplified) works character by character here, so a
    span found in the folded text maps back to the original characters. A Latin term must start a word;
    when it is the stem of that word, it marks all of it.
    """
    if not terms or not text:
        return []
    folded, owner = [], []
    for i, ch in enumerate(text):
        f = _fold_char(ch)
        folded.append(f)
        owner.extend([i] * len(f))
    flat = "".join(folded)
    spans = []
    for term in terms:
        start = flat.find(term)
        while start >= 0:
            latin = term[0].isascii() and term[0].isalnum()
            end = start + len(term)
            inside = latin and start > 0 and flat[start - 1].isascii() and flat[start - 1].isalnum()
            if term.isdigit() and end < len(flat) and flat[end].isdigit():
                inside = True  # a number is whole or nothing: 12 is not in 129
            if not inside:
                if latin:  # a stem marks the whole word it stands for: "blueberri" marks "blueberries"
                    word_end = end
                    while word_end < len(flat) and flat[word_end].isascii() and flat[word_end].isalpha():
                        word_end += 1
                    if word_end > end and stem(flat[start:word_end]) == term:
                        end = word_end
                spans.append((owner[start], owner[end - 1] + 1))
            start = flat.find(term, start + 1)
    return _merge(spans)


def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def highlight(text: str, terms: Sequence[str] = (), sentence: str = "") -> str:
    """Escaped ``text`` with the query terms in ``<mark>`` and the answering ``sentence`` in ``<strong>``."""
    start = text.find(sentence) if sentence else -1
    if start < 0:
        return _marked(text, terms)
    end = start + len(sentence)
    return (
        _marked(text[:start], terms)
        + f'<strong class="kb-best">{_marked(text[start:end], terms)}</strong>'
        + _marked(text[end:], terms)
    )


def _marked(text: str, terms: Sequence[str]) -> str:
    out, cursor = [], 0
    for start, end in term_spans(text, terms):
        out.append(escape_html(text[cursor:start]))
        out.append(f'<mark class="kb-term">{escape_html(text[start:end])}</mark>')
        cursor = end
    out.append(escape_html(text[cursor:]))
    return "".join(out)


def render_reply(
    answer: Answer,
    *,
    uid: str,
    contexts: Sequence[Sequence[Passage]] = (),
    terms: Sequence[str] | None = None,
    passage_chars: int = 600,
    show_kb: bool = False,
) -> str:
    """One chat reply: the extractive answer with markers, then a card per cited passage.

    Args:
        uid: unique per reply, so that marker links reach this reply's cards.
        contexts: per hit, its passage with the paragraphs around it (``Assistant.context``); shown
            in an expandable part of the card.
        terms: words to highlight; default: the question's.
        show_kb: name each card's knowledge base (``[handbook] title · file · p. 3``), when there are several.
    """
    lang = language(answer.question)
    words = WORDS[lang]
    if not answer.found:
        return (
            f'<div class="kb-reply kb-not-found" lang="{lang}"><p>{escape_html(answer.answer)}</p>'
            f'<p class="kb-hint">{escape_html(words["not_found_hint"])}</p></div>'
        )
    terms = highlight_terms(answer.terms) if terms is None else terms
    parts = [f'<div class="kb-reply" lang="{lang}"><p class="kb-lead"><span class="kb-label">{words["answer"]}</span>']
    for sentence, numbers in answer.sentences:
        parts.append(escape_html(sentence) + "".join(_marker(answer, n, uid) for n in numbers) + " ")
    parts.append("</p>")
    if more := answer.see_also:
        links = " ".join(_marker(answer, n, uid) for n in more)
        parts.append(f'<p class="kb-more">{words["see_also"]} {links}</p>')
    parts.append(f'<div class="kb-cards" aria-label="{words["sources"]}">')
    for n, hit in enumerate(answer.hits, start=1):
        context = contexts[n - 1] if n - 1 < len(contexts) else ()
        kb = hit.kb if show_kb else ""
        parts.append(_card(n, hit, uid=uid, words=words, terms=terms, context=context, limit=passage_chars, kb=kb))
    parts.append("</div></div>")
    return "".join(parts)


def _marker(answer: Answer, n: int, uid: str) -> str:
    p = answer.hits[n - 1].passage
    tip = escape_html(f"{p.title} · {p.source} · {p.citation}")
    return f'<a class="kb-cite" href="#kb-{uid}-{n}" title="{tip}">[{n}]</a>'


def _score(hit, words) -> str:
    """The calibrated probability that the passage answers (the fused score in its tooltip), else the score."""
    if hit.confidence > 0:
        tip = f"{words['score']} {hit.score:.2f}"
        return f'<span class="kb-score" title="{tip}">{words["match"]} {100 * hit.confidence:.0f}%</span>'
    return f'<span class="kb-score">{words["score"]} {hit.score:.2f}</span>'


def _card(n, hit, *, uid, words, terms, context, limit, kb="") -> str:
    p = hit.passage
    text = p.text if len(p.text) <= limit else p.text[:limit].rstrip() + "…"
    named = f'<span class="kb-kb">[{escape_html(kb)}]</span> ' if kb else ""
    head = (
        f'<div class="kb-head"><span class="kb-n">[{n}]</span> {named}<span class="kb-title">{escape_html(p.title)}</span>'
        f' · <code class="kb-file">{escape_html(p.source)}</code> · <span class="kb-where">{escape_html(p.citation)}</span>'
        f" · {_score(hit, words)}</div>"
    )
    body = f'<div class="kb-text">{highlight(text, terms, hit.sentence)}</div>'
    more = render_context(context, p, words, terms, hit.sentence) + render_page_link(p, words, hit.kb)
    return f'<div class="kb-card" id="kb-{uid}-{n}">{head}{body}{more}</div>'


def render_context(context: Sequence[Passage], cited: Passage, words: dict, terms, sentence: str) -> str:
    """The cited paragraph (all its parts) between its neighbours, in an expandable ``<details>``."""
    if not context:
        return ""
    groups: list[tuple[Passage, list[str]]] = []
    for p in context:
        if groups and _same_paragraph(groups[-1][0], p):
            groups[-1][1].append(p.text)
        else:
            groups.append((p, [p.text]))
    first, last = groups[0][0], groups[-1][0]
    span = f"¶{first.first_paragraph or first.paragraph}–{last.last_paragraph or last.paragraph}"
    if len(groups) == 1:
        span = _paragraph_label(first)
    rows = []
    for head, texts in groups:
        text = join_parts(texts)
        is_cited = _same_paragraph(head, cited)
        body = highlight(text, terms, sentence) if is_cited else highlight(text, terms)
        rows.append(
            f'<p class="kb-para{" kb-cited" if is_cited else ""}">'
            f'<span class="kb-pn">{escape_html(_paragraph_label(head))}</span>{body}</p>'
        )
    return (
        f'<details class="kb-context"><summary>{words["context"]} · {escape_html(span)}</summary>'
        f"{''.join(rows)}</details>"
    )


def render_page_link(passage: Passage, words: dict, kb: str = "") -> str:
    """For a passage of a PDF page or an image (text by OCR), a link that opens the page view beside the chat: the page's script reads
    the citation from the link (``#show-page/<paragraph>/<part>/<source, URL-quoted>``: the chat's sanitizer
    keeps a link's address, not its data attributes; ``/<knowledge base>`` follows when ``kb`` is given);
    "" for other types, whose context view stays."""
    if not passage.page or not passage.source.lower().endswith((".pdf", ".png", ".jpg", ".jpeg")):
        return ""
    target = f"#show-page/{passage.paragraph}/{passage.part}/{quote(passage.source, safe='')}"
    target += f"/{quote(kb, safe='')}" if kb else ""
    return (
        f'<p class="kb-page-row"><a class="kb-page" href="{escape_html(target)}">'
        f"{words['show_page']} · p. {passage.page}</a></p>"
    )


def render_page_info(view, source: str, cited: int, words: dict) -> str:
    """The caption of a page view (``readers.PageImage``): file and page, whether the cited passage is marked
    on it; the page, page count and marked boxes ride along as data attributes (for tests and scripts)."""
    note = words["marked"] if view.boxes else words["not_marked"].format(page=cited)
    if view.ocr:
        note += " " + words["scanned"]
    boxes = json.dumps([list(box) for box in view.boxes])
    return (
        f'<div class="kb-page-info" data-source="{escape_html(source)}" data-page="{view.page}"'
        f' data-pages="{view.pages}" data-cited="{cited}" data-width="{view.width}" data-height="{view.height}"'
        f' data-boxes="{escape_html(boxes)}">'
        f"<p><strong>{escape_html(words['page_of'].format(source=source, page=view.page, pages=view.pages))}</strong></p>"
        f'<p class="kb-hint">{escape_html(note)}</p></div>'
    )


def _same_paragraph(a: Passage, b: Passage) -> bool:
    return (a.source, a.paragraph, a.first_paragraph, a.last_paragraph) == (
        b.source,
        b.paragraph,
        b.first_paragraph,
        b.last_paragraph,
    )


def _paragraph_label(p: Passage) -> str:
    return p.place or p.paragraphs  # a page, slide, row or section: labelled as its citation names it


def render_error(message: str, lang: str = "en") -> str:
    """A user mistake (empty question, bad setting) as one escaped sentence."""
    tag = f' lang="{lang}"' if lang in WORDS else ""  # the bilingual page has no one language
    return f'<div class="kb-reply kb-error"{tag}><p>{escape_html(message)}</p></div>'


def natural_key(text: str) -> list:
    """Sort key that reads digit runs as numbers: ``DEV_2`` before ``DEV_10``, case ignored."""
    return [int(part) if n % 2 else part.casefold() for n, part in enumerate(re.split(r"(\d+)", text))]


def render_documents(
    documents: Sequence[DocumentInfo], lang: str = "en", *, limit: int = 500, filter_at: int = 6
) -> str:
    """The knowledge base as a table in a scrolling box: title and file (uploaded ones tagged, and listed
    first), passages; files in natural order. With ``filter_at`` documents or more, a filter box above it
    (the page's script hides the rows that do not match).

    At most ``limit`` rows; the rest are counted, not listed (a page is no place for 10,000 rows).
    ``lang`` is ``zh``, ``en`` or ``both`` (the page before its first question).
    """
    words = WORDS.get(lang) or {key: f"{WORDS['en'][key]} · {WORDS['zh'][key]}" for key in WORDS["en"]}
    if not documents:
        return f'<p class="kb-docs-empty">{words["empty"]}</p>'
    ordered = sorted(documents, key=lambda d: (not d.uploaded, natural_key(d.source), d.source))
    rows = "".join(
        f'<tr class="kb-row"><td><span class="kb-doc-title">{escape_html(d.title)}</span> '
        f"<code>{escape_html(d.source)}</code>"
        + (f' <span class="kb-tag">{words["uploaded"]}</span>' if d.uploaded else "")
        + f'</td><td class="kb-num">{d.passages}</td></tr>'
        for d in ordered[:limit]
    )
    more = len(ordered) - limit
    if more > 0:
        rows += f'<tr><td colspan="2" class="kb-hint">{words["more"].format(n=more)}</td></tr>'
    search = ""
    if len(documents) >= filter_at:
        rows += f'<tr class="kb-nomatch" hidden><td colspan="2" class="kb-hint">{words["no_match"]}</td></tr>'
        search = (
            f'<input type="search" class="kb-filter" aria-controls="kb-docs" placeholder="{words["filter"]}"'
            f' aria-label="{words["filter"]}">'
        )
    return (
        f'{search}<div class="kb-docs-box"><table class="kb-docs" id="kb-docs"><thead><tr><th>{words["documents"]}</th>'
        f'<th class="kb-num">{words["passages"]}</th></tr></thead><tbody>{rows}</tbody></table></div>'
    )


def render_status(report: list, lang: str) -> str:
    """The upload/remove status: one escaped line per ``(kind, key, params)`` of the report, in ``lang``."""
    return "".join(
        f'<p class="kb-{"good" if kind == "good" else "bad"}">{escape_html(say(key, lang, **params))}</p>'
        for kind, key, params in report or []
    )
