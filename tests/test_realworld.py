"""The real-world corpus: correct solutions written the way students actually write them
all score 100%.

``tests/corpus/realworld/<student>/`` holds one student's submission: any of
``tensors.py`` ... ``devices.py`` (or the same module as a ``.ipynb`` notebook), each
written in the style of public code students learn from (pytorch/examples, d2l.ai,
CS231n, the official tutorials, Lightning, minitorch, fast.ai, Karpathy's code, NumPy-first
code, defensive code with validation and self-tests, Colab notebooks with magics and
top-level training loops). Every file is correct per the handout
(``../shared/spec/handout.md``), so every task of every submitted module must get full
marks; a lost point is a grader fault (see ``/work/notes/realworld-findings.md``), never a
reason to change the corpus unless the solution really is wrong.

The whole folder is graded in one run of the real grader, one student folder per
real-world student, and the results are read from the returned ``ClassResult``.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from autograder.course import MODULES
from autograder.grading import GradeOptions, grade_submissions

REALWORLD = Path(__file__).parent / "corpus" / "realworld"
# mnist_cnn is graded on the MNIST slice shipped with the grader unless this names a root
MNIST_ROOT = os.environ.get("AUTOGRADER_MNIST_ROOT") or None
MIN_STUDENTS = 8
MIN_AUTHORS_PER_MODULE = 5


def _submitted(student: Path) -> dict[str, Path]:
    """{module: file} for the modules this student hands in (a .py or a .ipynb)."""
    files: dict[str, Path] = {}
    for module in MODULES:
        found = [p for p in (student / f"{module}.py", student / f"{module}.ipynb") if p.is_file()]
        assert len(found) <= 1, f"{student.name} hands in {module} twice: {[p.name for p in found]}"
        if found:
            files[module] = found[0]
    return files


def _students() -> list[Path]:
    return sorted(p for p in REALWORLD.iterdir() if p.is_dir() and not p.name.startswith((".", "_")))


def _cases() -> list[tuple[str, str, Path]]:
    return [(s.name, m, f) for s in _students() for m, f in _submitted(s).items()]


def test_the_corpus_is_broad_enough():
    """At least 8 students, each module written by at least 5 of them, no stray files."""
    students = _students()
    assert len(students) >= MIN_STUDENTS, f"only {len(students)} real-world students"
    authors = {m: [s.name for s in students if m in _submitted(s)] for m in MODULES}
    thin = {m: names for m, names in authors.items() if len(names) < MIN_AUTHORS_PER_MODULE}
    assert not thin, f"modules written by fewer than {MIN_AUTHORS_PER_MODULE} students: {thin}"
    known = {f"{m}.{ext}" for m in MODULES for ext in ("py", "ipynb")}
    stray = [f"{s.name}/{p.name}" for s in students for p in s.iterdir() if p.name not in known]
    assert not stray, f"files the grader would not grade: {stray}"


@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> dict[str, object]:
    """Grade every real-world student once; {student id: StudentResult}."""
    root = tmp_path_factory.mktemp("realworld")
    subs, out = root / "submissions", root / "out"
    modules: set[str] = set()
    for student in _students():
        files = _submitted(student)
        (subs / student.name).mkdir(parents=True)
        for module, path in files.items():
            shutil.copy(path, subs / student.name / path.name)
            modules.add(module)
    options = GradeOptions(modules=tuple(m for m in MODULES if m in modules), workers=2,
                           mnist_root=Path(MNIST_ROOT) if MNIST_ROOT else None)
    result = grade_submissions(subs, out, options)
    return {s.student: s for s in result.students}


def _lost_points(assignment) -> list[str]:
    """One line per task below full marks: the task, its penalty, each failed check and its message."""
    lines = []
    for task in assignment.tasks:
        if task.points >= task.max_points:
            continue
        lines.append(f"{task.task}: {task.points:g}/{task.max_points:g}"
                     + (f" (penalty: {task.penalty})" if task.penalty else ""))
        for check in task.checks:
            if check.outcome.value != "passed":
                lines.append(f"    {check.name} [{check.outcome.value}]: {check.message}")
    return lines


@pytest.mark.parametrize("student,module,path", _cases(), ids=[f"{s}/{p.name}" for s, _, p in _cases()])
def test_correct_real_world_solution_scores_full_marks(graded, student, module, path):
    assignment = next(a for a in graded[student].assignments if a.assignment == module)
    assert assignment.submitted, f"{student}/{path.name} was not found by the grader: {assignment.messages}"
    assert assignment.source == path.name, f"graded {assignment.source}, not {path.name}"
    assert assignment.tasks, f"{student}/{path.name}: no tasks graded: {assignment.messages}"
    lost = _lost_points(assignment)
    assert not lost, (f"{student}/{path.name} is correct per the handout but lost points "
                      f"(a grader fault: note it in /work/notes/realworld-findings.md):\n" + "\n".join(lost)
                      + ("\nmodule messages: " + " | ".join(assignment.messages) if assignment.messages else ""))
