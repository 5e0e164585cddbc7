"""Security: loopback by default, sharing only on request, an optional login kept out of logs and
shell history, pinned dependencies and the CI dependency audit."""

import json
import os
import re
import secrets
import subprocess
import sys
import time
import tomllib
import urllib.request

import httpx
import pytest

import assistant.web
from assistant.cli import build_parser, login, main
from assistant.errors import AssistantError

from .conftest import ROOT, assert_one_clear_sentence, free_port, write


def test_default_bind_is_this_machine_and_sharing_needs_a_flag():
    args = build_parser().parse_args(["serve"])
    assert args.host == "127.0.0.1" and args.share is False and args.auth is None
    import inspect

    defaults = inspect.signature(assistant.web.server.serve).parameters
    assert defaults["host"].default == "127.0.0.1" and defaults["share"].default is False


@pytest.mark.parametrize(
    "flag, env, expected",
    [
        (None, {}, None),
        ("admin:s3cret", {}, ("admin", "s3cret")),
        ("admin", {"ASSISTANT_PASSWORD": "from-env"}, ("admin", "from-env")),
        (None, {"ASSISTANT_AUTH": "ops:pa:ss"}, ("ops", "pa:ss")),
        ("admin:flag", {"ASSISTANT_AUTH": "ops:env"}, ("admin", "flag")),
    ],
)
def test_login_from_flag_or_environment(monkeypatch, flag, env, expected):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert login(flag) == expected


@pytest.mark.parametrize("flag", ["admin", ":secret", "admin:"])
def test_incomplete_login_gets_one_sentence(monkeypatch, flag):
    monkeypatch.delenv("ASSISTANT_PASSWORD", raising=False)
    with pytest.raises(AssistantError) as info:
        login(flag)
    assert_one_clear_sentence(str(info.value), "ASSISTANT_PASSWORD")


@pytest.mark.parametrize(
    "argv, warned",
    [
        ([], False),
        (["--host", "0.0.0.0"], True),
        (["--share"], True),
        (["--host", "0.0.0.0", "--auth", "admin:pw"], False),
    ],
)
def test_serving_beyond_this_machine_without_login_warns(monkeypatch, caplog, tmp_path, argv, warned):
    calls = []
    monkeypatch.setattr(assistant.web, "serve", lambda bot, **kwargs: calls.append(kwargs))
    assert main(["serve", "--corpus", str(tmp_path), *argv]) == 0
    assert calls and calls[0]["host"] == (argv[1] if argv[:1] == ["--host"] else "127.0.0.1")
    assert ("without a login" in caplog.text) is warned
    assert "pw" not in caplog.text


@pytest.mark.slow
def test_login_is_required_and_the_password_is_never_logged(tmp_path):
    from gradio_client import Client

    password = "pw-" + secrets.token_hex(8)
    docs = tmp_path / "docs"
    write(docs, "notes.md", "# Notes\n\nGreen tea is brewed at 80 degrees for two minutes.\n")
    port = free_port()
    log = tmp_path / "serve.log"
    env = {**os.environ, "ASSISTANT_PASSWORD": password}
    with open(log, "wb") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "tests.fake_cli", "-v", "serve", "--corpus", str(docs), "--port", str(port)]
            + ["--auth", "admin"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            url = f"http://127.0.0.1:{port}/"
            deadline = time.monotonic() + 120
            while True:
                assert server.poll() is None and time.monotonic() < deadline, log.read_text()
                try:
                    urllib.request.urlopen(url, timeout=2).read(100)
                    break
                except OSError:
                    time.sleep(0.2)
            assert httpx.get(url + "config").status_code == 401  # nothing without the login
            assert httpx.post(url + "gradio_api/call/ask", json={"data": ["green tea", [], 1]}).status_code == 401
            refused = httpx.post(url + "login", data={"username": "admin", "password": "wrong"})
            assert refused.status_code == 400 and "incorrect" in refused.text.lower()
            result = Client(url, auth=("admin", password), verbose=False).predict("green tea", [], 1, api_name="/ask")
            assert result["passages"][0]["source"] == "notes.md"
        finally:
            server.terminate()
            server.wait(timeout=30)
    text = log.read_text(errors="replace")
    assert "Ready:" in text and password not in text
    for path in (tmp_path / "embeddings").rglob("*"):
        if path.is_file():
            assert password.encode() not in path.read_bytes()


REQUIREMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(\[[a-z0-9,_-]+\])?==[0-9][0-9A-Za-z.+!-]*$")


@pytest.mark.parametrize(
    "name", ["requirements.txt", "requirements-dev.txt", "requirements-milvus.txt", "benchmarks/requirements.txt"]
)
def test_every_requirement_is_pinned(name):
    path = ROOT / name
    if not path.exists():
        pytest.skip(f"{name} does not exist on this branch")
    lines = [line.split("#")[0].strip() for line in path.read_text().splitlines()]
    for line in filter(None, lines):
        assert line.startswith("-r ") or line == "-e ." or REQUIREMENT.match(line), f"{name}: {line!r} is not pinned"


def test_package_dependencies_are_pinned_like_requirements():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    pins = {
        line.split("==")[0].lower(): line
        for line in (ROOT / "requirements.txt").read_text().splitlines()
        if "==" in line and not line.startswith("#")
    }
    for dependency in pyproject["project"]["dependencies"]:
        assert REQUIREMENT.match(dependency), dependency
        assert pins.get(dependency.split("==")[0].lower()) == dependency
    assert len(pins) == len(pyproject["project"]["dependencies"])  # installing the package installs them all


def test_the_requirements_install_the_package_itself():
    lines = (ROOT / "requirements.txt").read_text().splitlines()
    assert "-e ." in lines  # the README's Python example then runs from any folder


@pytest.mark.parametrize(
    "report, code, words",
    [
        ({"dependencies": [{"name": "x", "version": "1", "skip_reason": "not found"}]}, 0, "no vulnerability database"),
        ({"dependencies": [{"name": "x", "version": "1", "vulns": []}]}, 0, "1 packages audited, 0"),
        (
            {"dependencies": [{"name": "x", "version": "1", "vulns": [{"id": "PYSEC-1"}]}]},
            1,
            "VULNERABLE x==1: PYSEC-1",
        ),
    ],
)
def test_ci_dependency_audit_fails_only_on_a_known_vulnerability(tmp_path, report, code, words):
    fake = tmp_path / "pip-audit"
    fake.write_text(f"#!{sys.executable}\nprint({json.dumps(json.dumps(report))})\n")
    fake.chmod(0o755)
    done = subprocess.run(
        [sys.executable, str(ROOT / ".ci" / "audit.py"), str(fake), "reqs.txt"], capture_output=True, text=True
    )
    assert done.returncode == code and words in done.stdout


def test_ci_runs_the_dependency_audit():
    script = (ROOT / ".ci" / "run").read_text()
    assert "pip-audit==" in script and ".ci/audit.py" in script
