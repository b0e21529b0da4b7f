"""The proving corpus: the reference and the correct variants score 100%, each planted
bug loses points in exactly its task, and loses them the way its description says.

``tests/corpus/<module>/<variant>.py`` is a student module; its first line says which
tasks it must lose points in::

    # expect-lost: activations.softmax, activations.log_softmax
    # expect-lost: none

Any of the next lines may say how a lost task loses its points (its *outcome*); a lost
task without such a line must lose them through failed checks only::

    # expect-outcome: linear.linear_forward: error
    # expect-outcome: activations.softmax: penalty

The outcomes a line may name (one or more, comma-separated: every way the task lost
must be one of them, and at least one must happen):

- ``failed``: a check's verdict, the code gave a wrong answer (``Outcome.FAILED``);
- ``error``: the student's code raised or crashed (``Outcome.ERROR``, for a bug whose
  symptom is an exception: ``next()`` of no parameters, ``numpy()`` of a tensor that
  requires grad);
- ``timeout``: the student's code did not finish within its time limit (an
  ``Outcome.ERROR`` whose message says so); only for a bug that is a hang, so that a
  wrong answer that times out on a loaded machine is caught rather than counted;
- ``penalty``: the task is zeroed as a whole (a forbidden call), whatever its checks did.

A grader error (``Outcome.GRADER_ERROR``) is never a way to lose points: it is not a
grade, and no variant of the corpus may meet one anywhere in its report.

Lines may also say what the message of a lost task must contain (the failed checks'
messages and the task's penalty, case-insensitive)::

    # expect-message: activations.sigmoid: the gradient of sigmoid
    # expect-no-message: activations.sigmoid: overflow

All variants of a module, and the module's reference solution (``solutions/``, graded
as the student ``<module>--reference-solution``), are graded in one run of the real grader (one
student folder per variant), and each variant's report is read back.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from autograder.course import MODULES
from helpers import CORPUS, CORPUS_REFERENCE, corpus_variants, graded_corpus

REFERENCE = CORPUS_REFERENCE        # the student id suffix of a module's solution (solutions/)

OUTCOMES = ("failed", "error", "timeout", "penalty")
# How a time limit reads in a check's message (the per-call limit, the submission's budget).
_TIME_LIMIT = re.compile(r"did not finish within|time budget for this submission is used up", re.IGNORECASE)


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def _message_rules(path: Path) -> list[tuple[bool, str, str]]:
    """(must contain?, task, text) from the ``# expect-message:`` / ``# expect-no-message:`` lines."""
    rules = []
    for line in _lines(path)[1:]:
        for prefix, wanted in (("# expect-message:", True), ("# expect-no-message:", False)):
            if line.startswith(prefix):
                task, _, text = line[len(prefix):].strip().partition(": ")
                rules.append((wanted, task.strip(), text.strip().lower()))
    return rules


def _expected(path: Path) -> set[str]:
    first = _lines(path)[0]
    assert first.startswith("# expect-lost:"), f"{path} must start with '# expect-lost: ...'"
    value = first.split(":", 1)[1].strip()
    return set() if value == "none" else {v.strip() for v in value.split(",")}


def _expected_outcomes(path: Path) -> dict[str, set[str]]:
    """{lost task: the outcomes it may lose its points by}, ``{"failed"}`` unless a line says."""
    lost = _expected(path)
    outcomes = {task: {"failed"} for task in lost}
    for number, line in enumerate(_lines(path)[1:], start=2):
        if not line.startswith("# expect-outcome:"):
            continue
        task, _, names = line[len("# expect-outcome:"):].strip().partition(":")
        task, kinds = task.strip(), {n.strip() for n in names.split(",") if n.strip()}
        where = f"{path}:{number}"
        assert task in lost, f"{where}: {task!r} is not one of the tasks of '# expect-lost:' ({sorted(lost)})"
        assert kinds and kinds <= set(OUTCOMES), \
            f"{where}: write '# expect-outcome: TASK: OUTCOME[, OUTCOME]' with outcomes from {OUTCOMES}"
        outcomes[task] = kinds
    return outcomes


def _kind(check: dict) -> str:
    """How one check that did not pass went: its outcome, a time limit told apart from
    the other errors (``grader-error`` stays itself: never an expected outcome)."""
    if check["outcome"] == "error" and _TIME_LIMIT.search(check["message"]):
        return "timeout"
    return check["outcome"]


def _how_lost(task: dict) -> set[str]:
    """Every way a task lost points: the kinds of its checks that did not pass, and a penalty."""
    kinds = {_kind(c) for c in task["checks"] if c["outcome"] != "passed"}
    return kinds | ({"penalty"} if task.get("penalty") else set())


def _grader_errors(report: dict) -> list[str]:
    return [f"{t['task']}: {c['name']}: {c.get('detail') or c['message']}"[:2000]
            for a in report["assignments"] for t in a["tasks"] for c in t["checks"]
            if c["outcome"] == "grader-error"]


