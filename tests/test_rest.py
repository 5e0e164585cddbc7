"""The REST API (/api/v1) of the real server, started by ui.serve and called through httpx (and curl)."""

import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from assistant.api import Assistant
from assistant.web import serve
from assistant.web.rest import PassageId

from .conftest import ROOT, SEEDS, FakeEncoder, write

pytestmark = pytest.mark.slow
QUESTION = "世界互联网大会国际组织是什么时候成立的?"
SEED = "wuzhen_summit_ten_years_interview.txt"
TOKEN = "test-token-0123456789"


class BrokenEncoder(FakeEncoder):
    """The fake encoder, failing like a bug on any text that mentions "explode"."""

    def encode(self, texts, *, progress=False):
        if any("explode" in t for t in texts):
            raise RuntimeError("the encoder broke")
        return super().encode(texts, progress=progress)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(folder: Path, tmp: Path, **kwargs):
    """The real server on a free port over ``folder`` with the fake encoder: (app, base URL)."""
    bot = Assistant(
        folder, index_root=tmp / "emb", uploads=tmp / "uploads", encoder=kwargs.pop("encoder", None) or FakeEncoder()
    )
    port = free_port()
    app = serve(bot, port=port, block=False, **kwargs)
    return app, f"http://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    folder = tmp_path_factory.mktemp("kb") / "seeds"
    folder.mkdir()
    shutil.copy(SEEDS / SEED, folder / SEED)
    write(folder, "handbook/leave.md", "# Leave\n\nEmployees take annual leave of twenty days a year.\n")
    write(
        folder, "handbook/travel.txt", "Travel\n\nEmployees book travel through the office; leave days are separate.\n"
    )
    return folder


@pytest.fixture(scope="module")
def server(corpus, tmp_path_factory):
    app, url = start(corpus, tmp_path_factory.mktemp("open"), encoder=BrokenEncoder())
    with httpx.Client(base_url=url + "/api/v1", timeout=60) as client:
        yield client
    app.close()


@pytest.fixture(scope="module")
def locked(corpus, tmp_path_factory):
    app, url = start(corpus, tmp_path_factory.mktemp("locked"), auth=("ann", "s3cret-pass"), api_token=TOKEN)
    with httpx.Client(base_url=url, timeout=60) as client:
        yield client
    app.close()


def error_of(response, status: int) -> str:
    """The one sentence of an error response with ``status``."""
    assert response.status_code == status, response.text
    body = response.json()
    assert isinstance(body["error"], str) and body["error"].strip() and "\n" not in body["error"]
    return body["error"]


def test_kbs_lists_the_documents(server):
    (kb,) = server.get("/kbs").json()
    assert kb["name"] == "seeds" and kb["model"] == "fake-bigrams" and kb["updated"]
    assert sorted(d["source"] for d in kb["documents"]) == ["handbook/leave.md", "handbook/travel.txt", SEED]
    assert kb["passages"] == sum(d["passages"] for d in kb["documents"])


@pytest.mark.parametrize("kb", ["seeds", "default"])
def test_search_is_ask_json_with_passage_ids(server, kb):
    result = server.post("/search", json={"question": QUESTION, "kb": kb, "top_k": 3}).json()
    assert result["found"] is True and len(result["passages"]) == 3
    top = result["passages"][0]
    assert (top["source"], top["paragraph"], top["citation"], top["id"]) == (SEED, 15, "¶15", f"{SEED}#15.0")
    assert "2022年7月12日" in result["answer"] and result["answer"].endswith("[1]")
    assert set(top) >= {"text", "title", "part", "sentence", "score", "dense_score", "keyword_score"}


def test_search_takes_history(server):
    alone = server.post("/search", json={"question": "它现在有多少会员?"}).json()
    follow_up = server.post("/search", json={"question": "它现在有多少会员?", "history": [QUESTION]}).json()
    assert follow_up["found"] is True
    assert follow_up["passages"][0]["paragraph"] == 13 and "130家" in follow_up["answer"]
    # alone, 它 is unresolved: the members paragraph still ranks first (one document), but the history's
    # organisation raises its match
    assert not alone["found"] or follow_up["passages"][0]["score"] > alone["passages"][0]["score"]


