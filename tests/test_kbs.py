"""Several knowledge bases: names, definitions, per-KB settings, search across them, filters, the CLI and the
REST API of the real server with two of them."""

import datetime as dt
import json
import os
from pathlib import Path

import httpx
import pytest

from assistant.api import (
    Filters,
    KBSpec,
    check_name,
    open_kbs,
    read_settings,
    split_filters,
    unique_names,
)
from assistant.cli import main
from assistant.errors import KnowledgeBaseError, QuestionError, UnknownKnowledgeBase
from assistant.web import serve

from .conftest import assert_one_clear_sentence, free_port, write, write_docs

HR = {
    "leave.md": "# Leave\n\nEmployees take twenty days of annual leave every year.\n",
    "policies/travel.txt": "Travel\n\nTravel is booked through the office two weeks ahead.\n",
}
IT = {
    "laptops.md": "# Laptops\n\nLaptops are replaced every three years by the help desk.\n",
    "old/printers.txt": "Printers\n\nThe printers on the second floor take A3 paper and annual toner.\n",
}
OLD = dt.datetime(2023, 3, 1, tzinfo=dt.UTC).timestamp()  # printers.txt and travel.txt were last modified then


def folders(tmp: Path) -> tuple[Path, Path]:
    hr, it = write_docs(tmp / "people", HR), write_docs(tmp / "computers", IT)
    for old in (hr / "policies/travel.txt", it / "old/printers.txt"):
        os.utime(old, (OLD, OLD))
    (it / ".assistant.toml").write_text('top_k = 2\nthreshold = 0.05\nmodel = "fake-it"\n', encoding="utf-8")
    return hr, it


@pytest.fixture
def kbs(tmp_path, fake_models):
    hr, it = folders(tmp_path)
    return open_kbs([KBSpec.parse(f"hr={hr}"), KBSpec.parse(f"技术-it={it}")], index_root=tmp_path / "emb")


@pytest.mark.parametrize("name", ["hr", "HR_2", "a-b", "人事", "技术-it", "x" * 64])
def test_good_names(name):
    assert check_name(name) == name


@pytest.mark.parametrize(
    "name, words",
    [
        ("", "not a knowledge base name"),
        ("a b", "not a knowledge base name"),
        ("../etc", "not a knowledge base name"),
        ("a/b", "not a knowledge base name"),
        ("x" * 65, "1 to 64"),
        ("nul\x00", "not a knowledge base name"),
        ("all", "reserved"),
        ("default", "reserved"),
        (None, "not a knowledge base name"),
    ],
)
def test_bad_names_are_one_sentence(name, words):
    with pytest.raises(KnowledgeBaseError) as caught:
        check_name(name)
    assert_one_clear_sentence(str(caught.value), words)


def test_definitions_and_names():
    assert KBSpec.parse("hr=docs/hr") == KBSpec("hr", Path("docs/hr"))
    assert KBSpec.parse("docs/hr") == KBSpec(None, Path("docs/hr"))
    specs = [
        KBSpec(None, Path("a/seeds")),
        KBSpec(None, Path("b/seeds")),
        KBSpec("hr", Path("c")),
        KBSpec(None, Path("my docs")),
    ]
    assert unique_names(specs) == ["seeds", "seeds-2", "hr", "my-docs"]
    with pytest.raises(KnowledgeBaseError, match="names no folder"):
        KBSpec.parse("hr=")
    with pytest.raises(KnowledgeBaseError, match="Two knowledge bases are named 'hr'"):
        unique_names([KBSpec("hr", Path("a")), KBSpec("hr", Path("b"))])


def test_settings_file(tmp_path):
    assert read_settings(tmp_path).top_k is None
    (tmp_path / ".assistant.toml").write_text("top_k = 3\nalpha = 0.7\n", encoding="utf-8")
    got = read_settings(tmp_path)
    assert (got.top_k, got.alpha, got.threshold, got.model) == (3, 0.7, None, None)
    assert got.but(alpha=0.2, top_k=None).to_dict() == {"top_k": 3, "alpha": 0.2, "threshold": None, "model": None}


