"""The command line end to end: misuse. (The README's main command, graded once, is
proved in ``test_fresh_machine.py``, on a fresh copy of the project.)"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CLI = [sys.executable, "-m", "autograder.cli"]


def _run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(CLI + list(args), capture_output=True, text=True, cwd=cwd, timeout=900)


def _tree(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")) if folder.exists() else []


@pytest.mark.parametrize("case", ["missing", "empty", "file"])
def test_unusable_submissions_folder(tmp_path, case):
    target = tmp_path / "subs"
    if case == "empty":
        target.mkdir()
    elif case == "file":
        target.write_text("not a folder")
    out = tmp_path / "out"
    result = _run("grade", str(target), "-o", str(out))
    assert result.returncode == 2
    assert "error:" in result.stderr and str(target) in result.stderr.replace("\n", "")
    assert not out.exists()


def test_unwritable_output(tmp_path):
    subs = tmp_path / "subs" / "alice"
    subs.mkdir(parents=True)
    (subs / "tensors.py").write_text("X = 1\n")
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where a folder should be")
    result = _run("grade", str(tmp_path / "subs"), "-o", str(blocker / "out"))
    assert result.returncode == 2
    assert "cannot write reports" in result.stderr
    assert blocker.read_text() == "a file where a folder should be"
    assert _tree(tmp_path / "subs") == ["alice", "alice/tensors.py"]


def test_output_inside_submissions_is_refused(tmp_path):
    subs = tmp_path / "subs" / "alice"
    subs.mkdir(parents=True)
    (subs / "tensors.py").write_text("X = 1\n")
    result = _run("grade", str(tmp_path / "subs"), "-o", str(tmp_path / "subs" / "out"))
    assert result.returncode == 2 and "inside the submissions folder" in result.stderr
    assert not (tmp_path / "subs" / "out").exists()


def test_unknown_assignment_is_a_usage_error(tmp_path):
    result = _run("grade", str(tmp_path), "-a", "tensors,quantum")
    assert result.returncode == 2 and "quantum" in result.stderr
