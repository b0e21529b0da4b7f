"""The grading pool: one zygote starts in the parent, before the data is prepared, and
every grading process forks its workers from it through a channel of its own (a process
that replaces a dead one starts its own zygote); each slot
takes a core of its own when there are enough; a grading process that dies neither hangs
the batch nor costs another student a grade."""

from __future__ import annotations

import multiprocessing
import os
import shutil
import socket
from pathlib import Path

import pytest

from autograder import pipeline, pool
from autograder.config import load_course
from autograder.grading import GradeOptions, grade_submissions
from autograder.sandbox import client, zygotes
from autograder.sandbox.client import Worker, WorkerSettings, Zygote

ROOT = Path(__file__).resolve().parent.parent


def test_grading_processes_fork_from_the_one_zygote_the_parent_started(tmp_path, monkeypatch):
    log = tmp_path / "zygotes.log"

    class LoggedZygote(Zygote):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            with open(log, "a") as f:          # appended from whichever process starts one
                f.write(f"{os.getpid()}\n")

    monkeypatch.setattr(zygotes, "Zygote", LoggedZygote)     # the parent's, started by grading
    monkeypatch.setattr(pipeline, "Zygote", LoggedZygote)    # a grading process's own, if it started one
    zygotes.close_spares()                                   # no zygote of an earlier test
    subs = tmp_path / "subs"
    for student in ("reference", "template", "partial"):
        shutil.copytree(ROOT / "examples" / "submissions" / student, subs / student)
    result = grade_submissions(subs, tmp_path / "out", GradeOptions(modules=("tensors",), workers=2))
    assert {s.student: s.points for s in result.students} == {"partial": 100.0, "reference": 100.0, "template": 0.0}
    assert log.read_text().split() == [str(os.getpid())]     # one zygote for both slots


def test_when_no_channel_can_be_opened_each_grading_process_starts_its_own_zygote(tmp_path, monkeypatch):
    """The parent's zygote died before the pool could open its channels: the grades are
    the same, each grading process forking from a zygote of its own."""
    zygotes.close_spares()

    def gone(self):
        self.wait_ready()
        self.process.kill()                   # the zygote this test's run started
        self.process.wait(timeout=10)
        raise zygotes.ZygoteGone("the control connection closed")

    log = tmp_path / "spawns.log"
    spawn = zygotes.Zygote._spawn

    def logged_spawn(self):
        spawn(self)
        with open(log, "a") as f:             # appended from whichever process starts one
            f.write(f"{os.getpid()}\n")

    monkeypatch.setattr(zygotes.Zygote, "channel", gone)
    monkeypatch.setattr(zygotes.Zygote, "_spawn", logged_spawn)
    subs = _class(tmp_path, {"reference": "reference", "template": "template", "partial": "partial"})
    result = grade_submissions(subs, tmp_path / "out", GradeOptions(modules=("tensors",), workers=2))
    assert {s.student: s.points for s in result.students} == {"partial": 100.0, "reference": 100.0, "template": 0.0}
    assert result.run.grader_errors == ()
    spawned = log.read_text().split()
    assert spawned[0] == str(os.getpid()) and len(spawned) == 3
    assert len(set(spawned[1:]) - {str(os.getpid())}) == 2    # one new zygote in each grading process
    assert zygotes._SPARES == []              # the dead one is not kept for a later run


def test_a_later_run_in_the_same_process_reuses_the_idle_zygotes(tmp_path, monkeypatch):
    """The zygotes of a run that went as planned fork the next run's workers; one that
    died while idle is replaced by a new one, and the grades are the same."""
    zygotes.close_spares()
    started = []

    class CountedZygote(Zygote):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            started.append(self)

    monkeypatch.setattr(zygotes, "Zygote", CountedZygote)
    subs = tmp_path / "subs"
    for student in ("reference", "template", "partial"):
        shutil.copytree(ROOT / "examples" / "submissions" / student, subs / student)
    grades = {"partial": 100.0, "reference": 100.0, "template": 0.0}
    for run, workers in enumerate((2, 1, 2)):
        result = grade_submissions(subs, tmp_path / f"out{run}", GradeOptions(modules=("tensors",), workers=workers))
        assert {s.student: s.points for s in result.students} == grades
    assert len(started) == 1                     # one zygote served every run, -j 1 and -j 2
    assert all(z.alive() for z in zygotes._SPARES) and zygotes._SPARES == started
    started[0].process.kill()                    # a zygote this test started, dead while idle
    started[0].process.wait(timeout=10)
    result = grade_submissions(subs, tmp_path / "out3", GradeOptions(modules=("tensors",), workers=2))
    assert {s.student: s.points for s in result.students} == grades
    assert len(started) == 2 and not started[0].alive()
    zygotes.close_spares()
    assert not any(z.alive() for z in started)


