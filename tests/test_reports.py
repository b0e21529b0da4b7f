"""Behaviour of the report writers and of the atomic file writes.

Results are built by hand: a student with full marks, one whose hidden check failed
with a secret input in its ``detail``, and one with a penalty and a module not
submitted; plus ids that try to break a CSV file or a spreadsheet.
"""

from __future__ import annotations

import csv
import io
import json
import os
from dataclasses import fields, replace
from pathlib import Path

import pytest

from autograder.errors import OutputError
from autograder.reports import (
    GRADEBOOK_FILE, STUDENT_FILES, atomic_write_text, gradebook_csv, gradescope_results,
    replace_dir_atomically, student_feedback_html, student_feedback_markdown,
    student_from_json, student_to_json, write_class_reports, write_student_reports,
)
from autograder.results import (
    AssignmentResult, CheckResult, ClassResult, Isolation, Outcome, StudentResult,
    TaskResult, Visibility,
)

SECRET = "SECRET-INPUT tensor([31.4159, -2.7182])"
PUBLIC_DETAIL = "AssertionError: expected shape (2, 3), received (3, 2)"
FULL_ISOLATION = Isolation("private-root", "none", "private", "nobody", 2 * 2**30, ("seccomp off",))


def _check(
    name: str, task: str, outcome: Outcome = Outcome.PASSED, **kwargs: object
) -> CheckResult:
    return CheckResult(name=name, task=task, outcome=outcome, **kwargs)


def _tensors(*relu_checks: CheckResult) -> AssignmentResult:
    return AssignmentResult(
        assignment="tensors",
        source="tensors.py",
        tasks=(
            TaskResult("tensors.to_tensor", 60, (
                _check("test_to_tensor_dtype", "tensors.to_tensor", visibility=Visibility.PUBLIC),
                _check("test_to_tensor_values", "tensors.to_tensor", weight=3.0, duration_s=0.25),
            )),
            TaskResult("tensors.normalize", 40, relu_checks or (
                _check("test_normalize_mean_zero", "tensors.normalize"),
            )),
        ),
    )


def _activations() -> AssignmentResult:
    return AssignmentResult(
        assignment="activations",
        source="activations.ipynb",
        tasks=(TaskResult("activations.relu", 50, (
            _check("test_relu_matches_reference", "activations.relu"),
        )),),
    )


@pytest.fixture
def alice() -> StudentResult:
    """Full marks, full isolation."""
    return StudentResult("alice", (_tensors(), _activations()), FULL_ISOLATION, duration_s=3.5)


@pytest.fixture
def bob() -> StudentResult:
    """A failed hidden check whose detail holds a secret input, a failed public check."""
    normalize = (
        _check("test_normalize_shape", "tensors.normalize", Outcome.FAILED,
               visibility=Visibility.PUBLIC, message="wrong shape; transpose?",
               detail=PUBLIC_DETAIL),
        _check("test_normalize_hidden_values", "tensors.normalize", Outcome.FAILED,
               message="values differ from the reference <b>here</b>", detail=SECRET),
        _check("test_normalize_mean_zero", "tensors.normalize"),
        _check("test_normalize_std_one", "tensors.normalize"),
    )
    return StudentResult("bob", (_tensors(*normalize), _activations()), Isolation())


@pytest.fixture
def carol() -> StudentResult:
    """A penalty in one task, and a module that was not submitted."""
    tensors = _tensors()
    penalised = replace(tensors.tasks[1], penalty="forbidden call: torch.nn.functional.normalize")
    activations = AssignmentResult(
        assignment="activations", submitted=False, messages=("not submitted",),
        tasks=(TaskResult("activations.relu", 50, penalty="module not submitted"),),
    )
    return StudentResult(
        "carol", (replace(tensors, tasks=(tensors.tasks[0], penalised)), activations),
        Isolation(filesystem="private-root"), messages=("skipped big_file.bin (over 1 MiB)",),
    )


# --- JSON ---------------------------------------------------------------------------

def test_json_round_trip_gives_an_equal_result(alice, bob, carol):
    for student in (alice, bob, carol):
        text = student_to_json(student)
        back = student_from_json(text)
        assert back == student
        assert back.duration_s == student.duration_s  # not compared by ==, still kept
        assert student_to_json(back) == text


