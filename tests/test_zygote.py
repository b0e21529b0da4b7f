"""The zygote and the grader's machinery: how a worker ended is reported as it was, a
dead zygote is replaced, the grader's own failures are grader errors (never a student's
zero), and a check with a mistyped task id is a load error of its file.

Every process signalled here was started by the test itself (a zygote, a worker).
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from pathlib import Path

import pytest

from autograder.checks.plugin import GradingContext, Student, run_checks, verdict
from autograder.course import MODULES
from autograder.results import Outcome
from autograder.sandbox.client import (SandboxFault, Worker, WorkerCrash, WorkerSettings, Zygote,
                                       describe_exit)

from helpers import make_worker

PROBE = '''
import ctypes, os, signal, stat, time
def segfault():
    ctypes.string_at(0)
def exit_code(code):
    os._exit(code)
def abort():
    os.abort()
def bad_alloc():
    os.write(2, b"terminate called after throwing an instance of 'std::bad_alloc'\\n")
    os.abort()
def sleep(seconds):
    time.sleep(seconds)
    return seconds
def cores():
    return sorted(os.sched_getaffinity(0))
def forge_status():
    # Try to write a status of our own to every pipe we hold, then crash.
    for fd in range(64):
        try:
            if stat.S_ISFIFO(os.fstat(fd).st_mode):
                os.write(fd, b'{"code": 77}\\n')
        except OSError:
            pass
    ctypes.string_at(0)
'''


def _worker(zygote, tmp_path, **settings) -> Worker:
    worker = make_worker(zygote, tmp_path, PROBE, WorkerSettings(memory_bytes=1 << 30, **settings), call_timeout_s=20)
    worker.import_module("tensors")
    return worker


def _crash(worker: Worker, *call) -> str:
    worker.begin_check()
    with pytest.raises(WorkerCrash) as caught:
        worker.call(*call)
    return str(caught.value)


# -- exit statuses ----------------------------------------------------------------------
def test_each_way_a_worker_ends_is_named(zygote, tmp_path):
    worker = _worker(zygote, tmp_path)
    try:
        message = _crash(worker, "tensors.segfault")
        assert "crashed" in message and "segmentation fault" in message and "SIGSEGV" in message
        assert worker.exit_statuses[-1]["signal"] == signal.SIGSEGV
        assert worker.exit_statuses[-1]["maxrss_kb"] > 0

        message = _crash(worker, "tensors.exit_code", 3)
        assert "exited with code 3" in message and "os._exit" in message
        assert worker.exit_statuses[-1]["code"] == 3

        # A native library that reports running out of memory, then aborts (as PID 1 of
        # its namespace, abort() ends in SIGSEGV; elsewhere in SIGABRT).
        message = _crash(worker, "tensors.bad_alloc")
        assert "ran out of memory inside a native library" in message

        # The worker still serves after each crash: a fresh one, modules imported again.
        worker.begin_check()
        assert worker.call("tensors.sleep", 0) == 0
        assert worker.starts == 4
    finally:
        worker.kill()


def test_an_abort_is_named(zygote, tmp_path):
    worker = _worker(zygote, tmp_path, isolate=False)      # not PID 1: abort() is a SIGABRT
    try:
        message = _crash(worker, "tensors.abort")
        assert "SIGABRT" in message and "memory" not in message.replace("peak memory", "")
    finally:
        worker.kill()


def test_a_signal_from_outside_is_named_and_not_blamed_on_memory(zygote, tmp_path):
    worker = _worker(zygote, tmp_path)
    try:
        killer = threading.Timer(1.0, lambda: os.kill(worker.pid, signal.SIGKILL))   # our own worker
        killer.start()
        started = time.monotonic()
        message = _crash(worker, "tensors.sleep", 15)
        killer.join()
        assert time.monotonic() - started < 10
        assert "SIGKILL" in message and "not by the grader" in message
        assert "too much memory" not in message       # no out-of-memory kill was counted
        assert worker.exit_statuses[-1]["signal"] == signal.SIGKILL
    finally:
        worker.kill()


def test_student_code_cannot_forge_its_exit_status(zygote, tmp_path):
    worker = _worker(zygote, tmp_path)
    try:
        message = _crash(worker, "tensors.forge_status")
        assert "segmentation fault" in message and "code 77" not in message
    finally:
        worker.kill()


def test_the_words_follow_the_report_and_guess_nothing():
    assert "too much memory" in describe_exit({"signal": 9, "oom_kills": 1, "maxrss_kb": 3 * 2**20})
    assert "3.0 GB" in describe_exit({"signal": 9, "oom_kills": 1, "maxrss_kb": 3 * 2**20})
    unknown_kill = describe_exit({"signal": 9, "oom_kills": 0, "maxrss_kb": 2048})
    assert "SIGKILL" in unknown_kill and "memory was 2 MB" in unknown_kill and "too much" not in unknown_kill
    assert "SIGKILL" in describe_exit({"signal": 9}) and "memory" not in describe_exit({"signal": 9})
    assert "ran out of memory" in describe_exit({"signal": 6}, b"terminate called after throwing an instance "
                                                               b"of 'std::bad_alloc'\n")
    assert "out of memory" not in describe_exit({"signal": 6}, b"assertion failed\n")
    assert "SIGXCPU" in describe_exit({"signal": int(signal.SIGXCPU)})
    assert "signal 99" in describe_exit({"signal": 99}) or "(99)" in describe_exit({"signal": 99})
    assert "code 0" in describe_exit({"code": 0})
    for status in (None, {}, {"maxrss_kb": 5}):
        assert "crashed" in describe_exit(status)


# -- a dead zygote ------------------------------------------------------------------------
def test_a_dead_zygote_is_restarted_for_the_next_worker(tmp_path):
    zygote = Zygote()
    try:
        first = _worker(zygote, tmp_path / "a")
        assert first.call("tensors.sleep", 0) == 0
        old = zygote.process
        old.kill()           # the zygote this test started
        old.wait()
        # A worker forked before keeps working: it does not depend on its zygote.
        assert first.call("tensors.sleep", 0) == 0
        second = _worker(zygote, tmp_path / "b")
        assert second.call("tensors.sleep", 0) == 0
        assert zygote.restarts == 1 and zygote.process.pid != old.pid and zygote.alive()
        first.kill()
        second.kill()
    finally:
        zygote.close()


def test_channels_fork_from_one_zygote_on_the_cores_they_ask_for_and_outlive_nothing(tmp_path):
    """Every slot of a run forks its workers through a channel of its own to one zygote:
    a worker asks for its slot's core; closing a channel leaves the zygote serving the
    others; when the zygote dies, a channel's next worker comes from a new zygote of the
    channel's own; closing the first control connection ends the zygote."""
    zygote = Zygote()
    try:
        first, second = zygote.channel(), zygote.channel()
        assert first.process is second.process is zygote.process
        cpus = sorted(os.sched_getaffinity(0))
        first.cpus = (cpus[-1],)
        probe = _worker(first, tmp_path / "a")
        try:
            assert probe.call("tensors.cores") == [cpus[-1]]
        finally:
            probe.kill()
        first.close()
        assert zygote.alive()                  # a channel closed: the zygote serves the others
        other = _worker(second, tmp_path / "b")
        try:
            assert other.call("tensors.sleep", 0) == 0
            assert other.call("tensors.cores") == sorted(os.sched_getaffinity(0))   # no core asked for
        finally:
            other.kill()
        zygote.process.kill()                  # the zygote this test started
        zygote.process.wait(timeout=10)
        again = _worker(second, tmp_path / "c")
        try:
            assert again.call("tensors.sleep", 0) == 0
            assert second.restarts == 1 and second.process is not zygote.process and second.alive()
            assert second.channel_of is None   # its new zygote is its own
        finally:
            again.kill()
            second.close()
        assert not second.alive()              # closing its own zygote reaps it
    finally:
        zygote.close()
    lonely = Zygote()
    channel = lonely.channel()
    lonely.close()                             # the first connection: the zygote exits
    assert not lonely.alive()
    channel.close()


