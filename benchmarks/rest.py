"""REST API benchmark: search latency through /api/v1/search against gradio_client's /ask, and the delay from
saving a file to its answer with ``serve --watch``.

Usage: python benchmarks/rest.py [--questions 100] [--saves 20] [--json out.json]
One server (the real bundled model, the seeds copied to a temporary folder) answers both clients, in turns,
in the same run (with the same question asked of the Python API in the same process, for the cost of HTTP); each client asks the seed questions (eval/data/seed_dev_questions.jsonl) over and over.
The watch delay is the time from a file's ``write`` returning to the first search whose answer quotes it.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentiles(seconds: list[float]) -> dict:
    ms = sorted(s * 1000 for s in seconds)
    return {
        "n": len(ms),
        "p50_ms": round(statistics.median(ms), 1),
        "p95_ms": round(ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))], 1),
    }


def search_latency(url: str, questions: list[str], bot) -> dict:
    import httpx
    from gradio_client import Client

    rest, gradio, direct = [], [], []
    client = Client(url, verbose=False)
    with httpx.Client(base_url=url, timeout=60) as http:
        for q in questions[:5]:  # warm both paths up
            http.post("/api/v1/search", json={"question": q, "top_k": 5}).raise_for_status()
            client.predict(q, [], 5, api_name="/ask")
        for q in questions:  # in turns, so that both see the same machine load
            started = time.perf_counter()
            http.post("/api/v1/search", json={"question": q, "top_k": 5}).raise_for_status()
            rest.append(time.perf_counter() - started)
            started = time.perf_counter()
            client.predict(q, [], 5, api_name="/ask")
            gradio.append(time.perf_counter() - started)
            started = time.perf_counter()
            bot.ask(q, top_k=5).to_dict()
            direct.append(time.perf_counter() - started)
    return {"rest": percentiles(rest), "gradio_client": percentiles(gradio), "python_api": percentiles(direct)}


def watch_delay(url: str, folder: Path, saves: int) -> dict:
    import httpx

    delays = []
    with httpx.Client(base_url=url, timeout=60) as http:
        for n in range(saves):
            word = f"zebrafinch{n:02d}"
            question = f"Where does the {word} nest?"
            text = f"# Birds {n}\n\nThe {word} nests in the old lighthouse on the northern cliff.\n"
            started = time.perf_counter()
            (folder / "birds.md").write_text(text, encoding="utf-8")
            while True:
                answer = http.post("/api/v1/search", json={"question": question, "top_k": 1}).json()
                if answer["found"] and word in answer["passages"][0]["text"]:
                    break
                if time.perf_counter() - started > 60:
                    raise RuntimeError(f"save {n} was not answered within 60 s")
                time.sleep(0.02)
            delays.append(time.perf_counter() - started)
    return {
        "n": len(delays),
        "median_s": round(statistics.median(delays), 2),
        "max_s": round(max(delays), 2),
        "min_s": round(min(delays), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=100)
    parser.add_argument("--saves", type=int, default=20)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    from assistant.api import Assistant
    from assistant.web import serve

    seed = [json.loads(line)["question"] for line in (ROOT / "eval/data/seed_dev_questions.jsonl").open()]
    questions = [seed[i % len(seed)] for i in range(args.questions)]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "seeds"
        shutil.copytree(ROOT / "seeds", folder)
        bot = Assistant(folder, index_root=Path(tmp) / "emb", uploads=Path(tmp) / "uploads")
        port = free_port()
        app = serve(bot, port=port, block=False, watch=True)
        url = f"http://127.0.0.1:{port}"
        try:
            results = {"search": search_latency(url, questions, bot), "watch": watch_delay(url, folder, args.saves)}
        finally:
            app.watcher.stop()
            app.close()
    print("| path | questions | p50 ms | p95 ms |\n|---|---|---|---|")
    for name, r in results["search"].items():
        print(f"| {name} | {r['n']} | {r['p50_ms']} | {r['p95_ms']} |")
    w = results["watch"]
    print(f"\nwatch: save → answer, median {w['median_s']} s (min {w['min_s']}, max {w['max_s']}) over {w['n']} saves")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
