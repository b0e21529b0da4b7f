"""Grading the same folder twice gives the same reports, byte for byte apart from timings."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

from autograder.grading import GradeOptions, grade_submissions
from helpers import report_without_timings

ROOT = Path(__file__).resolve().parent.parent


def test_two_gradings_give_identical_reports(tmp_path):
    subs = tmp_path / "subs"
    for student in ("reference", "partial"):
        shutil.copytree(ROOT / "examples" / "submissions" / student, subs / student)
    options = GradeOptions(modules=("tensors", "linear", "activations"), workers=2)
    first, second = tmp_path / "first", tmp_path / "second"
    grade_submissions(subs, first, options)
    grade_submissions(subs, second, options)
    assert (first / "gradebook.csv").read_bytes() == (second / "gradebook.csv").read_bytes()
    for student in ("reference", "partial"):
        for name in ("feedback.md", "feedback.html", "results.json"):
            assert (first / student / name).read_bytes() == (second / student / name).read_bytes(), name
        assert report_without_timings(first / student / "report.json") == \
            report_without_timings(second / student / "report.json")


def test_regrading_replaces_a_report_completely(tmp_path):
    subs = tmp_path / "subs"
    shutil.copytree(ROOT / "examples" / "submissions" / "partial", subs / "partial")
    out = tmp_path / "out"
    grade_submissions(subs, out, GradeOptions(modules=("tensors",), workers=1))
    (out / "partial" / "stale.txt").write_text("left from an earlier run")
    grade_submissions(subs, out, GradeOptions(modules=("tensors",), workers=1))
    assert sorted(p.name for p in (out / "partial").iterdir()) == \
        ["feedback.html", "feedback.md", "report.json", "results.json"]
    assert not [p for p in out.iterdir() if p.name.startswith(".")]


def test_one_and_two_workers_give_identical_reports(tmp_path):
    """The number of workers (and so each worker's PyTorch thread count) changes no report."""
    subs = tmp_path / "subs"
    for student in ("reference", "partial", "template"):
        shutil.copytree(ROOT / "examples" / "submissions" / student, subs / student)
    options = GradeOptions(modules=("tensors", "linear", "training"))
    one, two = tmp_path / "one", tmp_path / "two"
    grade_submissions(subs, one, replace(options, workers=1))
    grade_submissions(subs, two, replace(options, workers=2))
    assert (one / "gradebook.csv").read_bytes() == (two / "gradebook.csv").read_bytes()
    for student in ("reference", "partial", "template"):
        assert report_without_timings(one / student / "report.json") == \
            report_without_timings(two / student / "report.json"), student