def test_json_holds_every_field_and_the_computed_values(bob):
    document = json.loads(student_to_json(bob))
    assert document["schema"] == 1
    assert set(f.name for f in fields(StudentResult)) <= document.keys()
    assert (document["points"], document["max_points"]) == (bob.points, bob.max_points)
    assert document["fraction"] == pytest.approx(bob.points / bob.max_points)
    assert document["isolation"]["level"] == "minimal"
    assert set(f.name for f in fields(Isolation)) <= document["isolation"].keys()
    assignment = document["assignments"][0]
    assert {"points", "max_points", "fraction"} <= assignment.keys()
    assert set(f.name for f in fields(AssignmentResult)) <= assignment.keys()
    task = assignment["tasks"][1]
    assert set(f.name for f in fields(TaskResult)) | {"points", "fraction"} <= task.keys()
    assert task["points"] == 20 and task["fraction"] == 0.5
    check = task["checks"][1]
    assert set(f.name for f in fields(CheckResult)) | {"passed"} <= check.keys()
    assert check["detail"] == SECRET and check["outcome"] == "failed" and check["passed"] is False


def test_json_is_deterministic_and_sorted(carol):
    text = student_to_json(carol)
    assert text == student_to_json(carol) and text.endswith("}\n")
    assert text == json.dumps(json.loads(text), sort_keys=True, indent=2) + "\n"


@pytest.mark.parametrize("text, words", [
    ("[]", "top level"),
    ('{"schema": 2}', "unsupported schema 2"),
    ('{"schema": 1, "student": "x", "assignments": [], "messages": [], "duration_s": 0}',
     "missing key 'isolation'"),
])
def test_json_reader_names_what_is_wrong(text, words):
    with pytest.raises(ValueError, match=words):
        student_from_json(text)


def test_json_reader_refuses_a_wrong_type(alice):
    document = json.loads(student_to_json(alice))
    document["assignments"][0]["submitted"] = 1
    with pytest.raises(ValueError, match="'submitted' in assignments\\[0\\] must be bool"):
        student_from_json(json.dumps(document))


# --- feedback -------------------------------------------------------------------------

def test_feedback_hides_hidden_detail_and_shows_public_detail(bob):
    for render in (student_feedback_markdown, student_feedback_html):
        text = render(bob, {})
        assert SECRET not in text and "31.4159" not in text
        assert "test_normalize_hidden_values" in text
        assert "values differ from the reference" in text
        assert "failed" in text
        assert "wrong shape; transpose?" in text
    markdown = student_feedback_markdown(bob, {"activations": True})  # another module
    assert SECRET not in markdown
    assert f"```text\n  {PUBLIC_DETAIL}\n  ```" in markdown


def test_feedback_shows_hidden_detail_when_the_module_allows(bob):
    assert SECRET in student_feedback_markdown(bob, {"tensors": True})
    assert "SECRET-INPUT" in student_feedback_html(bob, {"tensors": True})


def test_feedback_markdown_layout(bob, carol):
    text = student_feedback_markdown(bob, {})
    assert text.startswith("# Feedback for bob: 130 / 150\n")
    assert "| [tensors](#tensors) | 80 | 100 | points lost |" in text
    assert "| [activations](#activations) | 50 | 50 | full marks |" in text
    assert "| **Total** | **130** | **150** | |" in text
    assert '### <a id="tensors-to_tensor"></a>✔ `tensors.to_tensor`: 60 / 60' in text
    assert '### <a id="tensors-normalize"></a>✘ `tensors.normalize`: 20 / 40' in text
    # the summary comes first: the fix-first list and the table before any section
    assert text.index("Fix this first") < text.index("| Assignment |") < text.index("## ")
    assert "1. [tensors.normalize](#tensors-normalize), 20 points: wrong shape; transpose?" in text
    assert "Passed (2): `test_normalize_mean_zero`, `test_normalize_std_one`" in text
    assert "\\<b\\>" in text  # markup in a message stays literal
    last = text.rstrip("\n").splitlines()[-1]
    assert last.startswith("Your code ran in an isolated sandbox: isolation level minimal")

    text = student_feedback_markdown(carol, {})
    assert '## <a id="activations"></a>activations: 0 / 50 (not submitted)' in text
    assert "| [activations](#activations) | 0 | 50 | not submitted |" in text
    assert "Penalty: module not submitted" not in text   # not submitted is no penalty
    assert "- not submitted" in text
    assert "Penalty: forbidden call: torch.nn.functional.normalize" in text
    assert '### <a id="tensors-normalize"></a>✘ `tensors.normalize`: 0 / 40' in text
    assert "skipped big\\_file.bin" not in text and "skipped big_file.bin" in text


