"""Release: stubs, public checks and source notebooks generated from solutions/ +
assignments/ — deterministic, fresh, and all-or-nothing on bad input."""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from autograder.course import ASSIGNMENTS, TASK_IDS
from autograder.release import plan_release, stale_files

ROOT = Path(__file__).resolve().parent.parent
CLI = [sys.executable, "-m", "autograder.cli"]


def test_committed_release_is_fresh():
    stale = stale_files(plan_release(ROOT), ROOT)
    assert stale == [], f"run `autograder release`: stale generated files {stale}"


def test_release_is_deterministic():
    assert plan_release(ROOT).files == plan_release(ROOT).files


def _load_stub(module: str):
    spec = importlib.util.spec_from_file_location(f"stub_{module}", ROOT / "student_template" / f"{module}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _dummy_args(func) -> list:
    params = [p for p in inspect.signature(func).parameters.values()
              if p.default is inspect.Parameter.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return [None] * len(params)


@pytest.mark.parametrize("assignment", ASSIGNMENTS, ids=lambda a: a.module)
def test_every_task_has_a_stub_that_raises_naming_its_task(assignment):
    stub = _load_stub(assignment.module)
    graded = {t for t in assignment.task_ids if t != "mnist_cnn.accuracy_threshold"}
    for task in sorted(graded):
        name = task.split(".", 1)[1]
        target = getattr(stub, name)
        args = [3, 4] if inspect.isclass(target) and name == "Linear" else (
            [] if inspect.isclass(target) else _dummy_args(target))
        with pytest.raises(NotImplementedError, match=re.escape(task)):
            target(*args)


@pytest.mark.parametrize("assignment", ASSIGNMENTS, ids=lambda a: a.module)
def test_stubs_keep_signatures_and_docstrings(assignment):
    stub = _load_stub(assignment.module)
    spec = importlib.util.spec_from_file_location(f"sol_{assignment.module}", ROOT / "solutions" / f"{assignment.module}.py")
    solution = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(solution)
    for name in solution.__all__:
        ours, theirs = getattr(stub, name), getattr(solution, name)
        assert inspect.getdoc(ours) == inspect.getdoc(theirs)
        if inspect.isfunction(theirs):
            assert str(inspect.signature(ours)) == str(inspect.signature(theirs))
    assert "### BEGIN SOLUTION" not in (ROOT / "student_template" / f"{assignment.module}.py").read_text()


@pytest.mark.parametrize("assignment", ASSIGNMENTS, ids=lambda a: a.module)
def test_source_notebooks_are_valid_with_nbgrader_metadata(assignment):
    path = ROOT / "assignments" / assignment.folder / f"{assignment.module}.ipynb"
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    ids = []
    solved = set()
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader")
        assert meta is not None, "every cell carries nbgrader metadata"
        assert meta["schema_version"] == 3
        assert re.fullmatch(r"[A-Za-z0-9_\-]+", meta["grade_id"])
        ids.append(meta["grade_id"])
        if meta["solution"]:
            assert cell.cell_type == "code" and not meta["locked"]
            assert "### BEGIN SOLUTION" in cell.source and "### END SOLUTION" in cell.source
            solved.add(meta["grade_id"])
        else:
            assert meta["locked"] or meta["grade"]
        if meta["grade"]:
            assert cell.cell_type == "code" and meta["points"] >= 0
    assert len(ids) == len(set(ids)), "grade ids are unique"
    tasks = {t.split(".", 1)[1] for t in assignment.task_ids} - {"accuracy_threshold"}
    assert {f"{assignment.module}-{t}" for t in tasks} <= solved


def test_every_handout_task_has_a_reference_and_a_config_entry():
    from autograder.config import load_course

    configs = load_course(ROOT)
    assert {c.task_id for cfg in configs.values() for c in cfg.tasks.values()} == TASK_IDS
    for assignment in ASSIGNMENTS:
        source = (ROOT / "solutions" / f"{assignment.module}.py").read_text()
        for task in assignment.task_ids:
            name = task.split(".", 1)[1]
            if name != "accuracy_threshold":
                assert re.search(rf"^(def|class) {name}\b", source, re.M), task


# -- bad input: nothing written ------------------------------------------------------
def _project_copy(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    for folder in ("solutions", "assignments", "student_template"):
        shutil.copytree(ROOT / folder, root / folder, ignore=shutil.ignore_patterns("__pycache__"))
    return root


def _tree_hash(root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        if path.is_file():
            digest.update(str(path.relative_to(root)).encode() + path.read_bytes())
    return digest.hexdigest()


def _release(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run(CLI + ["release", "--root", str(root)], capture_output=True, text=True)


@pytest.mark.parametrize("mangle,line_hint", [
    (lambda s: s[::-1].replace("### END SOLUTION"[::-1], "", 1)[::-1], "never closed"),
    (lambda s: s.replace("### BEGIN SOLUTION", "### BEGIN SOLUTION\n    ### BEGIN SOLUTION", 1), "cannot nest"),
    (lambda s: s.replace('"""\n\nfrom __future__', '"""\n### END SOLUTION\n\nfrom __future__', 1), "without a matching"),
])
def test_bad_markers_stop_release_naming_file_and_line(tmp_path, mangle, line_hint):
    root = _project_copy(tmp_path)
    target = root / "solutions" / "linear.py"
    target.write_text(mangle(target.read_text()))
    (root / "student_template" / "linear.py").write_text("# stale on purpose\n")
    before = _tree_hash(root)
    result = _release(root)
    assert result.returncode == 2
    assert re.search(r"solutions/linear\.py:\d+", result.stderr), result.stderr
    assert line_hint in result.stderr
    assert _tree_hash(root) == before, "release wrote files despite the error"


@pytest.mark.parametrize("edit,expect", [
    (lambda s: s.replace("[assignment]", "[assignment]\ncolour = 'red'", 1), "assignment.colour"),
    (lambda s: re.sub(r"points = \d+", "points = 'ten'", s, count=1), "points"),
    (lambda s: s.replace("call_timeout_s = ", "call_timeout_s = true #", 1), "call_timeout_s"),
])
def test_bad_config_names_key_and_file(tmp_path, edit, expect):
    root = _project_copy(tmp_path)
    config = root / "assignments" / "02_linear" / "config.toml"
    config.write_text(edit(config.read_text()))
    before = _tree_hash(root)
    result = _release(root)
    assert result.returncode == 2
    assert expect in result.stderr and "config.toml" in result.stderr, result.stderr
    assert _tree_hash(root) == before


def test_release_regenerates_a_deleted_stub(tmp_path):
    root = _project_copy(tmp_path)
    (root / "student_template" / "tensors.py").unlink()
    assert _release(root).returncode == 0
    assert (root / "student_template" / "tensors.py").read_text() == (ROOT / "student_template" / "tensors.py").read_text()
    check = subprocess.run(CLI + ["release", "--check", "--root", str(root)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
