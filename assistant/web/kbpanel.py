"""The page's knowledge-base panel: the selected knowledge base's documents (or every one's), uploads, removal."""

# No postponed annotations: as in ui.py.

from ..api import ALL, KnowledgeBases
from ..errors import AssistantError
from .render import escape_html, render_documents, render_status
from .webpage import PAGE, say


def selector_choices(kbs: KnowledgeBases, lang: str) -> list[tuple[str, str]]:
    """The selector's choices: every knowledge base by name, then "all" in the page's language."""
    return [(name, name) for name in kbs.names] + [(PAGE[lang or "both"]["all_kbs"], ALL)]


def panel(kbs: KnowledgeBases, kb: str, lang: str, report: list | None = None) -> tuple:
    """Updates of the documents, remove choices, remove button, remove row and upload button for knowledge
    base ``kb`` (``all``: every one's documents, nothing to remove) in ``lang``; with ``report``, its status."""
    import gradio as gr

    words = PAGE[lang]
    several = len(kbs) > 1
    shown = kbs.chosen(kb) if kb == ALL or kb in kbs.names else kbs.chosen(kbs.names[0])
    parts, uploaded = [f'<div class="kb-base" data-lang="{lang}" data-kb="{escape_html(kb)}">'], []
    for name, bot in shown:
        docs, busy = bot.documents(), bot.indexing
        counts = {"docs": len(docs), "passages": sum(d.passages for d in docs)}
        line = words["kb_summary"].format(name=name, **counts) if several else words["summary"].format(**counts)
        parts.append(f'<p class="kb-summary">{escape_html(line)}</p>')
        if busy:
            parts.append(f'<p class="kb-hint">{escape_html(words["background"].format(n=busy))}</p>')
        elif (up := bot.upgrade) is not None and up.state == "building":
            line = words["upgrading"].format(model=up.model, done=min(up.done, up.total), total=up.total)
            parts.append(f'<p class="kb-hint kb-upgrade">{escape_html(line)}</p>')
        parts.append(render_documents(docs, lang))
        parts.append(render_skipped(bot.index.manifest.get("skipped") or {}, lang))
        uploaded += [d.source for d in docs if d.uploaded] if len(shown) == 1 else []
    uploads = any(bot.uploads for _, bot in shown)
    hint = words["upload_pick"] if len(shown) > 1 else words["upload_hint"]
    parts.append(f'<p class="kb-hint">{escape_html(hint)}</p>' if uploads else "")
    # the filter words, each as code: escape_html keeps the backticks as text, so they are split on here
    words_ = escape_html(words["filter_hint"]).split("&#96;")
    parts.append(
        '<p class="kb-hint kb-filters">'
        + "".join(f"<code>{w}</code>" if n % 2 else w for n, w in enumerate(words_))
        + "</p>"
    )
    out = (
        gr.update(value="".join(parts) + "</div>"),
        gr.update(choices=uploaded, value=None, label=words["remove_pick"]),
        gr.update(value=words["remove"]),
        gr.update(visible=bool(uploaded)),  # the remove row: no empty row while nothing is uploaded
        gr.update(label=words["upload"], visible=uploads),
    )
    return out if report is None else (*out, render_status(report, lang))


def upload(kbs: KnowledgeBases, kb: str, files: list[str]) -> list:
    """Add ``files`` to knowledge base ``kb``: the status report (``all`` is refused in one sentence)."""
    if kb == ALL:
        return [("bad", "upload_pick", {})]
    try:
        report = kbs.get(kb).add_documents(files, progress=True)
    except AssistantError as exc:
        return [("bad", "error", {"message": str(exc)})]
    good = [("good", "added", {"source": d.source, "passages": d.passages}) for d in report.added]
    return good + [("bad", "refused", {"reason": reason}) for _, reason in report.refused]


def remove(kbs: KnowledgeBases, kb: str, source: str | None) -> list:
    """Remove the uploaded ``source`` from knowledge base ``kb``: the status report."""
    if not source:
        return [("bad", "pick_first", {})]
    try:
        kbs.get(kbs.names[0] if kb == ALL else kb).remove_document(source)
    except AssistantError as exc:
        return [("bad", "error", {"message": str(exc)})]
    return [("good", "removed", {"source": source})]


SKIPPED_SHOWN = 20  # files named in the panel; the rest are counted


def render_skipped(skipped: dict[str, str], lang: str) -> str:
    """The corpus files that are not in the index, each with why and what to do (the reader's sentence, in
    ``lang``), so that a file the folder holds is never left out without a word."""
    if not skipped:
        return ""
    named = list(skipped.items())[:SKIPPED_SHOWN]
    lines = [say("skipped", lang, reason=why if source in why else f"{source}: {why}") for source, why in named]
    if len(skipped) > SKIPPED_SHOWN:
        lines.append(say("skipped_more", lang, n=len(skipped) - SKIPPED_SHOWN))
    return "".join(f'<p class="kb-bad kb-skipped">{escape_html(line)}</p>' for line in lines)
