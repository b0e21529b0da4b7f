"""The command line end to end: the README's main command, and misuse."""

from __future__ import annotations

import csv
import json
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


@pytest.fixture(scope="module")
def graded_examples(tmp_path_factory):
    out = tmp_path_factory.mktemp("examples") / "out"
    modules = "tensors,linear,activations,training,devices,mnist_cnn"   # MNIST: the slice shipped with the grader
    result = _run("grade", str(ROOT / "examples" / "submissions"), "-o", str(out), "-a", modules, "-j", "2")
    return result, out


def test_grading_the_examples_writes_all_four_formats(graded_examples):
    result, out = graded_examples
    assert result.returncode == 0, result.stderr[-3000:]
    students = {p.name for p in (ROOT / "examples" / "submissions").iterdir() if p.is_dir()}
    assert {p.name for p in out.iterdir() if p.is_dir()} == students
    for student in students:
        files = {p.name for p in (out / student).iterdir()}
        assert files == {"report.json", "feedback.md", "feedback.html", "results.json"}
    rows = list(csv.DictReader((out / "gradebook.csv").open()))
    assert {r["student"] for r in rows} == students
    assert "Scores" in result.stdout


def test_reference_scores_full_marks_and_template_zero(graded_examples):
    _, out = graded_examples
    reference = json.loads((out / "reference" / "report.json").read_text())
    template = json.loads((out / "template" / "report.json").read_text())
    assert reference["points"] == reference["max_points"] > 0
    assert template["points"] == 0
    stub_messages = [c["message"] for a in template["assignments"] for t in a["tasks"] for c in t["checks"]]
    assert any("NotImplementedError" in m for m in stub_messages)


def test_partial_and_broken_lose_points_with_messages(graded_examples):
    _, out = graded_examples
    partial = json.loads((out / "partial" / "report.json").read_text())
    softmax = next(t for a in partial["assignments"] for t in a["tasks"] if t["task"] == "activations.softmax")
    assert softmax["points"] < softmax["max_points"]
    broken = (out / "broken" / "feedback.md").read_text()
    assert "SyntaxError" in broken and "did not finish" in broken


def test_gradescope_results_follow_the_format(graded_examples):
    _, out = graded_examples
    results = json.loads((out / "reference" / "results.json").read_text())
    assert results["score"] == pytest.approx(sum(t["score"] for t in results["tests"]))
    assert all({"name", "score", "max_score", "status", "visibility"} <= set(t) for t in results["tests"])


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
