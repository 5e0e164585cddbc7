"""Under load: many concurrent clients against the real server, while documents are indexed.

The reduced form of ``python benchmarks/load.py --clients 32 --seconds 60`` (see the README).
"""

import json
import threading
import time

import pytest

from assistant.api import Assistant
from assistant.web.ui import build_app
from benchmarks.load import QUESTIONS, run_load

from .conftest import SEEDS, free_port

pytestmark = pytest.mark.slow


def test_32_clients_while_another_process_indexes():
    summary = run_load(clients=32, seconds=12, index_while_asking=True)
    print("\n" + json.dumps(summary, ensure_ascii=False))
    assert summary["errors"] == 0, summary["error_examples"]
    assert summary["server_alive"] and summary["requests"] >= 32
    assert summary["while_indexing"]["requests"] > 0  # answers kept coming while the corpus was re-indexed
    rss = summary["rss_mb"]
    assert rss["last_quarter_median"] - rss["first_quarter_median"] < 100, rss  # no leak: memory stays flat


def fingerprint(result: dict) -> tuple:
    return result["found"], tuple((p["source"], p["paragraph"], p["part"]) for p in result["passages"])


def test_indexing_in_the_server_process_does_not_block_answers(tmp_path):
    """A document added and indexed by the server itself (as an upload is) while clients keep asking:
    answers keep coming, and each is exactly the answer of the old index or of the new one."""
    from gradio_client import Client

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "seed.txt").write_bytes((SEEDS / "wuzhen_summit_ten_years_interview.txt").read_bytes())
    bot = Assistant(docs, index_root=tmp_path / "emb")
    bot.refresh()
    questions = [q for q, _ in QUESTIONS]
    before = {q: fingerprint(bot.ask(q).to_dict()) for q in questions}
    app = build_app(bot).queue(default_concurrency_limit=4)
    port = free_port()
    app.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    url = f"http://127.0.0.1:{port}/"
    records, stop = [], threading.Event()

    def ask_forever(offset):
        client = Client(url, verbose=False)
        n = offset
        while not stop.is_set():
            question = questions[n % len(questions)]
            n += 1
            started = time.monotonic()
            try:
                outcome = fingerprint(client.predict(question, [], 5, api_name="/ask"))
            except Exception as exc:
                outcome = repr(exc)
            records.append((started, time.monotonic(), question, outcome))

    try:
        clients = [threading.Thread(target=ask_forever, args=(i,), daemon=True) for i in range(8)]
        for t in clients:
            t.start()
        time.sleep(3)
        lines = [
            f"第{i}段：造纸术是中国古代四大发明之一，蔡伦改进了造纸的方法，这一段讲第{i}种纸。" for i in range(300)
        ]
        (docs / "papermaking.txt").write_text("\n".join(lines), "utf-8")
        began = time.monotonic()
        index = bot.refresh()
        ended = time.monotonic()
        time.sleep(2)
        stop.set()
        for t in clients:
            t.join(timeout=120)
        assert index.encoded == 300 and "papermaking.txt" in {p.source for p in bot.index.passages}
        after = {q: fingerprint(bot.ask(q).to_dict()) for q in questions}
        wrong = [(q, o) for _, _, q, o in records if o not in (before[q], after[q])]
        assert wrong == [], wrong[:3]  # no error, nothing mixed from two indexes
        during = [(s, e) for s, e, _, _ in records if s >= began and e <= ended]
        assert during, "no answer was given while the server was indexing"
        result = Client(url, verbose=False).predict("蔡伦改进了什么方法?", [], 3, api_name="/ask")
        assert result["found"] and result["passages"][0]["source"] == "papermaking.txt"
        slowest = max(e - s for s, e in during)
        print(
            f"\nindexing took {ended - began:.1f} s; {len(during)} answers completed meanwhile, "
            f"slowest {slowest:.1f} s; {len(records)} answers in all, 0 errors"
        )
    finally:
        stop.set()
        app.close()