def _selected_modules(request) -> set[str]:
    """The modules whose variants this session runs (``-k`` selects a few: grade only those)."""
    wanted = set()
    for item in request.session.items:
        spec = getattr(item, "callspec", None)
        if spec is not None and "module" in spec.params:
            wanted.add(spec.params["module"])
    return wanted or set(MODULES)


@pytest.fixture(scope="module")
def graded(tmp_path_factory, request) -> dict[str, dict]:
    """Grade every variant and the reference of every selected module once; {student id: report.json}."""
    out = graded_corpus(tmp_path_factory, _selected_modules(request))
    return {p.name: json.loads((p / "report.json").read_text()) for p in out.iterdir() if p.is_dir()}


def _assignment(report: dict, module: str) -> dict:
    return next(a for a in report["assignments"] if a["assignment"] == module)


@pytest.mark.parametrize("module", [m for m in MODULES if (CORPUS / m).is_dir()])
def test_the_reference_scores_full_marks_by_passing_every_check(graded, module):
    report = graded[f"{module}--{REFERENCE}"]
    assert _grader_errors(report) == []
    assignment = _assignment(report, module)
    assert assignment["submitted"] and assignment["tasks"]
    not_passed = {t["task"]: [t.get("penalty")] + [(c["name"], c["outcome"], c["message"])
                                                   for c in t["checks"] if c["outcome"] != "passed"]
                  for t in assignment["tasks"] if t["points"] < t["max_points"] or _how_lost(t)}
    assert not_passed == {}
    assert assignment["points"] == assignment["max_points"] > 0


@pytest.mark.parametrize("module,path", corpus_variants(), ids=[f"{m}/{p.stem}" for m, p in corpus_variants()])
def test_variant_loses_points_in_exactly_its_tasks(graded, module, path):
    report = graded[f"{module}--{path.stem}"]
    # Checked first: a grader error costs the task its points too, and would otherwise
    # pass for the planted bug.
    assert _grader_errors(report) == [], "a grader error is not a grade"
    assignment = _assignment(report, module)
    lost = {t["task"] for t in assignment["tasks"] if t["points"] < t["max_points"]}
    why = {t["task"]: [t.get("penalty")] + [c["message"] for c in t["checks"] if c["outcome"] != "passed"]
           for t in assignment["tasks"] if t["task"] in lost ^ _expected(path)}
    assert lost == _expected(path), f"unexpected: {why}"
    quiet = {t["task"]: sorted(_how_lost(t)) for t in assignment["tasks"]
             if t["task"] not in lost and _how_lost(t)}
    assert quiet == {}, "tasks that kept their points with checks that did not pass"
    for task_id, allowed in _expected_outcomes(path).items():
        task = next(t for t in assignment["tasks"] if t["task"] == task_id)
        how = _how_lost(task)
        seen = [(c["name"], _kind(c), c["message"][:300]) for c in task["checks"] if c["outcome"] != "passed"]
        assert how and how <= allowed, (
            f"{task_id} lost its points by {sorted(how)}, its description allows {sorted(allowed)} "
            f"('# expect-outcome:'); penalty: {task.get('penalty')!r}; checks: {seen}")
    for wanted, task_id, text in _message_rules(path):
        task = next(t for t in assignment["tasks"] if t["task"] == task_id)
        said = "\n".join([task.get("penalty") or ""] +
                          [c["message"] for c in task["checks"] if c["outcome"] != "passed"]).lower()
        assert (text in said) == wanted, \
            f"{task_id}: the message should{'' if wanted else ' not'} contain {text!r}; it is:\n{said}"


DESCRIPTION_LINES = ("# expect-lost:", "# expect-outcome:", "# expect-message:", "# expect-no-message:")


@pytest.mark.parametrize("path", [p for _, p in corpus_variants()], ids=[f"{m}/{p.stem}" for m, p in corpus_variants()])
def test_every_description_is_well_formed(path):
    """Without grading: a misspelt ``# expect-...`` line would otherwise be silently ignored."""
    lines = _lines(path)
    for number, line in enumerate(lines, start=1):
        if line.startswith("# expect"):
            assert line.startswith(DESCRIPTION_LINES), f"{path}:{number}: not one of {DESCRIPTION_LINES}"
            assert number == 1 or lines[number - 2].startswith("# expect"), \
                f"{path}:{number}: description lines come first, together"
    tasks = _expected(path)
    assert all(re.fullmatch(rf"{re.escape(path.parent.name)}\.\w+", t) for t in tasks), tasks
    _expected_outcomes(path)      # asserts each line's task and outcomes
    assert all(task in tasks for wanted, task, _ in _message_rules(path) if wanted), \
        "a '# expect-message:' names a task that is not lost"
