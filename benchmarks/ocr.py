"""OCR of scanned pages: character accuracy (1 − edit distance / length, Chinese and English apart) and seconds
per page, on pages of known text typeset with reportlab, rendered with pypdfium2 and saved as an image-only
PDF with Pillow (no text layer): what a scanner gives, without its noise.

Usage: python benchmarks/ocr.py [--pages 3] [--dpi 200] [--out benchmarks/results]

Reads the PDF with the assistant's own reader (``assistant.readers.read``: OCR per page, lines into
paragraphs) and compares its text with the typeset text. Writes ``ocr.md`` and ``ocr.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent)]

ZH = [
    "员工每年享有十五天带薪年假，年假申请须提前三个工作日提交部门经理审批。",
    "病假需要提供二级以上医院出具的证明，连续病假超过三天的须报人力资源部备案。",
    "差旅费用应在出差结束后十个工作日内报销，并附上发票原件和行程单。",
    "会议室预订通过办公系统完成，取消预订须提前两小时通知行政部。",
]
EN = [
    "Annual leave requests need approval from the department manager three working days ahead.",
    "Sick leave longer than three days must be reported to human resources with a hospital note.",
    "Travel expenses are claimed within ten working days, with the original invoices attached.",
    "Meeting rooms are booked in the office system; cancel at least two hours in advance.",
]


def make_scan(folder: Path, pages: int, dpi: int) -> tuple[Path, list[str]]:
    """An image-only PDF of ``pages`` pages, each with the Chinese and English lines above; and each page's text."""
    import pypdfium2 as pdfium
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    typeset = folder / "typeset.pdf"
    pdf = canvas.Canvas(str(typeset))
    texts = []
    for n in range(pages):
        y, lines = 720, []  # below the top margin, where a line repeated on every page is a running head
        order = [(n + k) % len(ZH) for k in range(len(ZH))]  # each page in its own order: no line repeats at one place
        for k in order:
            zh_line, en_line = f"{n + 1}.{k + 1} {ZH[k]}", EN[k]
            pdf.setFont("STSong-Light", 12)
            pdf.drawString(60, y, zh_line)
            pdf.setFont("Helvetica", 11)
            pdf.drawString(60, y - 22, en_line)
            lines += [zh_line, en_line]
            y -= 64
        texts.append("\n".join(lines))
        pdf.showPage()
    pdf.save()
    doc = pdfium.PdfDocument(str(typeset))
    images = [doc[i].render(scale=dpi / 72).to_pil().convert("RGB") for i in range(pages)]
    doc.close()
    scan = folder / "scan.pdf"
    images[0].save(scan, save_all=True, append_images=images[1:], resolution=dpi)
    return scan, texts


def edit_distance(a: str, b: str) -> int:
    row = list(range(len(b) + 1))
    for i, x in enumerate(a, start=1):
        prev, row[0] = row[0], i
        for j, y in enumerate(b, start=1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (x != y))
    return row[-1]


def chinese(text: str) -> str:
    return "".join(ch for ch in text if "\u4e00" <= ch <= "\u9fff" or "\u3000" <= ch <= "\u303f" or ch in "，；。")


def english(text: str) -> str:
    return " ".join("".join(ch if ch.isascii() and (ch.isalpha() or ch in ",.;") else " " for ch in text).split())


def accuracy(expected: str, found: str) -> float:
    return 1 - edit_distance(expected, found) / max(len(expected), 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=3)
    parser.add_argument("--dpi", type=int, default=200)
    parser.add_argument("--out", type=Path, default=HERE / "results")
    args = parser.parse_args()

    from assistant.readers import read
    from assistant.readers.ocr import read_lines

    with tempfile.TemporaryDirectory() as tmp:
        scan, texts = make_scan(Path(tmp), args.pages, args.dpi)
        from PIL import Image

        started = time.perf_counter()
        read_lines(Image.new("RGB", (64, 64), "white"))  # the models load once per process: timed apart
        load = time.perf_counter() - started
        started, cpu = time.perf_counter(), time.process_time()
        blocks = read(scan, name="scan.pdf")
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    found = ["\n".join(b.text for b in blocks if b.page == n + 1) for n in range(args.pages)]
    zh = [accuracy(chinese(e), chinese(f)) for e, f in zip(texts, found, strict=True)]
    en = [accuracy(english(e), english(f)) for e, f in zip(texts, found, strict=True)]
    letters = [
        accuracy(english(e).replace(" ", ""), english(f).replace(" ", "")) for e, f in zip(texts, found, strict=True)
    ]
    result = {
        "pages": args.pages,
        "dpi": args.dpi,
        "chinese_characters": sum(len(chinese(t)) for t in texts),
        "english_characters": sum(len(english(t)) for t in texts),
        "chinese_accuracy": round(sum(zh) / len(zh), 4),
        "english_accuracy": round(sum(en) / len(en), 4),
        "english_accuracy_without_spaces": round(sum(letters) / len(letters), 4),
        "seconds_per_page": round(seconds / args.pages, 2),
        "cpu_seconds_per_page": round(cpu / args.pages, 2),  # all threads: steadier than wall time on a shared machine
        "model_load_seconds": round(load, 2),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "ocr.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    (args.out / "ocr.md").write_text(
        "| pages | dpi | Chinese accuracy | English accuracy | English, spaces ignored | s/page | CPU s/page | model load s |\n"
        "|---|---|---|---|---|---|---|---|\n"
        f"| {args.pages} | {args.dpi} | {result['chinese_accuracy']:.1%} | {result['english_accuracy']:.1%} "
        f"| {result['english_accuracy_without_spaces']:.1%} "
        f"| {result['seconds_per_page']} | {result['cpu_seconds_per_page']} | {result['model_load_seconds']} |\n",
        encoding="utf-8",
    )
    print(json.dumps(result, indent=2))
    for n, text in enumerate(found, start=1):
        print(f"--- page {n}\n{text}")


if __name__ == "__main__":
    main()
