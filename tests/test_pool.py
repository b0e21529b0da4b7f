"""The grading pool: zygotes start in the parent, before the data is prepared, and each
grading process adopts one (a process that replaces a dead one starts its own)."""

from __future__ import annotations

import multiprocessing
import os
import shutil
from pathlib import Path

from autograder import grading
from autograder.grading import GradeOptions, grade_submissions
from autograder.sandbox.client import Zygote

ROOT = Path(__file__).resolve().parent.parent


def test_grading_processes_adopt_the_zygotes_the_parent_started(tmp_path, monkeypatch):
    log = tmp_path / "zygotes.log"

    class LoggedZygote(Zygote):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            with open(log, "a") as f:          # appended from whichever process starts one
                f.write(f"{os.getpid()}\n")

    monkeypatch.setattr(grading, "Zygote", LoggedZygote)
    subs = tmp_path / "subs"
    for student in ("reference", "template", "partial"):
        shutil.copytree(ROOT / "examples" / "submissions" / student, subs / student)
    result = grade_submissions(subs, tmp_path / "out", GradeOptions(modules=("tensors",), workers=2))
    assert {s.student: s.points for s in result.students} == {"partial": 100.0, "reference": 100.0, "template": 0.0}
    assert log.read_text().split() == [str(os.getpid())] * 2


def test_a_replacement_process_starts_its_own_zygote(monkeypatch):
    ctx = multiprocessing.get_context("fork")
    taken = ctx.Value("i", 1)                  # the one zygote of the parent is already taken
    adopted = Zygote()
    try:
        grading._init_process(GradeOptions(modules=("tensors",), workers=1), grading.load_course(), {}, 1,
                              [adopted], taken)
        own = grading._grader.zygote
        try:
            assert own is not adopted and own.alive()
            assert taken.value == 2
            assert adopted.control.fileno() == -1      # this process's copy was released
        finally:
            own.close()
    finally:
        monkeypatch.setattr(grading, "_grader", None)
        adopted.close()
