"""The proving corpus: correct variants score 100%, each planted bug loses points in
exactly its task.

``tests/corpus/<module>/<variant>.py`` is a student module; its first line says which
tasks it must lose points in::

    # expect-lost: activations.softmax, activations.log_softmax
    # expect-lost: none

and any of the next lines may say what the message of a lost task must contain (the
failed checks' messages and the task's penalty, case-insensitive)::

    # expect-message: activations.sigmoid: the gradient of sigmoid
    # expect-no-message: activations.sigmoid: overflow

All variants of a module are graded in one run of the real grader (one student folder
per variant), and each variant's report is read back.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from autograder.course import MODULES
from autograder.grading import GradeOptions, grade_submissions

CORPUS = Path(__file__).parent / "corpus"
# The grader ships the MNIST slice it grades on; AUTOGRADER_MNIST_ROOT may point elsewhere.
MNIST_ROOT = os.environ.get("AUTOGRADER_MNIST_ROOT")


def _variants() -> list[tuple[str, Path]]:
    return [(m, p) for m in MODULES if (CORPUS / m).is_dir() for p in sorted((CORPUS / m).glob("*.py"))]


def _message_rules(path: Path) -> list[tuple[bool, str, str]]:
    """(must contain?, task, text) from the ``# expect-message:`` / ``# expect-no-message:`` lines."""
    rules = []
    for line in path.read_text(encoding="utf-8").splitlines()[1:]:
        for prefix, wanted in (("# expect-message:", True), ("# expect-no-message:", False)):
            if line.startswith(prefix):
                task, _, text = line[len(prefix):].strip().partition(": ")
                rules.append((wanted, task.strip(), text.strip().lower()))
    return rules


def _selected_modules(request) -> set[str]:
    """The modules whose variants this session runs (``-k`` selects a few: grade only those)."""
    wanted = set()
    for item in request.session.items:
        spec = getattr(item, "callspec", None)
        if spec is not None and "module" in spec.params:
            wanted.add(spec.params["module"])
    return wanted or set(MODULES)


def _expected(path: Path) -> set[str]:
    first = path.read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith("# expect-lost:"), f"{path} must start with '# expect-lost: ...'"
    value = first.split(":", 1)[1].strip()
    return set() if value == "none" else {v.strip() for v in value.split(",")}


@pytest.fixture(scope="module")
def graded(tmp_path_factory, request) -> dict[str, dict]:
    """Grade every variant of every module once; {student id: report.json}."""
    root = tmp_path_factory.mktemp("corpus")
    subs, out = root / "submissions", root / "out"
    modules = set()
    selected = _selected_modules(request)
    for module, path in _variants():
        if module not in selected:
            continue
        student = subs / f"{module}--{path.stem}"
        student.mkdir(parents=True)
        shutil.copy(path, student / f"{module}.py")
        modules.add(module)
    options = GradeOptions(modules=tuple(m for m in MODULES if m in modules), workers=2,
                           mnist_root=Path(MNIST_ROOT) if MNIST_ROOT else None)
    grade_submissions(subs, out, options)
    return {p.name: json.loads((p / "report.json").read_text()) for p in out.iterdir() if p.is_dir()}


@pytest.mark.parametrize("module,path", _variants(), ids=[f"{m}/{p.stem}" for m, p in _variants()])
def test_variant_loses_points_in_exactly_its_tasks(graded, module, path):
    report = graded[f"{module}--{path.stem}"]
    assignment = next(a for a in report["assignments"] if a["assignment"] == module)
    lost = {t["task"] for t in assignment["tasks"] if t["points"] < t["max_points"]}
    why = {t["task"]: [t.get("penalty")] + [c["message"] for c in t["checks"] if c["outcome"] != "passed"]
           for t in assignment["tasks"] if t["task"] in lost ^ _expected(path)}
    assert lost == _expected(path), f"unexpected: {why}"
    for wanted, task_id, text in _message_rules(path):
        task = next(t for t in assignment["tasks"] if t["task"] == task_id)
        said = "\n".join([task.get("penalty") or ""] +
                          [c["message"] for c in task["checks"] if c["outcome"] != "passed"]).lower()
        assert (text in said) == wanted, \
            f"{task_id}: the message should{'' if wanted else ' not'} contain {text!r}; it is:\n{said}"