def test_feedback_html_escapes_and_loads_nothing(bob):
    page = student_feedback_html(bob, {})
    assert "&lt;b&gt;here&lt;/b&gt;" in page and "<b>here" not in page
    assert "<script" not in page and "http://" not in page and "https://" not in page
    assert f"<pre>{PUBLIC_DETAIL}</pre>" in page
    assert "Your code ran in an isolated sandbox" in page


def test_feedback_is_deterministic(alice, bob, carol):
    for student in (alice, bob, carol):
        for render in (student_feedback_markdown, student_feedback_html):
            assert render(student, {}) == render(student, {})


# --- gradebook ------------------------------------------------------------------------

def test_gradebook_columns_rows_and_values(alice, bob, carol):
    missing = StudentResult("dave, jr", (_tensors(),))
    formula = StudentResult("=HYPERLINK(\"http://x\")", (_activations(),))
    klass = ClassResult((carol, formula, bob, missing, alice), ("tensors", "activations"))
    rows = list(csv.reader(io.StringIO(gradebook_csv(klass))))
    assert rows[0] == ["student", "tensors", "activations", "total", "max_total"]
    assert rows[1:] == [
        ["'=HYPERLINK(\"http://x\")", "", "50", "50", "50"],
        ["alice", "100", "50", "150", "150"],
        ["bob", "80", "50", "130", "150"],
        ["carol", "60", "", "60", "150"],          # not submitted is not a 0 (an empty cell)
        ["dave, jr", "100", "", "100", "100"],
    ]


@pytest.mark.parametrize("student", ["=1+1", "+1", "-1", "@SUM(A1)"])
def test_gradebook_neutralises_formulas(student):
    klass = ClassResult((StudentResult(student, ()),), ())
    row = list(csv.reader(io.StringIO(gradebook_csv(klass))))[1]
    assert row[0] == "'" + student


def test_gradebook_points_have_no_float_noise():
    thirds = TaskResult("t.a", 10, (
        _check("a", "t.a"), _check("b", "t.a", Outcome.FAILED), _check("c", "t.a", Outcome.FAILED),
    ))
    half = TaskResult("t.b", 75, (_check("a", "t.b"), _check("b", "t.b", Outcome.FAILED)))
    student = StudentResult("s", (AssignmentResult("t", (thirds, half)),))
    text = gradebook_csv(ClassResult((student,), ("t",)))
    assert text == "student,t,total,max_total\ns,40.8333,40.8333,85\n"


# --- Gradescope -----------------------------------------------------------------------

def test_gradescope_schema_and_sums(bob, carol):
    for student in (bob, carol):
        document = json.loads(gradescope_results(student, {}))
        assert set(document) == {"score", "output", "tests"}
        tests = document["tests"]
        assert [t["name"] for t in tests] == [t.task for a in student.assignments for t in a.tasks]
        for test in tests:
            assert set(test) == {
                "name", "number", "score", "max_score", "status", "visibility", "output",
            }
            assert test["status"] in ("passed", "failed")
            assert test["visibility"] in ("visible", "after_published")
        assert sum(t["score"] for t in tests) == pytest.approx(document["score"])
        assert document["score"] == student.points
        assert sum(t["max_score"] for t in tests) == student.max_points


