"""Hidden inputs are a function of the run's seed, the check and the submission's content:
the same submission is graded on the same inputs, a changed one on new inputs."""

from __future__ import annotations

from pathlib import Path

from autograder.checks.plugin import GradingContext, Student, check_seed, run_checks
from autograder.config import load_course
from autograder.sandbox.client import Worker
from autograder.submissions import content_digest

CHECK = '''
import os

import pytest
from hypothesis import given, strategies as st


@pytest.mark.task("tensors.to_tensor")
@given(st.integers(min_value=0, max_value=10**12))
def test_draws(student, x):
    with open(os.environ["AUTOGRADER_TEST_DRAWS"], "a") as log:
        log.write(f"{x}\\n")
'''


def _draws(tmp_path: Path, monkeypatch, digest: str, run_seed: int = 0) -> list[str]:
    # A module name of its own per test: pytest keeps the imported check modules.
    check = tmp_path / "checks" / f"test_probe_{''.join(c for c in tmp_path.name if c.isalnum())}.py"
    check.parent.mkdir(exist_ok=True)
    check.write_text(CHECK)
    log = tmp_path / f"draws-{digest}-{run_seed}-{len(list(tmp_path.glob('draws-*')))}.txt"
    monkeypatch.setenv("AUTOGRADER_TEST_DRAWS", str(log))
    worker = Worker(None, str(tmp_path), str(tmp_path))      # never started: the check makes no call
    plugin = run_checks([check], GradingContext(configs=load_course(), seed=run_seed), Student(worker, set(), digest))
    assert [r.outcome.value for r in plugin.results] == ["passed"], plugin.collection_errors
    return log.read_text().split()


def test_the_same_submission_is_graded_on_the_same_inputs(tmp_path, monkeypatch):
    first = _draws(tmp_path, monkeypatch, "a" * 64)
    assert len(first) >= 10
    assert _draws(tmp_path, monkeypatch, "a" * 64) == first


def test_a_changed_submission_or_run_seed_draws_new_inputs(tmp_path, monkeypatch):
    first = _draws(tmp_path, monkeypatch, "a" * 64)
    changed = _draws(tmp_path, monkeypatch, "b" * 64)
    reseeded = _draws(tmp_path, monkeypatch, "a" * 64, run_seed=1)
    assert len(set(first) & set(changed)) <= 2        # hypothesis may try 0 or a bound either way
    assert len(set(first) & set(reseeded)) <= 2


def test_check_seed_depends_on_every_part():
    base = check_seed(0, "d", "test_x.py::test_y")
    assert base == check_seed(0, "d", "test_x.py::test_y")
    assert len({base, check_seed(1, "d", "test_x.py::test_y"), check_seed(0, "e", "test_x.py::test_y"),
                check_seed(0, "d", "test_x.py::test_z")}) == 4


def test_content_digest_covers_names_and_bytes(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "tensors.py").write_text("x = 1\n")
    digest = content_digest(tmp_path / "a")
    assert digest == content_digest(tmp_path / "a")
    (tmp_path / "a" / "tensors.py").write_text("x = 1\n# a comment\n")
    assert content_digest(tmp_path / "a") != digest
    (tmp_path / "a" / "tensors.py").write_text("x = 1\n")
    (tmp_path / "a" / "tensors.py").rename(tmp_path / "a" / "linear.py")
    assert content_digest(tmp_path / "a") != digest


def test_grading_seeds_each_student_with_the_digest_of_their_graded_files(tmp_path, monkeypatch):
    import shutil

    from autograder import pipeline
    from autograder.grading import GradeOptions, grade_submissions

    root = Path(__file__).resolve().parent.parent / "examples" / "submissions"
    subs = tmp_path / "subs"
    shutil.copytree(root / "reference", subs / "alice")
    shutil.copytree(root / "reference", subs / "bob")
    with open(subs / "bob" / "tensors.py", "a") as f:
        f.write("# the same code, with a comment\n")
    seen = {}
    original = pipeline.Student

    def student(worker, submitted, digest=""):
        seen[Path(worker.folder).joinpath("tensors.py").read_text().count("# the same code")] = digest
        return original(worker, submitted, digest)

    monkeypatch.setattr(pipeline, "Student", student)
    result = grade_submissions(subs, tmp_path / "out", GradeOptions(modules=("tensors",), workers=1))
    assert [s.points for s in result.students] == [100.0, 100.0]
    assert set(seen) == {0, 1} and seen[0] != seen[1] and all(len(d) == 64 for d in seen.values())
