"""Median and p90 time of ``Assistant.ask`` over the CMRC trial questions, the index already built: query time
alone, for comparing two versions of the code in one round (run it once per tree, alternating).

    python benchmarks/query_time.py            # this tree
    python benchmarks/query_time.py /path/to/another/checkout
"""

import statistics
import sys
import time
from pathlib import Path


def main(repo: Path) -> str:
    sys.path.insert(0, str(repo))
    from assistant.api import Assistant
    from assistant.evaluate import load_dataset, write_corpus

    passages, questions = load_dataset(repo / "eval" / "data" / "cmrc2018_trial.json")[:2]
    work = Path("/tmp") / f"query-time-{repo.resolve().name}"
    corpus = work / "corpus"
    if not corpus.exists():
        write_corpus(passages, corpus)
    bot = Assistant(corpus, index_root=work / "index")
    bot.warm_up()
    texts = [q.question for q in questions]
    times = []
    for n, text in enumerate(texts[:20] + texts):  # the first 20 warm up
        started = time.perf_counter()
        try:
            bot.ask(text, top_k=10)
        except Exception:  # noqa: BLE001 (a question the set leaves empty)
            continue
        if n >= 20:
            times.append(time.perf_counter() - started)
    p90 = sorted(times)[int(len(times) * 0.9)]
    return f"{repo}: median {statistics.median(times) * 1000:.2f} ms, p90 {p90 * 1000:.2f} ms over {len(times)}"


if __name__ == "__main__":
    print(main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent))