@pytest.mark.parametrize(
    ("filters", "sources"),
    [
        ({"source": "handbook/*"}, {"handbook/leave.md", "handbook/travel.txt"}),
        ({"type": ".md"}, {"handbook/leave.md"}),
        ({"type": "txt", "source": "handbook/*"}, {"handbook/travel.txt"}),
    ],
)
def test_search_filters_the_hits(server, filters, sources):
    result = server.post("/search", json={"question": "annual leave days employees", "top_k": 5, "filters": filters})
    passages = result.json()["passages"]
    assert passages and {p["source"] for p in passages} == sources


def test_search_filter_that_matches_nothing_finds_nothing(server):
    result = server.post("/search", json={"question": QUESTION, "filters": {"source": "nothing/*"}}).json()
    assert (result["found"], result["passages"]) == (False, [])


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({}, "question is missing"),
        ({"question": 3}, "question must be a valid string; got '3'"),
        ({"question": QUESTION, "top_k": "5"}, "top_k must be a valid integer"),
        ({"question": QUESTION, "top_k": 0}, "top_k must be greater than or equal to 1"),
        ({"question": QUESTION, "history": "earlier"}, "history must be a valid list"),
        ({"question": QUESTION, "filters": {"source": 1}}, "filters.source must be a valid string"),
        ({"question": QUESTION, "filters": {"kind": ".md"}}, "filters.kind is not a field"),
        ({"question": QUESTION, "topk": 3}, "topk is not a field"),
        ([QUESTION], "must be a valid dictionary"),
    ],
)
def test_search_bad_fields_are_422_naming_the_field(server, body, words):
    assert words in error_of(server.post("/search", json=body), 422)


def test_search_not_json_is_422(server):
    response = server.post("/search", content=b'{"question": ', headers={"content-type": "application/json"})
    assert error_of(response, 422) == "The body is not valid JSON; send a JSON object (see /api/v1/docs)."


def test_search_blank_question_is_400(server):
    assert error_of(server.post("/search", json={"question": "   "}), 400)


def test_unknown_kb_is_404(server):
    assert "There is no knowledge base 'other'" in error_of(
        server.post("/search", json={"question": QUESTION, "kb": "other"}), 404
    )
    assert error_of(server.post("/kbs/other/documents", files=[("files", ("a.md", b"# A\n\nText here."))]), 404)
    assert error_of(server.delete("/kbs/other/documents/uploads%2Fa.md"), 404)


def test_five_megabyte_body_is_413(server):
    body = json.dumps({"question": "x" * (5 << 20)}).encode()
    response = server.post("/search", content=body, headers={"content-type": "application/json"})
    assert "larger than 4 MB" in error_of(response, 413)


def test_passage_context(server):
    body = server.get(f"/passages/{SEED}%2315.0/context", params={"before": 1, "after": 1}).json()
    assert body["passage"]["id"] == f"{SEED}#15.0" and body["passage"]["citation"] == "¶15"
    assert [(p["paragraph"], p["cited"]) for p in body["context"]] == [(14, False), (15, True), (16, False)]


def test_passage_context_of_a_nested_source(server):
    body = server.get("/passages/handbook%2Fleave.md%232.0/context").json()
    assert "Employees take annual leave" in body["passage"]["text"] and body["passage"]["source"] == "handbook/leave.md"


@pytest.mark.parametrize(
    ("path", "status", "words"),
    [
        (f"/passages/{SEED}%23999.0/context", 404, "No passage"),
        ("/passages/missing.txt%231.0/context", 404, "No passage missing.txt ¶1"),
        ("/passages/no-hash-here/context", 400, "is not a passage id"),
        (f"/passages/{SEED}%23x.y/context", 400, "is not a passage id"),
        (f"/passages/{SEED}%2315.0/context?before=a", 422, "before must be a valid integer"),
        ("/nothing", 404, "There is no /api/v1/nothing"),
    ],
)
def test_bad_passage_requests(server, path, status, words):
    assert words in error_of(server.get(path), status)


