"""Format parity: the CMRC 2018 trial passages as one .txt, one PDF, one DOCX and one XLSX file, each indexed
on its own and asked every question; hit@1 must match the .txt corpus's, and each PDF hit must name its page.

Usage: python benchmarks/parity.py [--data eval/data/cmrc2018_trial.json] [--fake] [--per-page 2]
       [--limit N] [--json out.json] [--markdown out.md]
Each passage is its title, then its text as one paragraph: in the .txt file a blank line between them; in the
PDF (reportlab, STSong-Light, wrapped to the text width) a title line and the text, ``--per-page`` passages
a page; in the DOCX a Heading 1 and a paragraph; in the XLSX a row (标题, 正文) under a header row.

A retrieved passage is the gold one when at least half of its 8-character shingles (NFKC, whitespace
removed) occur in the gold passage's title + text: a window of the gold passage, or a row holding it, is;
a neighbour is not. A PDF hit names the right page when its text's start is on the page it cites.
The default model is used unless ``--fake`` (the test suite's hashing encoder).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
import unicodedata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SHARED = ROOT.parent / "shared" / "data" / "cmrc2018_trial.questions.jsonl"
DEFAULT_DATA = SHARED if SHARED.exists() else ROOT / "eval" / "data" / "cmrc2018_trial.json"
FORMATS = ("txt", "pdf", "docx", "xlsx")
SHINGLE = 8


def squash(text: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))


def shingles(text: str) -> set[str]:
    text = squash(text)
    return {text[i : i + SHINGLE] for i in range(max(len(text) - SHINGLE + 1, 1))}


def is_gold(hit_text: str, gold_shingles: set[str]) -> bool:
    own = shingles(hit_text)
    return len(own & gold_shingles) >= 0.5 * len(own)


def write_txt(passages, path: Path) -> None:
    path.write_text("".join(f"{p.title}\n\n{p.text.strip()}\n\n" for p in passages), encoding="utf-8")


def write_docx(passages, path: Path) -> None:
    import docx

    document = docx.Document()
    for p in passages:
        document.add_heading(p.title, level=1)
        document.add_paragraph(p.text.strip())
    document.save(str(path))


def write_xlsx(passages, path: Path) -> None:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = "cmrc"
    sheet.append(["标题", "正文"])
    for p in passages:
        sheet.append([p.title, p.text.strip()])
    book.save(str(path))


def write_pdf(passages, path: Path, *, per_page: int) -> list[str]:
    """The PDF, and each page's text (squashed) as drawn, to check the pages hits cite."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    font, size, leading, left, width = "STSong-Light", 10, 13, 72, 595 - 2 * 72
    pdf = canvas.Canvas(str(path), pagesize=(595, 842))
    pages: list[str] = [""]
    y = 790
    for i, p in enumerate(passages):
        if i and i % per_page == 0:
            pdf.showPage()
            pages.append("")
            y = 790
        lines = [(p.title, 13)] + [(line, size) for line in wrap(p.text.strip(), width, font, size)]
        for text, points in lines:
            if y < 60:  # a passage longer than the page's rest flows on to the next page
                pdf.showPage()
                pages.append("")
                y = 790
            pdf.setFont(font, points)
            pdf.drawString(left, y, text)
            pages[-1] += squash(text)
            y -= leading + (6 if points > size else 0)
        y -= 12  # a blank line's worth between passages
    pdf.showPage()
    pdf.save()
    return pages


def wrap(text: str, width: float, font: str, size: float) -> list[str]:
    """Greedy lines of at most ``width`` points: anywhere between Chinese characters, at spaces or between
    Chinese and Latin in Latin text (a Latin word longer than a line is cut)."""
    from reportlab.pdfbase.pdfmetrics import stringWidth

    tokens = []
    for token in re.findall(r"[A-Za-z0-9_\-./:%+'’]+|\s|.", text):
        tokens.extend(token if stringWidth(token, font, size) > width else [token])  # a URL: cut anywhere
    lines, current = [], ""
    for token in tokens:
        if current and stringWidth(current + token, font, size) > width:
            lines.append(current.rstrip())
            current = token.lstrip()
        else:
            current += token
    if current.strip():
        lines.append(current.rstrip())
    return lines