class _FakeZygote:
    """Stands in for a zygote in zygotes_for/retire (no process)."""

    def __init__(self, optimizers=True, torchvision=True):
        self.optimizers, self.torchvision, self.failure, self.closed = optimizers, torchvision, None, False
        self.control, self.peer = socket.socketpair()

    def alive(self):
        return not self.closed

    def close(self):
        self.closed = True


def test_a_spare_is_taken_only_when_it_preloaded_what_the_run_needs(monkeypatch):
    monkeypatch.setattr(zygotes, "Zygote", _FakeZygote)
    monkeypatch.setattr(zygotes, "_SPARES", [])
    lean, full = _FakeZygote(optimizers=False), _FakeZygote(optimizers=True)
    zygotes.retire([lean, full], reusable=True)
    got = zygotes.zygotes_for(2, optimizers=True)          # training: only the full one will do
    assert got[0] is full and got[1] not in (lean, full) and got[1].optimizers
    assert zygotes._SPARES == [lean]
    assert zygotes.zygotes_for(1, optimizers=False) == [lean]


def test_a_spare_without_torchvision_serves_only_a_run_that_needs_none(monkeypatch):
    monkeypatch.setattr(zygotes, "Zygote", _FakeZygote)
    monkeypatch.setattr(zygotes, "_SPARES", [])
    plain = _FakeZygote(torchvision=False)
    zygotes.retire([plain], reusable=True)
    got = zygotes.zygotes_for(1, torchvision=True)         # mnist_cnn is graded: a new one
    assert got[0] is not plain and got[0].torchvision and zygotes._SPARES == [plain]
    assert zygotes.zygotes_for(1, torchvision=False) == [plain]


def test_a_spare_with_an_unread_reply_or_after_a_failed_run_is_closed(monkeypatch):
    monkeypatch.setattr(zygotes, "Zygote", _FakeZygote)
    monkeypatch.setattr(zygotes, "_SPARES", [])
    stale, kept, failed = _FakeZygote(), _FakeZygote(), _FakeZygote()
    zygotes.retire([stale, kept], reusable=True)
    zygotes.retire([failed], reusable=False)                # a grading process died: not kept
    assert failed.closed and zygotes._SPARES == [stale, kept]
    stale.peer.sendall(b'{"pid": 123}\n')                  # a reply nobody read
    got = zygotes.zygotes_for(2, optimizers=False)
    assert stale.closed and got[0] is kept and got[1] not in (stale, kept)


def test_a_replacement_process_starts_its_own_zygote(monkeypatch):
    ctx = multiprocessing.get_context("fork")
    taken = ctx.Value("i", 1)                  # the one zygote of the parent is already taken
    adopted = Zygote()
    try:
        pool._init_process(GradeOptions(modules=("tensors",), workers=1), load_course(), {}, 1,
                           [adopted], None, taken)
        own = pool._grader.zygote
        try:
            assert own is not adopted and own.alive()
            assert taken.value == 2
            assert adopted.control.fileno() == -1      # this process's copy was released
        finally:
            own.close()
    finally:
        monkeypatch.setattr(pool, "_grader", None)
        adopted.close()


def _class(tmp_path: Path, students: dict[str, str]) -> Path:
    subs = tmp_path / "subs"
    for name, example in students.items():
        shutil.copytree(ROOT / "examples" / "submissions" / example, subs / name)
    return subs


def test_a_grading_process_that_dies_neither_hangs_the_batch_nor_costs_others(tmp_path, monkeypatch):
    """The grading process dies on one student, every time: that student gets the
    'grader failed' report, every other student the report they would have had."""
    original = pipeline.Grader.grade

    def grade(self, submission, modules=None):
        if submission.student == "crasher":
            os._exit(3)                 # in the forked grading process only
        return original(self, submission, modules)

    monkeypatch.setattr(pipeline.Grader, "grade", grade)
    subs = _class(tmp_path, {"crasher": "reference", "alice": "reference", "bob": "template", "carol": "partial"})
    result = grade_submissions(subs, tmp_path / "out", GradeOptions(modules=("tensors",), workers=2))
    points = {s.student: s.points for s in result.students}
    assert points == {"alice": 100.0, "bob": 0.0, "carol": 100.0, "crasher": 0.0}
    crasher = {s.student: s for s in result.students}["crasher"]
    assert "your instructor will regrade it" in " ".join(crasher.messages)
    assert not crasher.graded and result.run.grader_errors == (("crasher", "tensors"),)
    assert crasher.isolation.level == "minimal"      # nothing is claimed for a process that died
    report = (tmp_path / "out" / "crasher" / "report.json").read_text()
    assert "grading process died" in report
    assert (tmp_path / "out" / "gradebook.csv").read_text().count("\n") == 5


