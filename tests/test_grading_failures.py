"""A failure of the grader itself on one submission never stops the batch."""

from __future__ import annotations

import json

import pytest

from autograder import pipeline
from autograder.grading import GradeOptions, grade_submissions


def test_a_grader_bug_gives_a_zero_report_that_says_so(tmp_path, monkeypatch):
    for student in ("alice", "bob"):
        (tmp_path / "subs" / student).mkdir(parents=True)
        (tmp_path / "subs" / student / "tensors.py").write_text("X = 1\n")
    original = pipeline.Grader._grade

    def flaky(self, submission, modules, scratch, started):
        if submission.student == "alice":
            raise RuntimeError("a bug in the grader")
        return original(self, submission, modules, scratch, started)

    monkeypatch.setattr(pipeline.Grader, "_grade", flaky)
    result = grade_submissions(tmp_path / "subs", tmp_path / "out", GradeOptions(modules=("tensors",), workers=1))
    assert [s.student for s in result.students] == ["alice", "bob"]
    alice = json.loads((tmp_path / "out" / "alice" / "report.json").read_text())
    assert alice["points"] == 0 and "grader failed" in " ".join(alice["messages"])
    assert alice["graded"] is False and alice["assignments"][0]["graded"] is False   # not a grade: a regrade
    assert result.run.grader_errors == (("alice", "tensors"),)
    detail = alice["assignments"][0]["tasks"][0]["checks"][0]["detail"]
    assert "a bug in the grader" in detail
    assert (tmp_path / "out" / "bob" / "report.json").exists()


@pytest.mark.parametrize("workers", [1, 2])
def test_a_zygote_that_cannot_start_is_a_grader_failure_for_everyone_not_a_crash(tmp_path, monkeypatch, workers):
    """No worker can start: every student gets the 'grader failed' report (not a grade,
    regraded later), and the run finishes with its reports and gradebook."""
    from autograder.sandbox import zygotes

    zygotes.close_spares()                                   # no idle zygote of an earlier test
    monkeypatch.setattr(zygotes.sys, "executable", "/bin/false")   # the zygote's interpreter exits at once
    for student in ("alice", "bob"):
        (tmp_path / "subs" / student).mkdir(parents=True)
        (tmp_path / "subs" / student / "tensors.py").write_text("X = 1\n")
    result = grade_submissions(tmp_path / "subs", tmp_path / "out",
                               GradeOptions(modules=("tensors",), workers=workers))
    assert result.run.grader_errors == (("alice", "tensors"), ("bob", "tensors"))
    for student in ("alice", "bob"):
        report = json.loads((tmp_path / "out" / student / "report.json").read_text())
        assert report["graded"] is False and "your instructor will regrade it" in " ".join(report["messages"])
        assert "zygote failed to start" in report["assignments"][0]["tasks"][0]["checks"][0]["detail"]
    assert (tmp_path / "out" / "gradebook.csv").read_text().count("\n") == 3