def run(kind: str, passages, questions, folder: Path, *, encoder, per_page: int) -> dict:
    from assistant.api import Assistant

    docs = folder / kind
    docs.mkdir(parents=True)
    pages = None
    target = docs / f"cmrc.{kind}"
    if kind == "txt":
        write_txt(passages, target)
    elif kind == "pdf":
        pages = write_pdf(passages, target, per_page=per_page)
    elif kind == "docx":
        write_docx(passages, target)
    else:
        write_xlsx(passages, target)
    bot = Assistant(docs, encoder=encoder, index_root=folder / f"index-{kind}", progress=False)
    started = time.perf_counter()
    index = bot.refresh()
    build = time.perf_counter() - started
    gold = {p.id: shingles(f"{p.title}{p.text}") for p in passages}
    hit1 = hit5 = 0
    page_right = page_checked = 0
    misses = []
    for q in questions:
        hits = bot.ask(q.question, top_k=5, threshold=-1.0).hits
        ranks = [i for i, h in enumerate(hits, start=1) if is_gold(h.passage.text, gold[q.passage_id])]
        hit1 += bool(ranks and ranks[0] == 1)
        hit5 += bool(ranks)
        if pages is not None and ranks:
            top = hits[ranks[0] - 1].passage
            page_checked += 1
            page_right += 0 < top.page <= len(pages) and squash(top.text)[:SHINGLE] in pages[top.page - 1]
        if (not ranks or ranks[0] != 1) and len(misses) < 400:
            misses.append(
                {"question": q.question, "gold": q.passage_id, "top": hits[0].passage.text[:60] if hits else ""}
            )
    n = len(questions)
    return {
        "format": kind,
        "questions": n,
        "passages": len(index.passages),
        "hit@1": hit1 / n,
        "hit@5": hit5 / n,
        "pdf_pages": len(pages) if pages else 0,
        "page_right": page_right,
        "page_checked": page_checked,
        "build_seconds": build,
        "misses": misses,
    }


def markdown(results: list[dict], *, model: str, per_page: int) -> str:
    base = results[0]["hit@1"]
    lines = [
        f"CMRC 2018 trial: {results[0]['questions']} questions over 256 passages; model: {model}; "
        f"PDF: {per_page} passages a page ({results[1]['pdf_pages'] if len(results) > 1 else 0} pages).",
        "",
        "| format | passages indexed | hit@1 | Δ vs .txt | hit@5 | PDF hits naming the right page | index build s |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        page = f"{r['page_right']}/{r['page_checked']}" if r["format"] == "pdf" else "—"
        lines.append(
            f"| .{r['format']} | {r['passages']} | {r['hit@1']:.3f} | {r['hit@1'] - base:+.3f} | {r['hit@5']:.3f} "
            f"| {page} | {r['build_seconds']:.1f} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--fake", action="store_true", help="the test suite's hashing encoder instead of the model")
    parser.add_argument("--per-page", type=int, default=2)
    parser.add_argument("--limit", type=int)
    parser.add_argument("--formats", nargs="+", default=list(FORMATS), choices=FORMATS)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--markdown", type=Path)
    args = parser.parse_args()
    from assistant.encoders import make_encoder
    from assistant.evaluate import load_dataset

    passages, questions = load_dataset(args.data)
    # the questions evaluate.py asks: a gold passage, and not blank (the trial set has one blank question)
    questions = [q for q in questions if q.passage_id and q.question.strip()][: args.limit]
    if args.fake:
        from tests.conftest import FakeEncoder

        encoder, model = FakeEncoder(), "the tests' hashing encoder (--fake)"
    else:
        encoder = make_encoder(None)
        model = f"the default ({encoder.name})"
    results = []
    with tempfile.TemporaryDirectory(prefix="assistant-parity-") as tmp:
        for kind in args.formats:
            results.append(run(kind, passages, questions, Path(tmp), encoder=encoder, per_page=args.per_page))
            print(f"{kind}: hit@1 {results[-1]['hit@1']:.3f}", file=sys.stderr)
    table = markdown(results, model=model, per_page=args.per_page)
    sys.stdout.write(table)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    if args.markdown:
        args.markdown.write_text(table)


if __name__ == "__main__":
    main()