def test_upload_then_search_then_remove(server):
    note = b"# Bakery\n\nThe sourdough starter is fed at nine every morning.\n"
    added = server.post("/kbs/seeds/documents", files=[("files", ("bakery.md", note))]).json()
    assert [d["source"] for d in added["added"]] == ["uploads/bakery.md"] and added["refused"] == []
    hit = server.post("/search", json={"question": "when is the sourdough starter fed", "top_k": 1}).json()
    assert hit["passages"][0]["id"] == "uploads/bakery.md#2.0"
    gone = server.delete("/kbs/default/documents/uploads%2Fbakery.md").json()
    assert gone["removed"] == "uploads/bakery.md"
    assert "uploads/bakery.md" not in {d["source"] for d in gone["documents"]}
    assert "not in the knowledge base" in error_of(server.delete("/kbs/default/documents/uploads/bakery.md"), 404)


def test_uploaded_pdf_and_the_type_filter(server):
    pdf = (ROOT / "tests/data/pdfs/002-trivial-libre-office-writer.pdf").read_bytes()
    added = server.post("/kbs/default/documents", files=[("files", ("lorem.pdf", pdf))]).json()
    assert [d["source"] for d in added["added"]] == ["uploads/lorem.pdf"]
    try:
        body = {"question": "Lorem ipsum dolor sit amet", "top_k": 3, "filters": {"type": ".PDF"}}
        passages = server.post("/search", json=body).json()["passages"]
        assert passages and {p["source"] for p in passages} == {"uploads/lorem.pdf"}
        body["filters"] = {"type": ".md"}
        assert "uploads/lorem.pdf" not in {p["source"] for p in server.post("/search", json=body).json()["passages"]}
    finally:
        server.delete("/kbs/default/documents/uploads/lorem.pdf")


def test_upload_some_refused(server):
    files = [("files", ("good.md", b"# Good\n\nA fine document.")), ("files", ("bad.exe", b"MZ"))]
    body = server.post("/kbs/default/documents", files=files).json()
    assert [d["source"] for d in body["added"]] == ["uploads/good.md"]
    assert body["refused"][0][0] == "bad.exe" and "not a supported document" in body["refused"][0][1]
    server.delete("/kbs/default/documents/uploads/good.md")


@pytest.mark.parametrize(
    ("name", "data", "words"),
    [
        ("empty.md", b"", "empty.md is empty"),
        ("../../etc/passwd.md", b"# X\n\nSome text.", "is a path, not a file name"),
        ("notes/../x.md", b"# X\n\nSome text.", "is a path, not a file name"),
        ("image.png", b"\x89PNG", "not a readable image"),
        ("program.exe", b"MZ", "not a supported document"),
    ],
)
def test_upload_refused_is_400(server, name, data, words):
    response = server.post("/kbs/default/documents", files=[("files", (name, data))])
    assert words in error_of(response, 400) and response.json()["added"] == []


def test_upload_over_the_file_limit_is_400(server):
    big = b"# Big\n\n" + b"word " * (21 << 18)  # 21 MB: over the JSON bound too, which uploads are not held to
    response = server.post("/kbs/default/documents", files=[("files", ("big.md", big))])
    assert "the limit is 20 MB" in error_of(response, 400)


def test_upload_of_too_many_files_is_400(server):
    files = [("files", (f"n{n}.md", b"# N\n\nText.")) for n in range(21)]
    assert "upload at most 20 at a time" in error_of(server.post("/kbs/default/documents", files=files), 400)


def test_upload_without_files_is_422(server):
    assert (
        error_of(server.post("/kbs/default/documents", data={"x": "1"}), 422)
        == "files is missing; send it (see /api/v1/docs)."
    )


def test_remove_a_corpus_file_is_400(server):
    assert "not an uploaded document" in error_of(server.delete(f"/kbs/default/documents/{SEED}"), 400)


def test_openapi_and_docs(server):
    spec = server.get("/openapi.json").json()
    assert {"/kbs", "/search", "/passages/{passage_id}/context", "/kbs/{name}/documents"} <= set(spec["paths"])
    assert "source#paragraph.part" in spec["info"]["description"]
    page = server.get("/docs")
    assert page.status_code == 200 and "/api/v1/openapi.json" in page.text


