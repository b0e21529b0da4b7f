"""``autograder try-checks``: a -k selection of the hidden checks on one submission folder,
graded as ``grade`` grades it, printed in full, nothing recorded."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CLI = [sys.executable, "-m", "autograder.cli"]
CORPUS = ROOT / "tests" / "corpus" / "activations"
LINE = re.compile(r"^(ok  |FAIL|ERR |BUG ) (?P<name>\S+)  \[(?P<task>[^,]+), weight (?P<weight>[^,]+), "
                  r"(?P<visibility>\w+), [0-9.]+ s\]$")


def _run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """The command in a new interpreter, as a user runs it (its exit code, its output)."""
    return subprocess.run(CLI + list(args), capture_output=True, text=True, cwd=cwd, timeout=900)


def _run_here(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """The same command run in this process (its exit code, stdout and stderr), for tests of
    what it grades and prints rather than of the process: no interpreter importing PyTorch
    again, and the zygote of an earlier run in this process is reused, as ``grade`` reuses
    it. ``cwd`` is its working folder while it runs."""
    import os

    from click.testing import CliRunner

    from autograder.cli import main

    here = os.getcwd()
    if cwd is not None:
        os.chdir(cwd)
    try:
        result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    finally:
        os.chdir(here)
    return subprocess.CompletedProcess(["autograder", *args], result.exit_code, result.stdout, result.stderr)


def _submission(tmp_path: Path, source: Path, name: str = "student") -> Path:
    folder = tmp_path / name
    folder.mkdir()
    shutil.copy(source, folder / "activations.py")
    return folder


def _checks(stdout: str) -> list[dict]:
    """The checks printed by try-checks: name, task, mark, and the full message and detail."""
    checks: list[dict] = []
    field = None
    for line in stdout.splitlines():
        match = LINE.match(line)
        if match:
            checks.append({**match.groupdict(), "mark": line[:4].strip(), "message": "", "detail": ""})
            field = None
        elif checks and line.startswith("       ") and line[7:].split(":", 1)[0] in ("message", "detail"):
            field, text = line[7:].split(": ", 1) if ": " in line else (line[7:].rstrip(":"), "")
            checks[-1][field] = text
        elif checks and field and line.startswith("         "):
            checks[-1][field] += "\n" + line[9:]
        else:
            field = None
    return checks


def test_k_runs_only_the_selected_checks(tmp_path):
    folder = _submission(tmp_path, ROOT / "solutions" / "activations.py")
    result = _run_here("try-checks", str(folder), "-k", "relu and not leaky", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    checks = _checks(result.stdout)
    assert checks, result.stdout
    assert {c["task"] for c in checks} == {"activations.relu"}
    assert all("relu" in c["name"] and "leaky" not in c["name"] and c["mark"] == "ok" for c in checks)
    assert f"{len(checks)} checks" in result.stdout.splitlines()[0]
    assert f"{len(checks)} passed, 0 failed" in result.stdout
    # Nothing recorded: no course record in the working folder, nothing next to the submission
    # (.hypothesis/ is hypothesis' own cache of constants, which `grade` writes there too).
    assert [p for p in tmp_path.iterdir() if p.name != ".hypothesis"] == [folder]
    assert [p.name for p in folder.iterdir()] == ["activations.py"]


def test_a_failing_check_is_shown_in_full_and_alone(tmp_path):
    # This variant gets leaky_relu's default slope wrong: several leaky_relu checks fail,
    # but only the one selected may run.
    folder = _submission(tmp_path, CORPUS / "wrong_leaky_relu_default_slope.py")
    result = _run_here("try-checks", str(folder), "-a", "activations", "-k", "leaky_relu and default_slope")
    assert result.returncode == 1, result.stdout + result.stderr
    checks = _checks(result.stdout)
    assert [(c["name"], c["task"], c["mark"]) for c in checks] == [
        ("test_leaky_relu_default_slope_is_0_01", "activations.leaky_relu", "FAIL")]
    assert checks[0]["message"] and checks[0]["detail"]
    assert "0 passed, 1 failed" in result.stdout


def test_a_hypothesis_check_sees_the_inputs_it_sees_in_grade(tmp_path):
    """Same seed, same files, same check: the same falsifying input, word for word."""
    (tmp_path / "subs").mkdir()
    folder = _submission(tmp_path / "subs", CORPUS / "wrong_softmax_dim0.py")
    name = "test_normalisation_matches_reference[softmax]"
    tried = _run_here("try-checks", str(folder), "-k", "normalisation_matches_reference and softmax and not log",
                 "--seed", "3")
    assert tried.returncode == 1, tried.stdout + tried.stderr
    [check] = _checks(tried.stdout)
    assert (check["name"], check["mark"]) == (name, "FAIL")
    graded = _run_here("grade", str(tmp_path / "subs"), "-o", str(tmp_path / "out"), "-a", "activations", "--seed", "3")
    assert graded.returncode == 0, graded.stdout + graded.stderr
    report = json.loads((tmp_path / "out" / "student" / "report.json").read_text())
    [want] = [c for a in report["assignments"] for t in a["tasks"] for c in t["checks"] if c["name"] == name]
    assert want["outcome"] == "failed"
    assert (check["message"], check["detail"]) == (want["message"].rstrip("\n"), want["detail"].rstrip("\n"))
    assert check["detail"], "a hypothesis failure carries its input in the detail"


@pytest.mark.parametrize("args, says", [
    (["/no/such/folder"], "does not exist"),
    ([str(ROOT / "README.md")], "is a file, not a folder"),
    ([str(ROOT / "examples" / "submissions")], "give one of them"),
    ([str(ROOT / "examples" / "submissions" / "reference"), "-a", "activatons"], "unknown assignment"),
    ([str(ROOT / "examples" / "submissions" / "reference"), "-k", "relu and"], "is not a pytest -k expression"),
    ([str(ROOT / "examples" / "submissions" / "reference"), "-k", " "], "the expression is empty"),
], ids=["missing", "file", "folder-of-students", "unknown-assignment", "bad-expression", "empty-expression"])
def test_bad_input_exits_2_with_a_message(args, says):
    result = _run("try-checks", *args)
    assert result.returncode == 2, result.stdout + result.stderr
    assert says in result.stderr
    assert "Traceback" not in result.stderr


def test_a_module_the_folder_lacks_exits_2(tmp_path):
    folder = _submission(tmp_path, ROOT / "solutions" / "activations.py")
    result = _run_here("try-checks", str(folder), "-a", "tensors")
    assert result.returncode == 2
    assert "holds no tensors.py" in result.stderr and "activations" in result.stderr


def test_a_selection_of_nothing_exits_2_and_names_checks(tmp_path):
    folder = _submission(tmp_path, ROOT / "solutions" / "activations.py")
    result = _run_here("try-checks", str(folder), "-k", "no_check_is_called_this")
    assert result.returncode == 2, result.stdout + result.stderr
    assert "selects none of the" in result.stderr and "test_activation_matches_reference[sigmoid]" in result.stderr


def test_try_checks_grades_on_one_core_and_gives_the_cores_back(tmp_path, monkeypatch):
    # As grade pins its one slot: the round trips to the worker stay on one core (3-4x
    # faster than across cores); afterwards the process has the cores it had.
    import os

    from autograder import pipeline
    from autograder.try_checks import try_checks

    seen = []
    grade = pipeline.Grader.grade

    def spy(self, *args, **kwargs):
        seen.append(os.sched_getaffinity(0))
        return grade(self, *args, **kwargs)

    monkeypatch.setattr(pipeline.Grader, "grade", spy)
    before = os.sched_getaffinity(0)
    result = try_checks(_submission(tmp_path, ROOT / "solutions" / "activations.py"), ("activations",),
                        "relu_known_values")
    assert result.checks and all(c.outcome.value == "passed" for c in result.checks)
    assert len(seen) == 1 and len(seen[0]) == 1 and seen[0] <= before
    assert os.sched_getaffinity(0) == before
