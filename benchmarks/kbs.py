"""Several knowledge bases: REST search latency of one knowledge base against ``"kb": "all"`` (two of them).

Usage: python benchmarks/kbs.py [--questions 60] [--json out.json]
One server (the real bundled model) over two knowledge bases, the seeds and the CMRC 2018 trial passages
written as files (``eval``'s own writer), asked the seed questions in turns: ``kb=seeds``, then ``kb=all``
(counting how often the best passage under ``all`` is still the seeds').
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=60)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    import httpx

    from assistant.api import KBSpec, open_kbs
    from assistant.evaluate import load_dataset, load_questions_jsonl, write_corpus
    from assistant.web import serve

    questions = [q.question for q in load_questions_jsonl(ROOT / "eval/data/seed_dev_questions.jsonl")]
    questions = (questions * (args.questions // len(questions) + 1))[: args.questions]
    with tempfile.TemporaryDirectory(prefix="assistant-kbs-") as tmp:
        seeds, cmrc = Path(tmp) / "seeds", Path(tmp) / "cmrc"
        shutil.copytree(ROOT / "seeds", seeds)
        write_corpus(load_dataset(ROOT / "eval/data/cmrc2018_trial.json")[0], cmrc)
        kbs = open_kbs([KBSpec.parse(f"seeds={seeds}"), KBSpec.parse(f"cmrc={cmrc}")], index_root=Path(tmp) / "emb")
        port = 7000 + int(time.time()) % 2000
        app = serve(kbs, port=port, block=False)
        times: dict[str, list[float]] = {"seeds": [], "all": []}
        top_from_seeds = 0  # questions (about the seeds) whose best passage under "all" is still from the seeds
        try:
            with httpx.Client(base_url=f"http://127.0.0.1:{port}/api/v1", timeout=120) as http:
                for q in questions[:5]:
                    for kb in times:
                        http.post("/search", json={"question": q, "kb": kb}).raise_for_status()
                for q in questions:
                    for kb, seen in times.items():
                        started = time.perf_counter()
                        found = http.post("/search", json={"question": q, "kb": kb})
                        seen.append(time.perf_counter() - started)
                        found.raise_for_status()
                        passages = found.json()["passages"]
                        top_from_seeds += kb == "all" and bool(passages) and passages[0]["kb"] == "seeds"
        finally:
            app.close()
    out = {}
    for kb, seen in times.items():
        ms = sorted(s * 1000 for s in seen)
        out[kb] = {
            "n": len(ms),
            "p50_ms": round(statistics.median(ms), 1),
            "p95_ms": round(ms[round(0.95 * (len(ms) - 1))], 1),
        }
    out["all"]["top_passage_from_seeds"] = f"{top_from_seeds}/{len(questions)}"
    print(json.dumps(out, indent=1))
    if args.json:
        args.json.write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
