"""The code stays ruff-clean (lint and format) and the tests keep to their temporary folders, as the house style asks."""

import shutil
import subprocess
import sys

import pytest

from .conftest import ROOT


@pytest.mark.parametrize("args", [["check"], ["format", "--check"]], ids=["lint", "format"])
def test_ruff(args):
    ruff = shutil.which("ruff") or shutil.which("ruff", path=str(ROOT / ".venv" / "bin"))
    command = [ruff, *args] if ruff else [sys.executable, "-m", "ruff", *args]
    result = subprocess.run(
        [*command, "assistant", "tests", "benchmarks", "eval"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_undoing_a_tests_patches_keeps_its_index_in_tmp(monkeypatch, tmp_path):
    from assistant.storage.build import default_index_root

    monkeypatch.setenv("ASSISTANT_MODEL", "patched")
    monkeypatch.undo()  # once sent the index to the repo's embeddings/ (test_failed_save_keeps_the_old_index)
    assert default_index_root() == tmp_path / "embeddings"
