"""Grading on Dask (``--scheduler``): the same reports as the local pool, from a
``LocalCluster`` (``local:2``) and from a real ``dask scheduler`` with two ``dask worker``
processes on 127.0.0.1; a Dask worker killed mid-run costs nobody a grade; a submission
that kills two workers gets the "grader failed" report; an unreachable scheduler is a
clear error before anything is graded; Ctrl-C leaves nothing running.

Every process a test starts is killed by the test, by its own id."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from distributed import Client, WorkerPlugin

from autograder import cluster
from autograder.cluster import PackedSubmission, pack_submission, parse_scheduler, unpack_submission
from autograder.errors import AutograderError
from autograder.grading import GradeOptions, grade_submissions
from autograder.results import Outcome
from autograder.sandbox.procfs import stat_fields
from autograder.submissions import MAX_FILE_BYTES, copy_submission, discover
from example_class import example_class_options, graded_example_class
from helpers import alive, report_without_timings

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples" / "submissions"
VENV_BIN = Path(sys.executable).parent
FAST = ("tensors", "activations")


def comparable(path: Path) -> dict:
    """A report.json without what differs between runs: timings, and when (and in which
    run of the record) each assignment was recorded."""
    report = report_without_timings(path)
    for entry in report.get("history", []):
        entry.pop("recorded_at", None)
        entry.pop("run", None)
    return report


def reports(out: Path) -> dict[str, dict]:
    return {p.parent.name: comparable(p) for p in sorted(out.glob("*/report.json"))}


def make_class(tmp_path: Path, copies: dict[str, str] | None = None, examples: bool = True) -> Path:
    """The example students, plus ``copies`` (new student id -> example student)."""
    subs = tmp_path / "subs"
    subs.mkdir()
    if examples:
        for student in sorted(p for p in EXAMPLES.iterdir() if p.is_dir()):
            shutil.copytree(student, subs / student.name)
    for name, example in (copies or {}).items():
        shutil.copytree(EXAMPLES / example, subs / name)
    return subs


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- packing: the worker's copy equals the client's -----------------------------------------------
def _copy(submission, dest: Path) -> tuple[dict, dict, list]:
    notebooks, messages = copy_submission(submission, dest)
    files = {p.name: p.read_bytes() for p in sorted(dest.iterdir())}
    return files, notebooks, messages


def _roundtrip(tmp_path: Path, submission) -> tuple[tuple, tuple, PackedSubmission]:
    packed = pack_submission(submission)
    packed = __import__("pickle").loads(__import__("pickle").dumps(packed))     # as Dask ships it
    rebuilt = unpack_submission(packed, tmp_path / "rebuilt")
    assert (rebuilt.student, rebuilt.nbgrader) == (submission.student, submission.nbgrader)
    return _copy(submission, tmp_path / "copy-a"), _copy(rebuilt, tmp_path / "copy-b"), packed


def test_a_packed_submission_copies_like_the_original(tmp_path):
    student = tmp_path / "subs" / "alice"
    student.mkdir(parents=True)
    (student / "tensors.py").write_text("def f():\n    return 1\n")
    (student / ".hidden.py").write_text("x = 1\n")
    shutil.copy(EXAMPLES / "notebook" / "activations.ipynb", student / "activations.ipynb")
    (student / "notes.txt").write_bytes(b"x" * (3 * MAX_FILE_BYTES))     # never read: never shipped
    (student / "linear.py").symlink_to("/etc/passwd")
    (student / "extra").mkdir()
    (student / "extra" / "training.py").write_text("nested = True\n")
    (student / "__pycache__").mkdir()
    os.mkfifo(student / "devices.py")
    with open(student / "mnist_cnn.py", "wb") as f:
        f.truncate(MAX_FILE_BYTES + 10)
    original, rebuilt, packed = _roundtrip(tmp_path, discover(tmp_path / "subs")[0])
    assert rebuilt == original
    files, notebooks, messages = original
    assert set(files) == {"tensors.py"} and set(notebooks) == {"activations"}
    assert len(messages) == 4                   # the link, the folder, the FIFO, the oversized file
    assert packed.size < 100_000                # the 6 MB text file and the sparse module stayed home


def test_a_packed_nbgrader_submission_copies_like_the_original(tmp_path):
    course = tmp_path / "course"
    bob = course / "submitted" / "bob"
    (bob / "activations").mkdir(parents=True)
    shutil.copy(EXAMPLES / "notebook" / "activations.ipynb", bob / "activations" / "activations.ipynb")
    (bob / "activations" / "timestamp.txt").write_text("2026-12-01 10:00:00 UTC")
    (bob / "activations" / "helpers.py").write_text("H = 1\n")
    (bob / "activations" / "other.ipynb").write_text("{}")
    (bob / "tensors").mkdir()
    (bob / "tensors" / "tensors.py").write_text("def f():\n    return 2\n")
    (bob / "tensors" / "data").mkdir()
    (bob / "stray.ipynb").write_text("{}")
    (bob / "week1").mkdir()
    (bob / "week1" / "tensors.py").write_text("ignored = True\n")
    submission = discover(course)[0]
    assert submission.nbgrader
    original, rebuilt, packed = _roundtrip(tmp_path, submission)
    assert rebuilt == original
    files, notebooks, messages = original
    assert set(files) == {"helpers.py", "tensors.py"} and set(notebooks) == {"activations"}
    assert len(messages) == 4                  # other.ipynb, tensors/data/, stray.ipynb, week1/
    assert not any(path.startswith("week1/") for path, _, _ in packed.entries)


def test_unpacking_never_writes_outside_its_folder(tmp_path):
    evil = PackedSubmission("eve", False, (("../escaped.py", cluster.FILE, b"x = 1\n"),))
    with pytest.raises(ValueError, match="bad path"):
        unpack_submission(evil, tmp_path / "dest")
    assert not (tmp_path / "escaped.py").exists()


def test_scheduler_addresses():
    assert parse_scheduler("local:3") == 3
    assert parse_scheduler("tcp://10.0.0.5:8786") is None
    assert parse_scheduler("tls://scheduler.example.org:8786") is None
    for bad in ("local", "local:0", "local:two", "local:-1", " "):
        with pytest.raises(AutograderError, match="--scheduler"):
            parse_scheduler(bad)


# -- an unreachable scheduler -----------------------------------------------------------------------
def test_an_unreachable_scheduler_is_a_clear_error_before_anything_is_graded(tmp_path):
    subs = make_class(tmp_path, {"alice": "template"}, examples=False)
    address = f"tcp://127.0.0.1:{free_port()}"      # nothing listens there
    started = time.monotonic()
    with pytest.raises(AutograderError, match=r"cannot reach the Dask scheduler at tcp://127\.0\.0\.1:\d+"):
        cluster.grade_on_dask(discover(subs), address, GradeOptions(modules=("tensors",)), {},
                              lambda result: pytest.fail("nothing may be graded"))
    assert time.monotonic() - started < cluster.CONNECT_TIMEOUT_S + 10
    out = tmp_path / "out"
    with pytest.raises(AutograderError, match="cannot reach the Dask scheduler"):
        grade_submissions(subs, out, GradeOptions(modules=("tensors",), workers=2, scheduler=address))
    assert not out.exists()         # refused before the course record was opened


# -- local:2 and a real scheduler give the reports of -j 2 ---------------------------------------------
@pytest.fixture(scope="module")
def examples_pool() -> Path:
    """The reports of examples/submissions graded on the full course with -j 2 (the local
    pool): the suite's one grading of the example class (tests/example_class.py)."""
    return graded_example_class()


