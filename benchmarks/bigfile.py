"""Big-file benchmark: index one file of 1, 5, 10 … 50 MB end to end and check that time grows linearly.

Usage: python benchmarks/bigfile.py [--mb 1 5 50] [--real-model] [--json out.json]
Each file is Chinese and English news text with one unique sentence in the middle, which must be the
top answer afterwards. By default the fast test encoder (tests/conftest.py) stands in for the model,
so the time is that of reading, windowing, tokenising, BM25, FAISS and saving; ``--real-model`` uses the
default model (slow: most of the time is then encoding).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

NEEDLE = "蓝鲸科技公司的秘密项目代号是青松七号，于2019年启动。"


def make_file(path: Path, megabytes: float) -> None:
    seed = (ROOT / "seeds" / "wuzhen_summit_ten_years_interview.txt").read_text("utf-8")
    english = "The World Internet Conference was founded in 2022 in Beijing; its members come from many countries.\n"
    block = (seed + english * 20).encode()
    target = int(megabytes * 1_000_000)
    half = (block * (target // 2 // len(block) + 1))[: target // 2]
    half = half[: half.rfind(b"\n") + 1]
    path.write_bytes(half + NEEDLE.encode() + b"\n" + half)


def run(megabytes: float, *, real_model: bool) -> dict:
    from assistant.api import Assistant

    encoder = None
    if not real_model:
        from tests.conftest import FakeEncoder

        encoder = FakeEncoder()
    with tempfile.TemporaryDirectory(prefix="assistant-bigfile-") as tmp:
        folder = Path(tmp) / "docs"
        folder.mkdir()
        make_file(folder / "big.txt", megabytes)
        started = time.perf_counter()
        bot = Assistant(folder, encoder=encoder, index_root=Path(tmp) / "embeddings")
        index = bot.refresh()
        seconds = time.perf_counter() - started
        hit = bot.ask("蓝鲸科技公司的秘密项目代号是什么?", top_k=1, threshold=0.0).hits[0]
        return {
            "mb": megabytes,
            "passages": len(index.passages),
            "sentences": index.manifest["sentences"],
            "seconds": round(seconds, 1),
            "seconds_per_mb": round(seconds / megabytes, 2),
            "needle_found": NEEDLE in hit.passage.text,
            "citation": hit.passage.citation,
        }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, nargs="+", default=[1, 5, 50])
    parser.add_argument("--real-model", action="store_true", help="encode with the default model (slow)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    results = []
    for mb in args.mb:
        results.append(run(mb, real_model=args.real_model))
        print(json.dumps(results[-1], ensure_ascii=False), flush=True)
    if len(results) > 1:
        ratio = results[-1]["seconds_per_mb"] / results[0]["seconds_per_mb"]
        print(f"seconds per MB, largest / smallest file: {ratio:.2f} (1.0 is linear)")
    if args.json:
        args.json.write_text(json.dumps(results, ensure_ascii=False, indent=1))
    return 0 if all(r["needle_found"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
