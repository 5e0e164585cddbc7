"""Hostile sizes, types and nesting through every endpoint of the real server (``python -m assistant serve``).

Each bad call gets one sentence; the server keeps answering correctly; its peak memory stays under the bound;
its log has no traceback. The server runs in its own process (the bundled model, the seed interview), so its
peak RSS (``VmHWM``) is its own.
"""

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import httpx
import pytest

from .conftest import ROOT, SEEDS, free_port

pytestmark = pytest.mark.slow

PEAK_RSS_BOUND_MB = 1536
QUESTION = "世界互联网大会国际组织是什么时候成立的?"
BIG = 2_000_000
SEED = "wuzhen_summit_ten_years_interview.txt"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The real server on a copy of the seeds; yields (base URL, process, log file)."""
    tmp = tmp_path_factory.mktemp("hostile")
    corpus = tmp / "corpus"
    corpus.mkdir()
    for seed in SEEDS.iterdir():
        (corpus / seed.name).write_bytes(seed.read_bytes())
    port, log = free_port(), tmp / "server.log"
    with open(log, "wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "assistant", "-v", "serve", "--corpus", str(corpus), "--port", str(port)],
            cwd=ROOT,
            env={**os.environ, "ASSISTANT_INDEX_DIR": str(tmp / "emb"), "XDG_CACHE_HOME": str(tmp / "cache")},
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    while True:
        assert proc.poll() is None, log.read_text(errors="replace")[-2000:]
        try:
            urllib.request.urlopen(url + "/", timeout=2).read(100)
            break
        except OSError:
            assert time.monotonic() < deadline, "serve did not come up in time"
            time.sleep(0.3)
    try:
        yield url, proc, log
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


def call(url: str, endpoint: str, data: list | None = None, *, body: bytes | None = None):
    """One call over plain HTTP, as any program may send it: ("complete", result), ("error", sentence) or
    ("http <status>", sentence) when the server refused the request itself."""
    content = body if body is not None else json.dumps({"data": data}).encode()
    posted = httpx.post(
        f"{url}/gradio_api/call/{endpoint}", content=content, headers={"Content-Type": "application/json"}, timeout=120
    )
    if posted.status_code != 200:
        try:
            detail = posted.json()
        except ValueError:
            detail = {"error": posted.text}
        return f"http {posted.status_code}", detail.get("error") or str(detail.get("detail"))
    stream = httpx.get(f"{url}/gradio_api/call/{endpoint}/{posted.json()['event_id']}", timeout=120).text
    kind = stream.split("event: ", 1)[1].split("\n", 1)[0]
    data = json.loads(stream.split("data: ", 1)[1].split("\n", 1)[0])
    return kind, (data["error"] if kind == "error" else data[0] if len(data) == 1 else data)


def message(text, role="user"):
    return {"role": role, "content": [{"type": "text", "text": text}]}


def nested(depth: int):
    value = "它呢?"
    for _ in range(depth):
        value = [value]
    return value


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


def one_sentence(text) -> None:
    assert isinstance(text, str) and text.strip(), text
    assert "\n" not in text and "Traceback" not in text and len(text) < 400, text
    assert text.rstrip().endswith((".", "。", "?", ")")), text


# (name, endpoint, arguments, what the call must give: "refused" one sentence, or "answered")
CASES = [
    ("ask: one 2M-character history item", "ask", ["它呢?", ["x" * BIG], 5], "answered"),
    ("ask: 3,000 chained follow-ups", "ask", ["它呢?", ["那它呢?"] * 3000, 5], "refused"),
    ("ask: 300 follow-ups of 1,000 characters", "ask", ["它呢?", ["那它" * 500] * 300, 5], "answered"),
    ("ask: history nested 900 deep", "ask", ["它呢?", [{"role": "user", "content": nested(900)}], 5], "refused"),
    ("ask: 20,000 messages", "ask", ["它呢?", [{"role": "user", "content": "q"}] * 20000, 5], "refused"),
    ("ask: a 1M-character question", "ask", ["q" * (BIG // 2), [], 5], "refused"),
    ("ask: a 2M-character Chinese question (12 MB of JSON)", "ask", ["问" * BIG, [], 5], "refused"),
    ("ask: no arguments", "ask", [], "refused"),
    ("ask: history of numbers", "ask", ["它呢?", [1, 2, 3], 5], "refused"),
    ("ask: unknown role", "ask", ["它呢?", [{"role": "wizard", "content": "x"}], 5], "refused"),
    ("ask: top_k a billion", "ask", [QUESTION, [], 10**9], "refused"),
    ("chat: one 2M-character message in the history", "chat", ["它呢?", [message("x" * BIG)], 5, 0.5, 0.2], "answered"),
    ("chat: 20,000 messages", "chat", ["它呢?", [message("q")] * 20000, 5, 0.5, 0.2], "refused"),
    (
        "chat: content nested 900 deep",
        "chat",
        ["它呢?", [{"role": "user", "content": nested(900)}], 5, 0.5, 0.2],
        "refused",
    ),
    ("chat: history not a list", "chat", ["它呢?", "notalist", 5, 0.5, 0.2], "refused"),
    ("chat: history of numbers", "chat", ["它呢?", [1, 2, 3], 5, 0.5, 0.2], "refused"),
    (
        "chat: unknown role",
        "chat",
        ["它呢?", [{"role": "wizard", "content": [{"type": "text", "text": "x"}]}], 5, 0.5, 0.2],
        "refused",
    ),
    ("chat: alpha as text", "chat", [QUESTION, [], 5, "alpha", 0.2], "answered"),
    ("chat: a 1M-character question", "chat", ["q" * (BIG // 2), [], 5, 0.5, 0.2], "answered"),
    ("context: paragraph null", "context", [SEED, None, 0, 1, 1], "refused"),
    ("context: paragraph [1]", "context", [SEED, [1], 0, 1, 1], "refused"),
    ("context: paragraph '1'", "context", [SEED, "1", 0, 1, 1], "refused"),
    ("context: paragraph 1.5", "context", [SEED, 1.5, 0, 1, 1], "refused"),
    ("context: paragraph true", "context", [SEED, True, 0, 1, 1], "refused"),
    ("context: before a billion", "context", [SEED, 15, 0, 10**9, 10**9], "answered"),
    ("context: source of 1M characters", "context", ["s" * 1_000_000, 15, 0, 1, 1], "refused"),
    ("context: two values", "context", [SEED, 15], "answered"),
    ("context: one value", "context", [SEED], "refused"),
    ("remove: a NUL in the name", "remove", ["uploads/a\x00b.md"], "refused"),
    ("remove: 1M characters", "remove", ["uploads/" + "a" * 1_000_000], "refused"),
    ("upload: not a list", "upload", ["notalist"], "refused"),
    ("upload: numbers", "upload", [[1, 2]], "refused"),
    ("upload: a dict", "upload", [{}], "refused"),
    ("upload: a server path", "upload", [[{"path": "/etc/passwd", "meta": {"_type": "gradio.FileData"}}]], "refused"),
    ("upload: 500 files", "upload", [[{"path": "/etc/passwd", "meta": {"_type": "gradio.FileData"}}] * 500], "refused"),
]


def test_hostile_calls_get_one_sentence_and_the_server_stays_small_and_answering(server):
    url, proc, log = server
    seen = []
    for name, endpoint, data, expected in CASES:
        kind, result = call(url, endpoint, data)
        seen.append((name, kind))
        if expected == "refused":
            assert kind != "complete", (name, str(result)[:300])
            one_sentence(result)
        else:
            assert kind == "complete", (name, result)
        assert proc.poll() is None, name
    kind, result = call(url, "ask", [QUESTION, [], 3])
    assert kind == "complete" and result["passages"][0]["paragraph"] == 15
    peak = peak_rss_mb(proc.pid)
    print(f"\npeak RSS of the server after {len(CASES)} hostile calls: {peak:.0f} MB")
    assert peak < PEAK_RSS_BOUND_MB, peak
    assert "Traceback" not in log.read_text(errors="replace")


def test_follow_up_after_a_huge_history_item_reads_only_its_bounded_tail(server):
    """The follow-up still leans on the last real question when a giant item came before it."""
    url, _, _ = server
    kind, result = call(url, "ask", ["它现在有多少会员?", ["x" * BIG, QUESTION], 3])
    assert kind == "complete" and result["found"], result
    assert result["passages"][0]["source"].endswith(".txt")


@pytest.mark.parametrize(
    "body",
    [
        b"{" * 100_000,  # unbalanced JSON
        b'{"data": [' + b"[" * 5000 + b'"x"' + b"]" * 5000 + b", [], 5]}",  # deeper than any JSON parser should follow
        b"x" * (5 << 20),  # over the body bound
        json.dumps({"data": ["问" * (3 << 20), [], 5]}, ensure_ascii=False).encode(),  # 9 MB of question
    ],
    ids=["unbalanced", "nested-5000", "5MB-junk", "9MB-question"],
)
def test_malformed_bodies_are_refused_before_anything_reads_them(server, body):
    url, proc, log = server
    kind, sentence = call(url, "ask", body=body)
    assert kind.startswith("http 4")
    assert isinstance(sentence, str) and 0 < len(sentence) < 300 and "\n" not in sentence, sentence
    assert proc.poll() is None
    assert call(url, "ask", [QUESTION, [], 1])[1]["passages"][0]["paragraph"] == 15
    assert "Traceback" not in log.read_text(errors="replace")


def test_an_empty_file_in_an_upload_batch_is_refused_alone(server, tmp_path):
    from gradio_client import Client, handle_file

    url, _, log = server
    good, empty = tmp_path / "garden.md", tmp_path / "empty.txt"
    good.write_text("# Garden\n\nRoses need six hours of sun and water twice a week.\n", "utf-8")
    empty.write_bytes(b"")
    client = Client(url + "/", verbose=False)
    report = client.predict([handle_file(str(good)), handle_file(str(empty))], api_name="/upload")
    assert [d["source"] for d in report["added"]] == ["uploads/garden.md"]
    assert [name for name, _ in report["refused"]] == ["empty.txt"]
    one_sentence(report["refused"][0][1])
    answer = client.predict("How much sun do roses need?", [], 1, api_name="/ask")
    assert answer["passages"][0]["source"] == "uploads/garden.md"
    client.predict("uploads/garden.md", api_name="/remove")
    assert "Traceback" not in log.read_text(errors="replace")