@pytest.fixture(scope="module")
def copies_pool(tmp_path_factory) -> Path:
    """A class of copies of the example students, graded on tensors and activations with -j 2."""
    tmp = tmp_path_factory.mktemp("copies")
    examples = sorted(p.name for p in EXAMPLES.iterdir() if p.is_dir())
    subs = make_class(tmp, {f"student{i:02d}": examples[i % len(examples)] for i in range(8)}, examples=False)
    grade_submissions(subs, tmp / "pool", GradeOptions(modules=FAST, workers=2))
    return tmp


def test_local_cluster_gives_the_reports_of_the_local_pool(examples_pool, tmp_path):
    """The full course (MNIST prepared on each Dask worker, notebooks), examples/submissions."""
    expected = reports(examples_pool)
    seen = []
    result = grade_submissions(make_class(tmp_path), tmp_path / "dask", example_class_options(scheduler="local:2"),
                               on_result=lambda r: seen.append(r.student))
    assert sorted(seen) == sorted(expected)              # progress: every student, as results arrived
    assert reports(tmp_path / "dask") == expected
    assert {s.student: s.points for s in result.students}["reference"] == 600.0
    assert all(s.isolation == result.students[0].isolation for s in result.students)


class DaskCluster:
    """A ``dask scheduler`` and ``dask worker`` processes on 127.0.0.1 (each in a session of
    its own, so that it and its children can be killed as one)."""

    def __init__(self, workers: int, tmp: Path):
        self.port = free_port()
        self.address = f"tcp://127.0.0.1:{self.port}"
        env = dict(os.environ, DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES="1",
                   PYTHONPATH=os.pathsep.join([str(ROOT / "tests"), os.environ.get("PYTHONPATH", "")]))
        self.logs = tmp
        self.processes: list[subprocess.Popen] = []
        self._start(["scheduler", "--host", "127.0.0.1", "--port", str(self.port), "--no-dashboard"], env, "scheduler")
        for i in range(workers):
            self._start(["worker", self.address, "--nthreads", "1", "--host", "127.0.0.1", "--no-dashboard",
                         "--local-directory", str(tmp / f"worker-{i}")], env, f"worker-{i}")
        self.client = Client(self.address, timeout=60, set_as_default=False)
        self.client.wait_for_workers(workers, timeout=180)

    def _start(self, args: list[str], env: dict, name: str) -> None:
        log = open(self.logs / f"{name}.log", "wb")
        self.processes.append(subprocess.Popen([str(VENV_BIN / "dask"), *args], env=env, stdout=log, stderr=log,
                                               start_new_session=True))
        log.close()

    def worker_pids(self) -> dict[str, int]:
        return self.client.run(os.getpid)

    def close(self) -> None:
        self.client.close()
        for process in reversed(self.processes):
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            process.wait()