def test_a_zygote_that_cannot_restart_is_a_grader_error_fast(tmp_path, monkeypatch):
    zygote = Zygote()
    try:
        zygote.wait_ready()
        zygote.process.kill()
        zygote.process.wait()
        monkeypatch.setattr(sys, "executable", "/bin/false")    # no new zygote can start
        for name in ("submission", "root"):
            (tmp_path / name).mkdir()
        (tmp_path / "submission" / "tensors.py").write_text(PROBE)
        worker = Worker(zygote, str(tmp_path / "submission"), str(tmp_path / "root"), WorkerSettings())
        student = Student(worker, {"tensors"})
        with pytest.raises(SandboxFault) as caught:
            student.module("tensors")          # not the module's failure: nothing of it ran
        assert "could not start" in str(caught.value)
        outcome, message, detail = verdict(caught.value)
        assert outcome is Outcome.GRADER_ERROR and "not your code" in message and "zygote" in detail
        assert student.module_failures == {}
        # Every later start fails at once, without trying to start a zygote again.
        started = time.monotonic()
        other = Worker(zygote, str(tmp_path / "submission"), str(tmp_path / "root"), WorkerSettings())
        with pytest.raises(SandboxFault):
            other.call("builtins.len", [])
        assert time.monotonic() - started < 1 and zygote.restarts == 1
    finally:
        zygote.close()