def test_gradescope_tests_follow_the_tasks(bob, carol):
    tests = json.loads(gradescope_results(bob, {}))["tests"]
    to_tensor, normalize, relu = tests
    expected = {"score": 60, "max_score": 60, "status": "passed", "number": "1.1"}
    assert to_tensor == {**to_tensor, **expected}
    assert to_tensor["visibility"] == "after_published"  # has a hidden check
    assert normalize["status"] == "failed" and normalize["score"] == 20
    assert "test_normalize_hidden_values: failed. values differ" in normalize["output"]
    assert PUBLIC_DETAIL in normalize["output"] and SECRET not in normalize["output"]
    assert relu["number"] == "2.1"
    assert SECRET in gradescope_results(bob, {"tensors": True})

    document = json.loads(gradescope_results(carol, {}))
    assert "activations (not submitted):" in document["output"]
    assert "Your code ran in an isolated sandbox: isolation level partial" in document["output"]
    penalised = document["tests"][1]
    assert penalised["score"] == 0 and penalised["status"] == "failed"
    assert penalised["output"].startswith("Penalty: forbidden call")


def test_gradescope_is_deterministic(bob):
    assert gradescope_results(bob, {}) == gradescope_results(bob, {})


# --- atomic writes and the files of a run ---------------------------------------------

def _tree(folder: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(folder)): path.read_bytes()
        for path in sorted(folder.rglob("*")) if path.is_file()
    }


def test_student_reports_are_written_and_byte_identical_twice(tmp_path, bob):
    folder = write_student_reports(bob, tmp_path, {})
    assert folder == tmp_path / "bob"
    assert sorted(os.listdir(tmp_path)) == ["bob"]  # no temporary leftovers
    assert sorted(os.listdir(folder)) == sorted(STUDENT_FILES)
    first = _tree(tmp_path)
    assert student_from_json(first["bob/report.json"].decode()) == bob
    assert SECRET in first["bob/report.json"].decode()  # for instructors only
    for name in ("feedback.md", "feedback.html", "results.json"):
        assert SECRET not in first[f"bob/{name}"].decode()
    write_student_reports(bob, tmp_path, {})
    assert _tree(tmp_path) == first
    assert sorted(os.listdir(tmp_path)) == ["bob"]


def test_a_failed_write_leaves_the_previous_folder_intact(tmp_path, bob, carol, monkeypatch):
    folder = write_student_reports(replace(bob, student="x"), tmp_path, {})
    before = _tree(folder)
    calls = []

    def failing_fsync(fd: int) -> None:
        calls.append(fd)
        if len(calls) == 2:  # the second file of the new folder
            raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(OutputError, match="No space left on device"):
        write_student_reports(replace(carol, student="x"), tmp_path, {})
    monkeypatch.undo()
    assert _tree(folder) == before
    assert sorted(os.listdir(tmp_path)) == ["x"]


def test_a_failed_swap_puts_the_old_folder_back(tmp_path, monkeypatch):
    target = tmp_path / "reports"
    replace_dir_atomically(target, {"a.txt": "old a", "b.txt": "old b"})
    real_rename = os.rename

    def rename(source, destination):
        if Path(destination) == target and ".new-" in Path(source).name:  # new into place
            raise OSError(13, "Permission denied")
        real_rename(source, destination)

    monkeypatch.setattr(os, "rename", rename)
    with pytest.raises(OSError, match="Permission denied"):
        replace_dir_atomically(target, {"a.txt": "new a"})
    monkeypatch.undo()
    assert _tree(target) == {"a.txt": b"old a", "b.txt": b"old b"}
    assert os.listdir(tmp_path) == ["reports"]


def test_replace_dir_drops_files_that_are_not_in_the_new_set(tmp_path):
    target = tmp_path / "deep" / "reports"
    replace_dir_atomically(target, {"a.txt": "1", "b.txt": "2"})
    replace_dir_atomically(target, {"b.txt": "3 ✔\n"})
    assert _tree(target) == {"b.txt": "3 ✔\n".encode()}
    assert os.listdir(target.parent) == ["reports"]


@pytest.mark.parametrize("name", ["", ".", "..", "../x", "a/b", "a..b", "a\0b"])
def test_replace_dir_refuses_names_that_are_not_plain(tmp_path, name):
    with pytest.raises(ValueError, match="plain name"):
        replace_dir_atomically(tmp_path / "reports", {"ok.txt": "", name: "x"})
    assert not (tmp_path / "reports").exists() and os.listdir(tmp_path) == []


