"""``autograder check`` agrees with the grader.

On every file of the example class, and on the corpus' forbidden-call variants, the
student's check and the grader's report must tell the same story:

- a module that cannot be imported fails ``check`` with the same module failure (the
  same words: one function builds both);
- the static rules give the same penalties (forbidden calls, escape hatches);
- a task that earns nothing when graded fails ``check``;
- ``check`` exits 0 exactly when the grader gives the module full marks.

(Task by task, a public check may fail where the grader gives full marks: the public
``make_mlp`` check of ``linear`` builds on the student's own ``Linear``, the hidden ones
do not; so that direction is not asserted.)

Plus the behaviours of ``check`` itself: the grader's time limits by default, a hang
inside one check fails that check only, and errors carry the student's ``file:line``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from autograder.checks.loading import is_module_failure
from autograder.config import load_course
from autograder.grading import GradeOptions, grade_submissions
from autograder.student_check import check_file, render

from example_class import EXAMPLES, graded_example_class

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "corpus"
EXAMPLE_FILES = sorted(p for p in EXAMPLES.glob("*/*") if p.suffix in (".py", ".ipynb"))


def _failure(module: str, tasks) -> str | None:
    """The first line of the module failure the checks of ``tasks`` carry, or None."""
    for task in tasks:
        for check in task["checks"]:
            if check["outcome"] == "error" and is_module_failure(module, check["message"]):
                return check["message"].split("\n")[0]
    return None


def _agree(report_assignment: dict, checked) -> None:
    """The assertions of the module docstring, for one module."""
    graded = {t["task"]: t for t in report_assignment["tasks"]}
    mine = {t.task: t for t in checked.result.tasks}
    assert set(graded) == set(mine)
    # module failure: same first line (the same function wrote it, with the file named alike)
    module = report_assignment["assignment"]
    grader_failure = _failure(module, report_assignment["tasks"])
    check_failure = _failure(module, [{"checks": [{"outcome": c.outcome.value, "message": c.message} for c in t.checks]}
                              for t in checked.result.tasks])
    normalise = (lambda text: text.replace(".ipynb ", ".py ") if text else text)
    assert (grader_failure is None) == (check_failure is None), (grader_failure, check_failure)
    if grader_failure and "did not finish" not in grader_failure:
        assert normalise(grader_failure) == normalise(check_failure)
    for task_id, task in graded.items():
        penalty = task["penalty"]
        theirs = mine[task_id].penalty
        if penalty != "no checks ran for this task":
            assert (penalty or None) == (theirs if theirs != "no checks ran for this task" else None), task_id
        public_fail = any(not c.passed for c in mine[task_id].checks) or (
            theirs is not None and theirs != "no checks ran for this task")
        if task["points"] == 0 and mine[task_id].checks:
            # nothing of the task earns points: its public checks cannot all pass
            assert public_fail, task_id
    full = all(t["points"] == t["max_points"] for t in graded.values())
    assert (checked.exit_code == 0) == full, (checked.exit_code, full)


@pytest.fixture(scope="module")
def example_reports() -> dict[str, dict]:
    out = graded_example_class()
    return {p.name: json.loads((p / "report.json").read_text()) for p in out.iterdir() if p.is_dir()}


def _check_all(paths: list[Path]) -> dict[Path, object]:
    """``check_file`` of each path, two at a time: each check is a child process that spends
    seconds of one core importing PyTorch. A check that raises is kept as its exception,
    for that path's test to re-raise."""
    def one(path: Path):
        try:
            return check_file(path)
        except Exception as exc:      # noqa: BLE001  (re-raised by the test of this path)
            return exc

    with ThreadPoolExecutor(2) as pool:
        return dict(zip(paths, pool.map(one, paths)))


def _checked(results: dict[Path, object], path: Path):
    result = results[path]
    if isinstance(result, Exception):
        raise result
    return result


@pytest.fixture(scope="module")
def example_checks() -> dict[Path, object]:
    return _check_all(EXAMPLE_FILES)


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=[f"{p.parent.name}/{p.name}" for p in EXAMPLE_FILES])
def test_check_agrees_with_the_grader_on_the_example_class(example_reports, example_checks, path):
    report = example_reports[path.parent.name]
    assignment = next(a for a in report["assignments"] if a["assignment"] == path.stem)
    checked = _checked(example_checks, path)
    _agree(assignment, checked)
    text = render(checked)
    assert f"Checking {path.name}" in text


def _forbidden_variants() -> list[Path]:
    """Corpus variants that use a name their task does not allow (chosen by the static rules;
    that the grader does zero them is asserted below, from its report)."""
    from autograder.rules import static_penalties

    configs = load_course()
    return sorted(p for m in ("tensors", "linear", "activations", "training", "devices")
                  for p in (CORPUS / m).glob("*.py")
                  if static_penalties(m, p.read_bytes(), configs[m]).penalties)


FORBIDDEN = _forbidden_variants()


@pytest.fixture(scope="module")
def forbidden_reports(tmp_path_factory) -> dict[str, dict]:
    root = tmp_path_factory.mktemp("forbidden")
    for path in FORBIDDEN:
        module = path.parent.name
        (root / "subs" / f"{module}--{path.stem}").mkdir(parents=True)
        shutil.copy(path, root / "subs" / f"{module}--{path.stem}" / f"{module}.py")
    modules = tuple(sorted({p.parent.name for p in FORBIDDEN}))
    grade_submissions(root / "subs", root / "out", GradeOptions(modules=modules, workers=2))
    return {p.name: json.loads((p / "report.json").read_text()) for p in (root / "out").iterdir() if p.is_dir()}