@pytest.mark.parametrize(
    "text, words",
    [
        ("top_k = 0\n", "number of passages"),
        ("alpha = 2\n", "between 0 and 1"),
        ("colour = 'red'\n", "unknown key 'colour'"),
        ("top_k = \n", "cannot be read as TOML"),
        ("model = 3\n", "model must be"),
        ("# x\n" * 2000, "over 4 KB"),
    ],
)
def test_bad_settings_file_is_one_sentence(tmp_path, text, words):
    (tmp_path / ".assistant.toml").write_text(text, encoding="utf-8")
    with pytest.raises(KnowledgeBaseError) as caught:
        read_settings(tmp_path)
    assert_one_clear_sentence(str(caught.value), words)


def test_each_kb_has_its_own_settings_index_and_uploads(kbs, tmp_path):
    assert kbs.names == ["hr", "技术-it"]
    assert kbs.settings("技术-it") == {"top_k": 2, "alpha": 0.5, "threshold": 0.05, "model": "fake-it"}
    assert kbs.settings("hr")["top_k"] == 5 and kbs.settings("hr")["model"] == "fake-bigrams"
    hr, it = kbs.get("hr"), kbs.get("技术-it")
    assert hr.uploads != it.uploads and hr.index.folder != it.index.folder
    # the names never reach the file system: folders are keyed by the corpus folder
    made = [str(p) for p in (tmp_path / "emb").rglob("*")]
    assert made and not [p for p in made if "技术" in p or "/hr" in p]
    assert ".assistant.toml" not in {d.source for d in it.documents()}


def test_one_kb_or_all_merged_by_score(kbs):
    one = kbs.ask("when are laptops replaced", kb="技术-it")
    assert [(h.kb, h.passage.source) for h in one.hits][:1] == [("技术-it", "laptops.md")] and len(one.hits) <= 2
    both = kbs.ask("annual leave days and annual toner", kb="all", top_k=4)
    assert {h.kb for h in both.hits} == {"hr", "技术-it"}
    assert [h.score for h in both.hits] == sorted((h.score for h in both.hits), reverse=True)
    assert both.to_dict()["passages"][0]["kb"] in ("hr", "技术-it")
    with pytest.raises(
        UnknownKnowledgeBase, match="There is no knowledge base 'nope'; choose one of hr, 技术-it or all"
    ):
        kbs.ask("laptops", kb="nope")
    with pytest.raises(UnknownKnowledgeBase, match="needs one knowledge base, not all"):
        kbs.get("all")


@pytest.mark.parametrize(
    "filters, sources",
    [
        (Filters(kb="hr"), {"leave.md", "policies/travel.txt"}),
        (Filters(source="old/*"), {"old/printers.txt"}),
        (Filters(type="md"), {"leave.md", "laptops.md"}),
        (Filters(type=".TXT", kb="技术-it"), {"old/printers.txt"}),
        (Filters(modified_before="2024-01-01"), {"policies/travel.txt", "old/printers.txt"}),
        (Filters(modified_after="2024-01-01"), {"leave.md", "laptops.md"}),
        (
            Filters(modified_after="2023-03-01", modified_before="2023-03-02"),
            {"policies/travel.txt", "old/printers.txt"},
        ),
        (Filters(modified_after="2030-01-01"), set()),
    ],
)
def test_filters(kbs, filters, sources):
    question = "annual leave travel laptops printers office years paper"
    answer = kbs.ask(question, kb="all", top_k=10, threshold=0.0, filters=filters)
    assert {h.passage.source for h in answer.hits} == sources
    assert answer.found == bool(sources)


def test_filter_words_in_a_question():
    question, filters = split_filters("how many days? source:policies/* type:txt after:2024-01-01 kb:hr")
    assert question == "how many days?"
    assert filters == Filters(kb="hr", source="policies/*", type=".txt", modified_after=dt.date(2024, 1, 1))
    assert split_filters("what time is 10:30") == ("what time is 10:30", Filters())
    with pytest.raises(QuestionError, match="modified_after must be an ISO date such as 2024-01-01; got 'soon'"):
        split_filters("leave after:soon")


