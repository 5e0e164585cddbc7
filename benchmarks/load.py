"""Load test: the real server (``python -m assistant serve``) on 127.0.0.1, many concurrent clients asking
through gradio_client for a bounded time, while another process re-indexes the corpus.

Usage: python benchmarks/load.py [--clients 32] [--seconds 60] [--no-indexing] [--json out.json]
Reports requests, errors, latency percentiles (overall and while indexing), throughput and the server's
memory (RSS) over the run. Exit status 1 when any request failed or returned a wrong answer.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# (question, words one of the cited passages must contain; None: must be "not found")
QUESTIONS = [
    ("世界互联网大会国际组织是什么时候成立的?", "2022年7月12日"),
    ("When was the WIC international organization founded?", "2022年7月12日"),
    ("世界互联网大会的年度峰会在哪里举办?", "乌镇"),
    ("2022年乌镇峰会吸引了多少个国家和地区的嘉宾?", "120多个国家和地区"),
    ("尼山对话有多少名高级别代表参加?", "近400名高级别代表"),
    ("扩大朋友圈遵循什么原则?", "国际性、广泛性、多元性原则"),
    ("明天北京会下雨吗?", None),
    ("How do I bake sourdough bread?", None),
]
ADDED_DOCUMENT = (
    "# 造纸术\n\n造纸术是中国古代四大发明之一，东汉时期蔡伦改进了造纸的方法，用树皮、麻头、破布和旧渔网造纸。\n\n"
    "印刷术在造纸术之后出现，隋唐时期出现了雕版印刷，北宋毕昇发明了活字印刷。\n"
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid: int) -> float:
    """Resident memory of a process, in MiB (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def start_server(corpus: Path, index_dir: Path, port: int, *, timeout: float = 300) -> subprocess.Popen:
    """``python -m assistant serve`` on 127.0.0.1, returned once the page answers."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "assistant", "serve", "--corpus", str(corpus), "--port", str(port)],
        cwd=ROOT,
        env={**os.environ, "ASSISTANT_INDEX_DIR": str(index_dir)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"serve exited early: {proc.stderr.read().decode(errors='replace')[-2000:]}")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2).read(100)
            return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("serve did not come up in time")


@dataclass
class Record:
    started: float
    seconds: float
    error: str = ""


@dataclass
class Run:
    records: list[Record] = field(default_factory=list)
    memory: list[tuple[float, float]] = field(default_factory=list)
    indexing: tuple[float, float] | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


def check(result, expected: str | None) -> str:
    """Empty when the answer is right, else what is wrong with it."""
    if not isinstance(result, dict) or set(result) != {"question", "found", "answer", "passages"}:
        return f"malformed result {str(result)[:100]}"
    if expected is None:
        return "" if not result["found"] else "found an answer to an unanswerable question"
    if not result["found"] or not any(expected in p["text"] for p in result["passages"]):
        return f"no cited passage contains {expected!r}"
    return ""


def client_loop(url: str, run: Run, deadline: float, offset: int) -> None:
    from gradio_client import Client

    client = Client(url, verbose=False)
    n = offset
    while time.monotonic() < deadline:
        question, expected = QUESTIONS[n % len(QUESTIONS)]
        n += 1
        started = time.monotonic()
        try:
            error = check(client.predict(question, [], 5, api_name="/ask"), expected)
        except Exception as exc:  # every failure counts, whatever it is
            error = f"{type(exc).__name__}: {exc}"[:200]
        with run.lock:
            run.records.append(Record(started, time.monotonic() - started, error))


def sample_memory(pid: int, run: Run, stop: threading.Event, interval: float = 0.5) -> None:
    while not stop.is_set():
        try:
            run.memory.append((time.monotonic(), rss_mb(pid)))
        except OSError:
            return
        stop.wait(interval)


def index_meanwhile(corpus: Path, index_dir: Path, run: Run, at: float) -> None:
    """Add a document and index the corpus in another process while the clients keep asking."""
    time.sleep(max(0.0, at - time.monotonic()))
    (corpus / "papermaking.md").write_text(ADDED_DOCUMENT, "utf-8")
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "assistant", "index", str(corpus)],
        cwd=ROOT,
        env={**os.environ, "ASSISTANT_INDEX_DIR": str(index_dir)},
        capture_output=True,
        timeout=600,
    )
    run.indexing = (started, time.monotonic())
    if done.returncode != 0:
        with run.lock:
            run.records.append(Record(started, 0.0, f"indexer failed: {done.stderr.decode(errors='replace')[-300:]}"))


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def summarise(run: Run, clients: int, seconds: float, warm_rss: float) -> dict:
    latencies = [r.seconds for r in run.records if r.seconds > 0]
    errors = [r.error for r in run.records if r.error]

    def overlaps(r: Record) -> bool:
        return bool(run.indexing) and r.started <= run.indexing[1] and r.started + r.seconds >= run.indexing[0]

    during = [r.seconds for r in run.records if overlaps(r) and r.seconds > 0]
    outside = [r.seconds for r in run.records if not overlaps(r) and r.seconds > 0]
    rss = [m for _, m in run.memory]
    quarter = max(1, len(rss) // 4)
    return {
        "clients": clients,
        "seconds": seconds,
        "requests": len(run.records),
        "errors": len(errors),
        "error_examples": sorted(set(errors))[:5],
        "throughput_per_s": round(len(latencies) / seconds, 2),
        "latency_s": {
            "median": round(statistics.median(latencies), 3) if latencies else None,
            "p95": round(percentile(latencies, 0.95), 3),
            "max": round(max(latencies), 3) if latencies else None,
        },
        "while_indexing": {
            "seconds": round(run.indexing[1] - run.indexing[0], 1) if run.indexing else None,
            "requests": len(during),
            "p95": round(percentile(during, 0.95), 3) if during else None,
        },
        "not_while_indexing": {
            "requests": len(outside),
            "median": round(statistics.median(outside), 3) if outside else None,
            "p95": round(percentile(outside, 0.95), 3) if outside else None,
        },
        "rss_mb": {
            "after_warm_up": round(warm_rss, 1),
            "first_quarter_median": round(statistics.median(rss[:quarter]), 1) if rss else None,
            "last_quarter_median": round(statistics.median(rss[-quarter:]), 1) if rss else None,
            "max": round(max(rss), 1) if rss else None,
            "every_5_s": [round(m, 1) for t, m in run.memory[:: max(1, int(5 / 0.5))]],
        },
    }


def run_load(
    clients: int = 32, seconds: float = 60, *, index_while_asking: bool = True, corpus: Path | None = None
) -> dict:
    """Start a server on a copy of ``corpus`` (default: seeds/), load it, stop it; the summary as a dict."""
    work = Path(tempfile.mkdtemp(prefix="assistant-load-"))
    try:
        docs, index_dir = work / "docs", work / "embeddings"
        shutil.copytree(corpus or ROOT / "seeds", docs)
        port = free_port()
        server = start_server(docs, index_dir, port)
        url = f"http://127.0.0.1:{port}/"
        try:
            run = Run()
            for question, expected in QUESTIONS:  # warm up, and fail early if the answers are wrong
                client_loop_once(url, question, expected)
            warm_rss = rss_mb(server.pid)
            stop = threading.Event()
            sampler = threading.Thread(target=sample_memory, args=(server.pid, run, stop), daemon=True)
            sampler.start()
            deadline = time.monotonic() + seconds
            threads = [
                threading.Thread(target=client_loop, args=(url, run, deadline, i), daemon=True) for i in range(clients)
            ]
            if index_while_asking:
                threads.append(
                    threading.Thread(
                        target=index_meanwhile, args=(docs, index_dir, run, time.monotonic() + seconds / 4), daemon=True
                    )
                )
            for t in threads:
                t.start()
            for t in threads:
                t.join(timeout=seconds + 600)
            stop.set()
            sampler.join()
            summary = summarise(run, clients, seconds, warm_rss)
            summary["server_alive"] = server.poll() is None
            return summary
        finally:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
    finally:
        shutil.rmtree(work, ignore_errors=True)


def client_loop_once(url: str, question: str, expected: str | None) -> None:
    from gradio_client import Client

    error = check(Client(url, verbose=False).predict(question, [], 5, api_name="/ask"), expected)
    if error:
        raise RuntimeError(f"{question}: {error}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--no-indexing", action="store_true", help="do not re-index while the clients ask")
    parser.add_argument("--corpus", type=Path, help="documents to serve (default: seeds/)")
    parser.add_argument("--json", type=Path, help="also write the summary here")
    args = parser.parse_args()
    summary = run_load(args.clients, args.seconds, index_while_asking=not args.no_indexing, corpus=args.corpus)
    text = json.dumps(summary, ensure_ascii=False, indent=1)
    print(text)
    if args.json:
        args.json.write_text(text)
    return 0 if summary["errors"] == 0 and summary["server_alive"] else 1


if __name__ == "__main__":
    sys.exit(main())