@pytest.fixture(scope="module")
def dask_cluster(tmp_path_factory):
    started = DaskCluster(2, tmp_path_factory.mktemp("dask-cluster"))
    try:
        yield started
    finally:
        started.close()


def test_a_real_scheduler_gives_the_reports_of_the_local_pool(copies_pool, dask_cluster, tmp_path):
    grade_submissions(copies_pool / "subs", tmp_path / "dask",
                      GradeOptions(modules=FAST, workers=2, scheduler=dask_cluster.address))
    expected = reports(copies_pool / "pool")
    assert len(expected) == 8 and reports(tmp_path / "dask") == expected
    # The batch's grader is gone from the workers when the command is done.
    assert dask_cluster.client.run(lambda dask_worker: [n for n in dask_worker.plugins if "autograder" in n]) == \
        {address: [] for address in dask_cluster.worker_pids()}


# -- Ctrl-C ------------------------------------------------------------------------------------------------
INTERRUPTED = textwrap.dedent("""
    import signal
    import sys
    from pathlib import Path
    from autograder.grading import GradeOptions, grade_submissions

    if __name__ == "__main__":
        # As started from a terminal: a process inherits an ignored SIGINT, and a test
        # process of the suite may have had it ignored (then Ctrl-C would do nothing).
        signal.signal(signal.SIGINT, signal.default_int_handler)
        grade_submissions(Path(sys.argv[1]), Path(sys.argv[2]),
                          GradeOptions(modules=("tensors",), workers=2, scheduler="local:2"),
                          on_result=lambda r: print("graded", r.student, flush=True))
""")


