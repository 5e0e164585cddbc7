"""PDF reader benchmark: pages per second and peak memory on a 500-page text PDF (Chinese and English),
this assistant's reader against LangChain's PyPDFLoader (pypdf) and Unstructured's partition_pdf(strategy="fast").

Usage: python benchmarks/readers.py [--pages 500] [--runs 3] [--work benchmarks/.work] [--peer-python PY]
       [--json out.json] [--markdown out.md]
The PDF is made once with reportlab (STSong-Light) and kept in the work folder. Each run of each reader is a
fresh Python process (so its peak memory is its own: /proc VmHWM), the readers taking turns; the table
gives medians. ``--peer-python`` is the interpreter that has the peers installed (benchmarks/requirements.txt);
by default this one. A peer that cannot be imported is reported with the reason instead of a number.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
READERS = ("assistant", "langchain", "unstructured")
LABELS = {
    "assistant": "this assistant (pypdfium2, headers/footers dropped, lines re-joined)",
    "langchain": "LangChain PyPDFLoader (pypdf)",
    "unstructured": 'Unstructured partition_pdf(strategy="fast") (pdfminer.six)',
}


def make_pdf(path: Path, pages: int) -> Path:
    """``pages`` A4 pages: a heading, Chinese paragraphs from the seeds and English sentences, a running
    header and a page number, wrapped to the text width."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    chinese = [
        line.strip()
        for line in (ROOT / "seeds" / "wuzhen_summit_ten_years_interview.txt").read_text("utf-8").splitlines()
        if len(line.strip()) > 30
    ]
    english = (
        "The World Internet Conference was founded in 2022 in Beijing, and its members come from many countries. "
        "Every paragraph of this page is wrapped to the width of the text, as a word processor would wrap it."
    )
    width = 595 - 2 * 72
    tmp = path.with_suffix(".part")
    pdf = canvas.Canvas(str(tmp), pagesize=(595, 842))
    for number in range(1, pages + 1):
        pdf.setFont("STSong-Light", 9)
        pdf.drawString(72, 810, "乌镇峰会十年 · Benchmark document")
        pdf.drawString(290, 40, str(number))
        pdf.setFont("STSong-Light", 15)
        pdf.drawString(72, 740, f"第{number}节 Section {number}")
        y = 715
        paragraphs = [chinese[(2 * number) % len(chinese)], english, chinese[(2 * number + 1) % len(chinese)]]
        for paragraph in paragraphs:
            for line in _wrap(paragraph, width, pdfmetrics.stringWidth):
                if y < 70:
                    break
                pdf.setFont("STSong-Light", 11)
                pdf.drawString(72, y, line)
                y -= 16
            y -= 10
        pdf.showPage()
    pdf.save()
    tmp.replace(path)
    return path


def _wrap(text: str, width: float, measure) -> list[str]:
    """Greedy lines of at most ``width`` points: at spaces in English, anywhere in Chinese."""
    lines, current = [], ""
    for token in _tokens(text):
        if current and measure(current + token, "STSong-Light", 11) > width:
            lines.append(current.rstrip())
            current = token.lstrip()
        else:
            current += token
    return [*lines, current.rstrip()] if current.strip() else lines


def _tokens(text: str) -> list[str]:
    out, word = [], ""
    for ch in text:
        if ch.isascii() and not ch.isspace():
            word += ch
            continue
        if word:
            out.append(word)
            word = ""
        out.append(ch)
    return [*out, word] if word else out


def child(reader: str, pdf: str) -> dict:
    """Read the PDF with one reader in this process; seconds, pages, characters and peak memory."""
    sys.path.insert(0, str(ROOT))
    if reader == "assistant":
        from assistant.readers import read

        def run():
            blocks = read(Path(pdf))
            return len({b.page for b in blocks}), sum(len(b.text) for b in blocks)
    elif reader == "langchain":
        from langchain_community.document_loaders import PyPDFLoader

        def run():
            docs = PyPDFLoader(pdf).load()
            return len(docs), sum(len(d.page_content) for d in docs)
    else:
        import logging

        from unstructured.partition.pdf import partition_pdf

        logging.basicConfig(level=logging.DEBUG, format="%(message)s")  # its reason for reading nothing is logged
        for quiet in ("matplotlib", "PIL", "fontTools", "urllib3", "filelock"):
            logging.getLogger(quiet).setLevel(logging.WARNING)

        def run():
            elements = partition_pdf(filename=pdf, strategy="fast")
            return len({e.metadata.page_number for e in elements}), sum(len(e.text) for e in elements)

    before = _memory("VmRSS")
    started = time.perf_counter()
    pages, chars = run()
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "pages": pages, "chars": chars, "rss_before_mb": before, "peak_mb": _memory("VmHWM")}