def test_students_caught_in_a_dying_pool_are_graded_again(tmp_path, monkeypatch):
    """The grading process dies once (not the student's fault): everyone still gets a grade."""
    flag = tmp_path / "died-once"
    original = pipeline.Grader.grade

    def grade(self, submission, modules=None):
        if submission.student == "unlucky" and not flag.exists():
            flag.write_text("x")
            os._exit(3)
        return original(self, submission, modules)

    monkeypatch.setattr(pipeline.Grader, "grade", grade)
    subs = _class(tmp_path, {"unlucky": "reference", "alice": "template", "bob": "reference"})
    result = grade_submissions(subs, tmp_path / "out", GradeOptions(modules=("tensors",), workers=2))
    assert {s.student: s.points for s in result.students} == {"alice": 0.0, "bob": 100.0, "unlucky": 100.0}
    assert flag.exists()
    assert len({s.isolation for s in result.students}) == 1    # the retry ran in a sandbox like the others


def test_each_slot_gets_a_core_of_its_own_when_there_are_enough(monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {3, 1, 2})
    monkeypatch.setattr(pool, "current_cpu", lambda: 2)
    assert pool.slot_cpus(1) == [2]           # one slot: the core this process is on
    assert pool.slot_cpus(3) == [1, 2, 3]
    assert pool.slot_cpus(4) is None          # more slots than cores: nobody is pinned
    for unusable in (None, 0):                # unreadable, or a core outside the affinity
        monkeypatch.setattr(pool, "current_cpu", lambda: unusable)
        assert pool.slot_cpus(1) == [1]


def test_the_current_cpu_is_the_one_this_thread_is_pinned_to():
    before = os.sched_getaffinity(0)
    try:
        for cpu in sorted(before):
            os.sched_setaffinity(0, {cpu})
            assert pool.current_cpu() == cpu
    finally:
        os.sched_setaffinity(0, before)


def test_in_process_grading_gives_the_cores_back(tmp_path):
    """One worker grades in this process, pinned to one core while it grades; afterwards
    the process has all the cores it had before."""
    before = os.sched_getaffinity(0)
    subs = _class(tmp_path, {"alice": "template"})
    grade_submissions(subs, tmp_path / "out", GradeOptions(modules=("tensors",), workers=1))
    assert os.sched_getaffinity(0) == before


def test_a_pinned_slot_forks_workers_on_its_core(tmp_path):
    cpus = sorted(os.sched_getaffinity(0))
    (tmp_path / "submission").mkdir()
    (tmp_path / "root").mkdir()
    (tmp_path / "submission" / "tensors.py").write_text(
        "import os\ndef cores():\n    return sorted(os.sched_getaffinity(0))\n")
    before = os.sched_getaffinity(0)
    zygote = Zygote()
    try:
        zygote.wait_ready()
        pool._pin(cpus[-1], zygote)
        assert os.sched_getaffinity(0) == {cpus[-1]}
        worker = Worker(zygote, str(tmp_path / "submission"), str(tmp_path / "root"), WorkerSettings())
        try:
            worker.import_module("tensors")
            assert worker.call("tensors.cores") == [cpus[-1]]
        finally:
            worker.kill()
    finally:
        os.sched_setaffinity(0, before)
        zygote.close()


def test_when_reports_cannot_be_written_nobody_else_is_graded(tmp_path, monkeypatch):
    log = tmp_path / "graded.log"
    original = pipeline.Grader.grade

    def grade(self, submission, modules=None):
        with open(log, "a") as f:
            f.write(submission.student + "\n")
        return original(self, submission, modules)

    def on_result(result):
        raise OSError("disk full")

    monkeypatch.setattr(pipeline.Grader, "grade", grade)
    subs = _class(tmp_path, {f"s{i:02d}": "template" for i in range(12)})
    with pytest.raises(OSError, match="disk full"):
        grade_submissions(subs, tmp_path / "out", GradeOptions(modules=("tensors",), workers=2), on_result=on_result)
    assert len(log.read_text().split()) < 12


def test_the_parent_reads_notebooks_once_for_all_its_grading_processes(tmp_path, monkeypatch):
    # Importing nbformat and building its validator takes seconds: done before the
    # grading processes are forked, it is shared by all of them instead of paid by each.
    from autograder import notebook_code

    calls = []
    monkeypatch.setattr(notebook_code, "warm_up", lambda modules=(): calls.append((os.getpid(), tuple(modules))))
    subs = tmp_path / "subs"
    for student in ("notebook", "template"):
        shutil.copytree(ROOT / "examples" / "submissions" / student, subs / student)
    grade_submissions(subs, tmp_path / "out", GradeOptions(modules=("tensors", "linear"), workers=2))
    assert calls == [(os.getpid(), ("tensors",))]      # the notebook student's module, in this process

    calls.clear()
    shutil.rmtree(subs / "notebook")
    grade_submissions(subs, tmp_path / "out2", GradeOptions(modules=("tensors", "linear"), workers=2))
    assert calls == []                                 # no notebook to read