def test_wrong_method_is_405(server):
    assert "does not take DELETE" in error_of(server.delete("/search"), 405)


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 401),
        ({"Authorization": f"Bearer {TOKEN}"}, 200),
        ({"Authorization": "Bearer wrong-token"}, 401),
        ({"Authorization": f"Basic {TOKEN}"}, 401),
    ],
)
def test_login_protects_the_api(locked, headers, status):
    for response in (
        locked.get("/api/v1/kbs", headers=headers),
        locked.post("/api/v1/search", json={"question": QUESTION}, headers=headers),
        locked.get("/api/v1/openapi.json", headers=headers),
    ):
        if status == 401:
            assert "Bearer" in error_of(response, 401)
        else:
            assert response.status_code == 200, response.text


def test_page_login_cookie_opens_the_api(locked):
    with httpx.Client(base_url=str(locked.base_url), timeout=60) as browser:
        assert browser.post("/login", data={"username": "ann", "password": "s3cret-pass"}).status_code == 200
        assert browser.get("/api/v1/kbs").json()[0]["name"] == "seeds"
    with httpx.Client(base_url=str(locked.base_url), timeout=60) as stranger:
        stranger.post("/login", data={"username": "ann", "password": "wrong"})
        error_of(stranger.get("/api/v1/kbs"), 401)


def test_a_bug_is_500_with_one_sentence(server, caplog):
    response = server.post("/search", json={"question": "explode please"})
    assert "Something went wrong" in error_of(response, 500)
    assert [r.getMessage() for r in caplog.records if r.levelname == "ERROR"] == [
        "POST /api/v1/search failed: RuntimeError: the encoder broke"
    ]


def test_no_traceback_in_the_log(server, caplog, capfd):
    server.post("/search", json={"question": 3})
    server.post("/search", json={"question": "explode"})
    server.get("/passages/nope/context")
    server.post("/kbs/default/documents", files=[("files", ("empty.md", b""))])
    server.post("/search", content=b"[" * (5 << 20), headers={"content-type": "application/json"})
    assert not [r for r in caplog.records if r.exc_info or "Traceback" in r.getMessage()]
    assert "Traceback" not in capfd.readouterr().err


def readme_commands() -> list[str]:
    """The shell lines of the README's API section's first code block."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## API\n", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```bash\n(.*?)```", section, re.S).group(1)
    inline = re.findall(r"`(curl [^`]+)`", section)
    return [line for line in block.splitlines() if line.strip()] + inline


def run_readme(commands: list[str], url: str, cwd: Path, token: str = "") -> list:
    """Each command with the README's server replaced by ``url``; the JSON each curl printed."""
    out = []
    for command in commands:
        command = command.replace("http://127.0.0.1:7860", url)
        done = subprocess.run(
            ["bash", "-c", command],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "ASSISTANT_API_TOKEN": token},
        )
        assert done.returncode == 0, (command, done.stderr)
        if shlex.split(command)[0] == "curl":
            out.append(json.loads(done.stdout))
    return out


def test_readme_curl_commands_work(server, tmp_path):
    assert shutil.which("curl"), "curl is needed for this test"
    results = run_readme(readme_commands(), str(server.base_url).rstrip("/").removesuffix("/api/v1"), tmp_path)
    assert len(results) == 8
    assert not [r for r in results if isinstance(r, dict) and "error" in r]
    kbs, search, filtered, every, context, added, removed, listed = results
    assert kbs[0]["name"] == "seeds" and search["passages"][0]["id"] == f"{SEED}#15.0"
    assert {p["source"] for p in filtered["passages"]} <= {SEED}
    assert every["passages"] and {p["kb"] for p in every["passages"]} == {"seeds"}
    assert context["passage"]["paragraph"] == 15
    assert added["added"][0]["source"] == "uploads/notes.md" and removed["removed"] == "uploads/notes.md"
    assert listed[0]["name"] == "seeds"


def test_readme_bearer_command_works_with_a_login(locked, tmp_path):
    bearer = [c for c in readme_commands() if "Authorization: Bearer" in c]
    assert bearer
    assert run_readme(bearer, str(locked.base_url).rstrip("/"), tmp_path, token=TOKEN)[0][0]["name"] == "seeds"
    assert "error" in run_readme(bearer, str(locked.base_url).rstrip("/"), tmp_path, token="wrong")[0]