def test_a_request_the_grader_cannot_send_is_a_grader_error(zygote, tmp_path):
    worker = _worker(zygote, tmp_path)
    try:
        worker.begin_check()
        with pytest.raises(SandboxFault, match="could not send a request"):
            worker.call("builtins.len", object())
        outcome, _, _ = verdict(SandboxFault("the grader could not send a request to the worker"))
        assert outcome is Outcome.GRADER_ERROR
        # The worker was not touched: the same process answers the next call.
        assert worker.call("builtins.len", [1, 2]) == 2 and worker.starts == 1
    finally:
        worker.kill()


# -- task ids -------------------------------------------------------------------------------
CHECKS = '''
import pytest

@pytest.mark.task("activations.relu")
def test_good():
    pass

@pytest.mark.task("activatons.relu")
@pytest.mark.parametrize("n", [1, 2])
def test_typo(n):
    pass

@pytest.mark.task("linear.Linear")
def test_other_module():
    pass

def test_unmarked():
    pass
'''


@pytest.fixture(autouse=True)
def _forget_check_modules(tmp_path, monkeypatch):
    """Check files written here are imported by pytest under the plain names of the real
    hidden checks (``test_tensors``): set aside a real one imported earlier in this process
    (pytest would refuse a second file of that name), and forget ours afterwards."""
    for name in [f"test_{m}" for m in MODULES if f"test_{m}" in sys.modules]:
        monkeypatch.delitem(sys.modules, name)
    yield
    for name, module in list(sys.modules.items()):
        if str(getattr(module, "__file__", "") or "").startswith(str(tmp_path)):
            del sys.modules[name]


def _run(tmp_path: Path, source: str, module: str = "activations"):
    folder = tmp_path / "checks"
    folder.mkdir()
    (folder / f"test_{module}.py").write_text(source)
    worker = Worker(None, str(tmp_path), str(tmp_path))     # never started: these checks do not use it
    return run_checks([folder / f"test_{module}.py"], GradingContext(configs={}), Student(worker, set()))


def test_a_mistyped_task_id_is_a_load_error_naming_the_check_and_the_valid_ids(tmp_path):
    plugin = _run(tmp_path, CHECKS)
    assert plugin.results == []        # none of the file's checks ran: not graded without them
    [(nodeid, text)] = plugin.collection_errors
    assert nodeid.endswith("test_activations.py")
    assert "test_typo" in text and "'activatons.relu'" in text and "did you mean 'activations.relu'" in text
    assert text.count("test_typo") == 1          # once per check, not per parameter
    assert "activations.sigmoid, activations.tanh, activations.relu" in text
    assert "test_other_module" in text and "task('linear.Linear') is not a task of activations" in text
    assert "test_unmarked" in text and "has no @pytest.mark.task" in text
    assert "test_good" not in text
    assert "test_activations.py:8" in text         # file:line of the check with the typo


def test_checks_with_valid_task_ids_run(tmp_path):
    source = "import pytest\n\n@pytest.mark.task('linear.Linear')\n@pytest.mark.parametrize('n', [1, 2])\n" \
             "def test_good(n):\n    pass\n"
    plugin = _run(tmp_path, source, "linear")
    assert plugin.collection_errors == []
    assert [(r.name, r.task, r.outcome) for r in plugin.results] == [
        ("test_good[1]", "linear.Linear", Outcome.PASSED), ("test_good[2]", "linear.Linear", Outcome.PASSED)]


def test_a_mistyped_task_id_makes_the_module_not_graded_end_to_end(tmp_path, monkeypatch):
    from autograder import pipeline
    from autograder.grading import GradeOptions, grade_submissions

    hidden = tmp_path / "hidden"
    hidden.mkdir()
    (hidden / "test_tensors.py").write_text(
        "import pytest\n\n@pytest.mark.task('tensors.to_tensr')\ndef test_x(student):\n    pass\n")
    monkeypatch.setattr(pipeline, "HIDDEN_DIR", hidden)
    (tmp_path / "subs" / "alice").mkdir(parents=True)
    (tmp_path / "subs" / "alice" / "tensors.py").write_text("X = 1\n")
    grade_submissions(tmp_path / "subs", tmp_path / "out", GradeOptions(modules=("tensors",), workers=1))
    report = json.loads((tmp_path / "out" / "alice" / "report.json").read_text())
    [assignment] = report["assignments"]
    assert assignment["graded"] is False and report["graded"] is False      # a regrade, not a zero
    checks = [c for t in assignment["tasks"] for c in t["checks"]]
    assert checks and all(c["outcome"] == "grader-error" for c in checks)
    assert "'tensors.to_tensr'" in checks[0]["detail"] and "tensors.to_tensor" in checks[0]["detail"]