def _descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int(stat_fields(entry.name, 4)[0])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def test_ctrl_c_cancels_the_rest_and_leaves_nothing_running(tmp_path):
    subs = make_class(tmp_path, {f"s{i:02d}": "template" for i in range(12)}, examples=False)
    for module in subs.glob("*/tensors.py"):
        # Each student takes a second or more: work is left when Ctrl-C comes, however fast
        # the first result arrived and however long the look at the process tree took.
        module.write_text(module.read_text() + "\nimport time\ntime.sleep(1.5)\n")
    script = tmp_path / "grade.py"
    script.write_text(INTERRUPTED)
    errors = (tmp_path / "stderr.txt").open("w")
    process = subprocess.Popen([sys.executable, str(script), str(subs), str(tmp_path / "out")],
                               stdout=subprocess.PIPE, stderr=errors, text=True, start_new_session=True)
    try:
        deadline = threading.Timer(300, process.kill)
        deadline.start()
        assert process.stdout is not None
        first = process.stdout.readline()
        assert first.startswith("graded"), "no student was graded"
        started = _descendants(process.pid)           # the cluster's workers, their zygotes, sandboxes
        assert len(started) >= 4
        os.killpg(process.pid, signal.SIGINT)         # what Ctrl-C in a terminal does
        rest = process.stdout.read()
        process.wait(timeout=120)
        deadline.cancel()
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    errors.close()
    graded = [line for line in (first + rest).splitlines() if line.startswith("graded")]
    said = f"{len(graded)} graded; its stderr ends:\n{(tmp_path / 'stderr.txt').read_text()[-3000:]}"
    assert process.returncode != 0, said
    assert len(graded) < 12, said                           # the rest of the class was not graded
    time.sleep(2)
    assert not [pid for pid in started if alive(pid)]


def test_a_worker_with_another_grader_refuses_to_grade(dask_cluster, tmp_path, monkeypatch):
    """The hidden checks or solutions installed on a worker differ from the client's: the
    batch stops with that message before anything is graded."""
    monkeypatch.setattr(cluster, "grader_fingerprint", lambda: "0" * 64)
    subs = make_class(tmp_path, {"alice": "template"}, examples=False)
    with pytest.raises(AutograderError, match="another version of the grader installed"):
        cluster.grade_on_dask(discover(subs), dask_cluster.address, GradeOptions(modules=("tensors",)),
                              {}, lambda result: pytest.fail("nothing may be graded"))
    assert dask_cluster.client.run(lambda dask_worker: [n for n in dask_worker.plugins if "autograder" in n]) == \
        {address: [] for address in dask_cluster.worker_pids()}


def test_jobs_are_graded_for_their_own_modules(dask_cluster, tmp_path):
    """The pool's job form, (submission, modules): each student graded for what it names."""
    subs = make_class(tmp_path, {"alice": "partial", "bob": "partial"}, examples=False)
    alice, bob = discover(subs)
    from autograder.config import load_course

    got = {}
    cluster.grade_on_dask([(alice, ("tensors",)), (bob, FAST)], dask_cluster.address,
                          GradeOptions(modules=FAST), load_course(), lambda r: got.setdefault(r.student, r))
    assert [a.assignment for a in got["alice"].assignments] == ["tensors"]
    assert [a.assignment for a in got["bob"].assignments] == list(FAST)
    assert all(a.graded for r in got.values() for a in r.assignments)


def _spare_zygotes(dask_worker) -> list[int]:
    from autograder.sandbox import zygotes

    return [zygote.process.pid for zygote in zygotes._SPARES if zygote.alive()]


def test_a_later_batch_reuses_each_workers_zygote(dask_cluster, tmp_path):
    """A Dask worker outlives a batch: the next batch forks its sandboxes from the zygote the
    last one left there instead of importing PyTorch again in a new one."""
    subs = make_class(tmp_path, {"alice": "partial", "bob": "template"}, examples=False)
    grades = {"alice": 100.0, "bob": 0.0}
    options = GradeOptions(modules=("tensors",), workers=2, scheduler=dask_cluster.address)
    result = grade_submissions(subs, tmp_path / "first", options)
    assert {s.student: s.points for s in result.students} == grades
    kept = dask_cluster.client.run(_spare_zygotes)
    assert len(kept) == 2 and all(len(pids) == 1 for pids in kept.values())   # one per worker, kept
    result = grade_submissions(subs, tmp_path / "second", options)
    assert {s.student: s.points for s in result.students} == grades
    assert dask_cluster.client.run(_spare_zygotes) == kept                     # the same ones served it