def test_several_knowledge_bases(corpus, tmp_path):
    other = write(tmp_path / "recipes", "bread.md", "# Bread\n\nThe rye loaf is baked on Fridays.\n").parent
    same_name = write(tmp_path / "again" / "seeds", "x.md", "# X\n\nThe lighthouse keeper rings at dawn.\n").parent
    more = [
        Assistant(folder, index_root=tmp_path / "emb", uploads=tmp_path / f"up-{n}", encoder=FakeEncoder())
        for n, folder in enumerate((other, same_name))
    ]
    app, url = start(corpus, tmp_path / "main", more_kbs=more)
    try:
        with httpx.Client(base_url=url + "/api/v1", timeout=60) as api:
            assert [kb["name"] for kb in api.get("/kbs").json()] == ["seeds", "recipes", "seeds-2"]
            found = api.post("/search", json={"question": "when is the rye loaf baked", "kb": "recipes"}).json()
            assert found["passages"][0]["id"] == "bread.md#2.0"
            default = api.post("/search", json={"question": "when is the rye loaf baked", "kb": "default"}).json()
            assert "bread.md" not in {p["source"] for p in default["passages"]}
            assert (
                api.get("/passages/bread.md%232.0/context", params={"kb": "recipes"}).json()["passage"]["paragraph"]
                == 2
            )
            assert "No passage bread.md" in error_of(api.get("/passages/bread.md%232.0/context"), 404)
            assert "knowledge base 'nope'" in error_of(api.get("/passages/bread.md%232.0/context?kb=nope"), 404)
            note = [("files", ("rolls.md", b"# Rolls\n\nThe rolls rise for an hour."))]
            assert api.post("/kbs/recipes/documents", files=note).json()["added"][0]["source"] == "uploads/rolls.md"
            assert (tmp_path / "up-0" / "rolls.md").exists() and not (tmp_path / "main" / "uploads").exists()
            assert api.delete("/kbs/recipes/documents/uploads/rolls.md").status_code == 200
    finally:
        app.close()


def test_real_model_through_the_api(tmp_path):
    """The default model (bundled USE): an English question finds the Chinese paragraph."""
    folder = tmp_path / "seeds"
    shutil.copytree(SEEDS, folder)
    bot = Assistant(folder, index_root=tmp_path / "emb", uploads=tmp_path / "uploads")
    port = free_port()
    app = serve(bot, port=port, block=False)
    try:
        result = httpx.post(
            f"http://127.0.0.1:{port}/api/v1/search",
            json={"question": "When was the WIC international organization founded?", "top_k": 3},
            timeout=120,
        ).json()
        assert result["found"] and result["passages"][0]["id"] == f"{SEED}#15.0"
    finally:
        app.close()


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("notes.md#3.0", PassageId("notes.md", 3, 0)),
        ("uploads/a#b.md#21.2", PassageId("uploads/a#b.md", 21, 2)),
        ("notes.md#3", PassageId("notes.md", 3, 0)),
    ],
)
def test_passage_ids_round_trip(text, parsed):
    assert PassageId.parse(text) == parsed and PassageId.parse(str(parsed)) == parsed


def test_serve_command_takes_the_token_from_the_environment(corpus, tmp_path):
    """``serve --auth USER`` (the real CLI with the fake encoder): $ASSISTANT_API_TOKEN is the bearer token."""
    port = free_port()
    env = {
        **os.environ,
        "ASSISTANT_INDEX_DIR": str(tmp_path / "emb"),
        "ASSISTANT_PASSWORD": "s3cret-pass",
        "ASSISTANT_API_TOKEN": TOKEN,
    }
    argv = ["serve", "--corpus", str(corpus), "--port", str(port), "--auth", "ann", "--uploads", str(tmp_path / "up")]
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.fake_cli", *argv],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/api/v1/kbs"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                response = httpx.get(url, timeout=5)
                break
            except httpx.TransportError:
                assert proc.poll() is None and time.monotonic() < deadline, "serve did not start"
                time.sleep(0.1)
        assert "Log in first" in error_of(response, 401)
        assert httpx.get(url, headers={"Authorization": f"Bearer {TOKEN}"}).json()[0]["name"] == "seeds"
    finally:
        proc.terminate()
        proc.wait(30)