def test_cli_index_ask_eval_with_kbs(tmp_path, fake_models, capsys):
    hr, it = folders(tmp_path)
    kb = ["--kb", f"hr={hr}", "--kb", f"it={it}"]
    assert main(["index", *kb, "--json"]) == 0
    built = json.loads(capsys.readouterr().out)
    assert [(b["kb"], b["files"], b["model"]) for b in built] == [("hr", 2, "fake-bigrams"), ("it", 2, "fake-it")]
    assert main(["ask", "when are laptops replaced", *kb, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["passages"][0]["kb"] == "it"
    assert main(["ask", "when are laptops replaced", *kb, "--in", "hr", "--json"]) == 0
    assert {p["kb"] for p in json.loads(capsys.readouterr().out)["passages"]} <= {"hr"}
    questions = write(
        tmp_path, "q.jsonl", json.dumps({"question": "when are laptops replaced", "answers": ["three years"]})
    )
    assert main(["eval", str(questions), "--kb", f"it={it}", "--json", "--no-progress"]) == 0
    [result] = json.loads(capsys.readouterr().out)
    assert result["name"] == "it:hybrid" and result["hit"]["hit@1"] == 1.0
    assert main(["eval", str(questions), "--corpus", str(it), "--kb", f"hr={hr}", "--json", "--no-progress"]) == 0
    assert [(r["name"], r["hit"]["hit@1"]) for r in json.loads(capsys.readouterr().out)] == [
        ("hybrid", 1.0),
        ("hr:hybrid", 0.0),
    ]


@pytest.mark.parametrize(
    "args, words",
    [
        (["ask", "x", "--kb", "bad name=."], "not a knowledge base name"),
        (["ask", "x", "--kb", "all=."], "reserved"),
        (["ask", "x", "--kb", "hr=."], None),
        (["index", "--kb", "hr=", "--json"], "names no folder"),
        (["ask", "x", "--kb", "hr=.", "--in", "it"], "no knowledge base 'it'"),
        (["serve", "--kb", "a=.", "--kb", "a=seeds"], "Two knowledge bases are named 'a'"),
    ],
)
def test_cli_bad_kbs_say_one_sentence(args, words, fake_models, capsys, tmp_path, monkeypatch):
    write_docs(tmp_path, {"a.md": "# A\n\nSome text about apples."})
    monkeypatch.chdir(tmp_path)
    code = main(args)
    err = capsys.readouterr().err
    if words is None:
        assert code == 0
        return
    assert code == 2 and err.startswith("error: ")
    assert_one_clear_sentence(err.removeprefix("error: "), words)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from assistant.encoders import set_encoder_factory

    from .conftest import FakeEncoder

    set_encoder_factory(lambda name=None: FakeEncoder(name or "fake-bigrams"))
    tmp = tmp_path_factory.mktemp("kbs")
    hr, it = folders(tmp)
    kbs = open_kbs([KBSpec.parse(f"hr={hr}"), KBSpec.parse(f"it={it}")], index_root=tmp / "emb")
    port = free_port()
    app = serve(kbs, port=port, block=False)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}/api/v1", timeout=60) as client:
            yield client, kbs
    finally:
        app.close()
        set_encoder_factory(None)


@pytest.mark.slow
def test_rest_lists_both_with_settings(server):
    client, _ = server
    listed = client.get("/kbs").json()
    assert [kb["name"] for kb in listed] == ["hr", "it"]
    assert listed[1]["settings"] == {"top_k": 2, "alpha": 0.5, "threshold": 0.05, "model": "fake-it"}
    assert listed[1]["model"] == "fake-it" and {d["source"] for d in listed[0]["documents"]} == set(HR)


@pytest.mark.slow
@pytest.mark.parametrize("kb, kbs", [("hr", {"hr"}), ("it", {"it"}), ("all", {"hr", "it"}), ("*", {"hr", "it"})])
def test_rest_search_one_or_all(server, kb, kbs):
    client, _ = server
    body = {"question": "annual leave days and annual toner", "kb": kb, "top_k": 6}
    found = client.post("/search", json=body).json()
    assert {p["kb"] for p in found["passages"]} == kbs
    first = found["passages"][0]
    context = client.get(
        f"/passages/{first['id'].replace('/', '%2F').replace('#', '%23')}/context", params={"kb": first["kb"]}
    )
    assert context.json()["passage"]["source"] == first["source"]
    assert "not all" in client.get("/passages/leave.md%232.0/context", params={"kb": "all"}).json()["error"]


@pytest.mark.slow
def test_rest_search_filters(server):
    client, _ = server
    body = {"question": "annual leave travel laptops printers", "kb": "all", "top_k": 10, "threshold": 0}
    old = client.post("/search", json={**body, "filters": {"modified_before": "2024-01-01"}}).json()
    assert {p["source"] for p in old["passages"]} == {"policies/travel.txt", "old/printers.txt"}
    md = client.post("/search", json={**body, "filters": {"type": "md", "source": "l*"}}).json()
    assert {(p["kb"], p["source"]) for p in md["passages"]} == {("hr", "leave.md"), ("it", "laptops.md")}


@pytest.mark.slow
@pytest.mark.parametrize(
    "body, status, words",
    [
        ({"question": "leave", "kb": "nope"}, 404, "no knowledge base 'nope'"),
        ({"question": "leave", "kb": "../etc"}, 404, "no knowledge base"),
        ({"question": "leave", "kb": "x" * 300}, 422, "kb"),
        ({"question": "leave", "filters": {"modified_after": "yesterday"}}, 400, "ISO date"),
        ({"question": "leave", "filters": {"modified_after": "2024-01-01T00:00:00" * 3}}, 422, "modified_after"),
        ({"question": "leave", "filters": {"kb": "hr"}}, 422, "filters.kb is not a field"),
    ],
)
def test_rest_bad_requests(server, body, status, words):
    client, _ = server
    response = client.post("/search", json=body)
    assert response.status_code == status, response.text
    assert_one_clear_sentence(response.json()["error"], words)


@pytest.mark.slow
def test_page_chat_takes_filter_words(server):
    """The page's /chat, searching all knowledge bases: the filter words choose the passages, cards name the KB."""
    from gradio_client import Client

    client, _ = server
    page = Client(str(client.base_url).removesuffix("/api/v1/"), verbose=False)
    _, messages = page.predict("annual leave travel printers type:txt", [], 10, 0.5, 0.0, api_name="/chat")
    reply = str(messages[-1]["content"])
    assert "policies/travel.txt" in reply and "old/printers.txt" in reply and "leave.md" not in reply
    assert '<span class="kb-kb">[hr]</span>' in reply and '<span class="kb-kb">[it]</span>' in reply
    _, messages = page.predict("annual leave after:someday", [], 5, 0.5, 0.2, api_name="/chat")
    assert "must be an ISO date" in str(messages[-1]["content"])


@pytest.mark.slow
def test_rest_upload_goes_to_the_named_kb(server):
    client, kbs = server
    note = [("files", ("canteen.md", b"# Canteen\n\nThe canteen serves noodles on Tuesdays."))]
    assert client.post("/kbs/it/documents", files=note).json()["added"][0]["source"] == "uploads/canteen.md"
    assert (kbs.get("it").uploads / "canteen.md").exists() and not (kbs.get("hr").uploads / "canteen.md").exists()
    found = client.post("/search", json={"question": "canteen noodles", "kb": "all"}).json()
    assert found["passages"][0]["kb"] == "it"
    assert client.delete("/kbs/it/documents/uploads/canteen.md").status_code == 200
    assert "name it instead of all" in client.post("/kbs/all/documents", files=note).json()["error"]