# -- faults (last: the workers they kill are replaced by fresh ones, which the batches above would
# -- pay to start) ------------------------------------------------------------------------------------
def _executing(dask_worker) -> int:
    return len(dask_worker.state.executing)


def test_a_dask_worker_killed_mid_run_costs_nobody_a_grade(dask_cluster, tmp_path):
    students = {f"s{i}": ("partial" if i % 2 else "template") for i in range(6)}
    subs = make_class(tmp_path, students, examples=False)
    before = dask_cluster.worker_pids()
    killed: list[int] = []
    # Each worker imports this module (to unpickle `_executing`) now, while idle: an import
    # during grading can parse Python on the worker's event loop at the same moment as the
    # grader's static rules, which CPython 3.11 turns into a SystemError (gh-106905).
    assert set(dask_cluster.client.run(_executing)) == set(before)

    def on_result(result):
        if killed:
            return
        busy = dask_cluster.client.run(_executing)
        victim = next((address for address, n in busy.items() if n), None)
        if victim is not None:                     # a worker is grading someone right now: kill it
            killed.append(before[victim])
            os.kill(before[victim], signal.SIGKILL)

    result = grade_submissions(subs, tmp_path / "out", GradeOptions(modules=("tensors",), workers=2,
                                                                   scheduler=dask_cluster.address),
                               on_result=on_result)
    assert killed, "no worker was grading when the first result arrived"
    assert {s.student: s.points for s in result.students} == {
        name: (100.0 if example == "partial" else 0.0) for name, example in students.items()}
    assert all(a.graded for s in result.students for a in s.assignments)
    assert len(set(s.isolation for s in result.students)) == 1
    # The nanny restarted the killed worker, and it built a grader again for what was left.
    dask_cluster.client.wait_for_workers(2, timeout=120)
    after = dask_cluster.worker_pids()
    assert killed[0] not in after.values() and len(after) == 2


class CrashOn(WorkerPlugin):
    """Test fault: the Dask worker process dies whenever it grades ``student``."""

    def __init__(self, student: str):
        self.student = student

    def setup(self, worker):
        from autograder.pipeline import Grader as grader
        original = getattr(grader.grade, "__wrapped_by_test__", grader.grade)
        student = self.student

        def grade(self, submission, *args, **kwargs):
            if submission.student == student:
                os._exit(3)
            return original(self, submission, *args, **kwargs)

        grade.__wrapped_by_test__ = original
        grader.grade = grade


def test_a_submission_that_kills_two_workers_gets_the_grader_failed_report(dask_cluster, tmp_path):
    students = {"alice": "partial", "crasher": "partial", "bob": "template"}
    subs = make_class(tmp_path, students, examples=False)
    dask_cluster.client.register_plugin(CrashOn("crasher"), name="test-crash-on")
    try:
        result = grade_submissions(subs, tmp_path / "out", GradeOptions(modules=("tensors",), workers=2,
                                                                       scheduler=dask_cluster.address))
    finally:
        dask_cluster.client.unregister_worker_plugin("test-crash-on")
    by_student = {s.student: s for s in result.students}
    assert by_student["alice"].points == 100.0 and by_student["bob"].points == 0.0
    assert all(a.graded for name in ("alice", "bob") for a in by_student[name].assignments)
    crasher = by_student["crasher"]
    assert not any(a.graded for a in crasher.assignments)
    outcomes = {c.outcome for a in crasher.assignments for t in a.tasks for c in t.checks}
    assert outcomes == {Outcome.GRADER_ERROR}
    report = json.loads((tmp_path / "out" / "crasher" / "report.json").read_text())
    assert "died, on 2 different workers" in json.dumps(report)
    dask_cluster.client.wait_for_workers(2, timeout=120)