def test_replace_dir_refuses_to_replace_a_file(tmp_path):
    (tmp_path / "reports").write_text("not a folder")
    with pytest.raises(NotADirectoryError):
        replace_dir_atomically(tmp_path / "reports", {"a.txt": ""})
    assert (tmp_path / "reports").read_text() == "not a folder"


def test_atomic_write_text_replaces_whole_or_not_at_all(tmp_path, monkeypatch):
    path = tmp_path / "gradebook.csv"
    atomic_write_text(path, "old\n")
    atomic_write_text(path, "new\r\nline\n")
    assert path.read_bytes() == b"new\r\nline\n"  # newlines written as given

    def broken_fsync(fd: int) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError, match="Input/output error"):
        atomic_write_text(path, "half")
    monkeypatch.undo()
    assert path.read_bytes() == b"new\r\nline\n"
    assert os.listdir(tmp_path) == ["gradebook.csv"]


@pytest.mark.parametrize("student", ["", ".", "..", "a/b", "a\0b"])
def test_student_reports_refuse_ids_that_are_not_folder_names(tmp_path, bob, student):
    with pytest.raises(ValueError, match="student id"):
        write_student_reports(replace(bob, student=student), tmp_path / "out", {})
    assert not (tmp_path / "out").exists()


def test_class_reports_write_the_gradebook_atomically(tmp_path, alice, bob):
    klass = ClassResult((bob, alice), ("tensors", "activations"))
    write_class_reports(klass, tmp_path / "out")
    first = (tmp_path / "out" / GRADEBOOK_FILE).read_bytes()
    write_class_reports(klass, tmp_path / "out")
    assert (tmp_path / "out" / GRADEBOOK_FILE).read_bytes() == first
    assert first.decode() == gradebook_csv(klass)
    assert GRADEBOOK_FILE in os.listdir(tmp_path / "out")
    assert not [name for name in os.listdir(tmp_path / "out") if name.startswith(".")]   # no leftovers


# --- the console summary ---------------------------------------------------------------

def _console_text(klass: ClassResult, width: int) -> str:
    from rich.console import Console

    from autograder.reports.console import print_summary

    console = Console(width=width, file=io.StringIO(), color_system=None, highlight=False)
    print_summary(klass, console)
    return console.file.getvalue()


def _six_modules(student: str, grader_error: bool = False, missing: str | None = None) -> StudentResult:
    from autograder.course import MODULES

    assignments = []
    for module in MODULES:
        outcome = Outcome.GRADER_ERROR if grader_error and module == "training" else Outcome.PASSED
        task = TaskResult(f"{module}.t", 100, (_check("c", f"{module}.t", outcome),))
        if module == missing:
            task = TaskResult(f"{module}.t", 100, (), f"{module}.py was not submitted")
        assignments.append(AssignmentResult(module, (task,), submitted=module != missing))
    return StudentResult(student, tuple(assignments))


def test_console_summary_is_readable_at_80_columns():
    from autograder.course import MODULES

    klass = ClassResult((_six_modules("a-student-with-a-rather-long-id-2026", missing="linear"),
                         _six_modules("bob", grader_error=True)), MODULES)
    text = _console_text(klass, 80)
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 80, text
    assert "…" not in text                                   # nothing cut off
    assert "Scores (2 students)" in text
    assert "columns: tens = tensors, lin = linear, act = activations" in text
    assert "n/s = not submitted (scores 0)" in text and "n/g = not graded: grader error" in text
    assert "1 result needs a regrade (grader error, see report.json): bob/training" in text
    # "not submitted" is not a zero the student earned, and a grader error is not counted
    row = next(line for line in lines if line.startswith("│ bob"))
    assert "n/g" in row and "500/500" in row
    first = next(line for line in lines if line.startswith("│ a-student"))
    assert "n/s" in first and "500/600" in first


def test_console_summary_uses_full_names_when_they_fit_and_counts_one_student():
    klass = ClassResult((StudentResult("alice", (_tensors(), _activations())),), ("tensors", "activations"))
    text = _console_text(klass, 80)
    assert "Scores (1 student)" in text and "Scores (1 students)" not in text
    assert "tensors" in text.splitlines()[2] and "columns:" not in text
    assert "150/150" in text