def _memory(field: str) -> float:
    """A /proc/self/status memory field in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


def measure(pdf: Path, runs: int, peer_python: str) -> dict:
    results: dict[str, list[dict] | str] = {r: [] for r in READERS}
    for _ in range(runs):
        for reader in READERS:
            if isinstance(results[reader], str):
                continue  # it could not run
            python = sys.executable if reader == "assistant" else peer_python
            done = subprocess.run(
                [python, __file__, "--child", reader, str(pdf)], capture_output=True, text=True, cwd=ROOT, env=_ENV
            )
            if done.returncode:
                results[reader] = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "failed"
                continue
            found = json.loads(done.stdout.strip().splitlines()[-1])
            if not found["chars"]:
                results[reader] = "it extracted no text" + (
                    f" ({_reason(done.stderr)})" if _reason(done.stderr) else ""
                )
            else:
                results[reader].append(found)
    summary = {}
    for reader, found in results.items():
        if isinstance(found, str):
            summary[reader] = {"error": found}
            continue
        median = {k: statistics.median(r[k] for r in found) for k in found[0]}
        median["pages_per_second"] = median["pages"] / median["seconds"]
        median["runs"] = len(found)
        summary[reader] = median
    return summary


# No analytics calls from the peers (Unstructured pings its server on import otherwise); no hub downloads.
_ENV = dict(os.environ, SCARF_NO_ANALYTICS="true", DO_NOT_TRACK="true", HF_HUB_OFFLINE="1")


def _reason(stderr: str) -> str:
    """The peer's own log line that says why it read nothing (Unstructured logs and returns no elements)."""
    lines = [ln for ln in stderr.splitlines() if re.search(r"Failed to download|dependencies are missing", ln)]
    return re.sub(r"\s*from https?://\S+", "", lines[0].strip())[:200] if lines else ""


def markdown(summary: dict, pages: int, runs: int) -> str:
    ours = summary["assistant"]
    lines = [
        f"PDF of {pages} A4 pages (Chinese and English, reportlab STSong-Light, a running header and page numbers); "
        f"median of {runs} runs, each in a fresh process, the readers taking turns.",
        "",
        "| reader | pages/s | × ours | seconds | text pages found | characters | peak memory (MB) | of which before reading |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for reader in READERS:
        r = summary[reader]
        if "error" in r:
            lines.append(f"| {LABELS[reader]} | — | — | — | — | — | — | could not run: {r['error']} |")
            continue
        lines.append(
            f"| {LABELS[reader]} | {r['pages_per_second']:.0f} | {r['pages_per_second'] / ours['pages_per_second']:.2f} "
            f"| {r['seconds']:.2f} | {r['pages']:.0f} | {r['chars']:.0f} | {r['peak_mb']:.0f} | {r['rss_before_mb']:.0f} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, default=500)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--work", type=Path, default=ROOT / "benchmarks" / ".work")
    parser.add_argument("--peer-python", default=sys.executable)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--markdown", type=Path)
    parser.add_argument("--child", nargs=2, metavar=("READER", "PDF"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(*args.child)))
        return
    args.work.mkdir(parents=True, exist_ok=True)
    pdf = args.work / f"bench-{args.pages}.pdf"
    if not pdf.exists():
        make_pdf(pdf, args.pages)
    summary = measure(pdf, args.runs, args.peer_python)
    table = markdown(summary, args.pages, args.runs)
    sys.stdout.write(table)
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2) + "\n")
    if args.markdown:
        args.markdown.write_text(table)


if __name__ == "__main__":
    main()