@pytest.fixture(scope="module")
def forbidden_checks(tmp_path_factory) -> dict[Path, object]:
    """Each variant checked as the file a student would check (``<module>.py``, alone)."""
    copies = {}
    for path in FORBIDDEN:
        copy = tmp_path_factory.mktemp(f"check-{path.stem}") / f"{path.parent.name}.py"
        shutil.copy(path, copy)
        copies[path] = copy
    checked = _check_all(list(copies.values()))
    return {path: checked[copy] for path, copy in copies.items()}


@pytest.mark.parametrize("path", FORBIDDEN, ids=[f"{p.parent.name}/{p.stem}" for p in FORBIDDEN])
def test_check_agrees_with_the_grader_on_forbidden_calls(forbidden_reports, forbidden_checks, path):
    module = path.parent.name
    report = forbidden_reports[f"{module}--{path.stem}"]
    assignment = next(a for a in report["assignments"] if a["assignment"] == module)
    penalised = [t for t in assignment["tasks"] if t["penalty"] and "does not allow" in t["penalty"]]
    assert penalised, "the grader must zero a task of this variant for a forbidden call"
    checked = _checked(forbidden_checks, path)
    _agree(assignment, checked)
    assert checked.exit_code == 1
    text = render(checked)
    for task in penalised:
        assert f"FAIL  {task['task']}" in text and task["penalty"] in text


# --- check's own behaviour ------------------------------------------------------------------

def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "autograder.cli", *args], capture_output=True, text=True,
                          timeout=600, cwd=ROOT)


def test_the_default_limits_are_the_graders(tmp_path):
    """No limit given: the assignment's own call_timeout_s, read from its config (here a
    course whose devices config says 1.5 s, so that the hang below ends soon)."""
    assert load_course()["devices"].call_timeout_s == 10.0       # what a student gets
    root = tmp_path / "course"
    shutil.copytree(ROOT / "assignments", root / "assignments")
    config_file = root / "assignments" / "06_devices" / "config.toml"
    config_file.write_text(config_file.read_text().replace("call_timeout_s = 10.0", "call_timeout_s = 1.5", 1))
    assert load_course(root)["devices"].call_timeout_s == 1.5
    (tmp_path / "devices.py").write_text("while True:\n    pass\n")
    checked = check_file(tmp_path / "devices.py", root=root)
    assert checked.call_timeout_s == 1.5
    assert checked.exit_code == 1
    text = render(checked)
    assert "importing it did not finish within 1.5 s" in text
    assert "PROBLEM: devices.py could not be imported" in text


def test_a_hang_in_one_check_fails_that_check_only_and_errors_carry_file_and_line(tmp_path):
    reference = (EXAMPLES / "reference" / "activations.py").read_text(encoding="utf-8")
    broken = reference.replace("def relu(", "def _relu_reference(", 1) + (
        "\n\ndef relu(x):\n    while True:\n        pass\n"
        "\n\ndef _helper(x):\n    raise ValueError('a bug of mine')\n")
    broken = broken.replace("def elu(", "def _elu_reference(", 1) + "\n\ndef elu(x, alpha=1.0):\n    return _helper(x)\n"
    (tmp_path / "activations.py").write_text(broken, encoding="utf-8")
    checked = check_file(tmp_path / "activations.py", timeout_s=2)
    tasks = {t.task: t for t in checked.result.tasks}
    relu = [c for c in tasks["activations.relu"].checks if not c.passed]
    assert relu and all("did not finish within 2 s" in c.message for c in relu)
    elu = [c for c in tasks["activations.elu"].checks if not c.passed]
    line = broken.splitlines().index("    raise ValueError('a bug of mine')") + 1
    assert elu and all(f'File "activations.py", line {line}, in _helper' in c.message for c in elu), \
        [c.message for c in elu]
    # every other task still ran and passes
    others = [c for task, t in tasks.items() if task not in ("activations.relu", "activations.elu") for c in t.checks]
    assert others and all(c.passed for c in others), [c.message for c in others if not c.passed]


def test_a_syntax_error_is_shown_with_its_caret(tmp_path):
    (tmp_path / "tensors.py").write_text("def to_tensor(data, dtype=None)\n    return data\n")
    text = render(check_file(tmp_path / "tensors.py"))
    assert "SyntaxError: expected ':' (line 1)" in text
    lines = text.splitlines()
    index = next(i for i, line in enumerate(lines) if line.strip() == "def to_tensor(data, dtype=None)")
    assert lines[index + 1].strip() == "^"


@pytest.mark.parametrize("timeout", ["0", "-1", "nan"])
def test_check_rejects_a_limit_that_is_not_positive(timeout, tmp_path):
    (tmp_path / "tensors.py").write_text("")
    result = _cli("check", str(tmp_path / "tensors.py"), "--timeout", timeout)
    assert result.returncode == 2 and "positive" in result.stderr, result.stderr


def test_a_near_miss_name_is_told_what_the_grader_expects(tmp_path):
    (tmp_path / "Tensors.py").write_text("")
    result = _cli("check", str(tmp_path / "Tensors.py"))
    assert result.returncode == 2 and "did you mean tensors.py?" in result.stderr, result.stderr
