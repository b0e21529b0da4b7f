"""Hostile and broken submissions: each is graded, loses what it breaks with a clear
message, and leaves every other student's report exactly as it would have been.

Every attack here is bounded, so a failing protection fails the test rather than the
machine: memory grows to at most 3 GB, a fork bomb makes 30 processes, loops have
deadlines in the grader, and no test signals a process it did not start.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from autograder.checks.plugin import HIDDEN_DIR
from autograder.grading import GradeOptions, grade_submissions
from helpers import Listener, isolation_level, machine_isolation, report_without_timings

ROOT = Path(__file__).resolve().parent.parent
SOLUTION = (ROOT / "solutions" / "activations.py").read_text()
CHECKS = HIDDEN_DIR / "test_activations.py"


FUTURE = "from __future__ import annotations\n"


def _with(code: str, before: bool = False) -> str:
    """The reference activations module with hostile ``code`` appended (or run first)."""
    if before:   # right after the __future__ import, before anything else runs
        head, tail = SOLUTION.split(FUTURE, 1)
        return f"{head}{FUTURE}{code}\n{tail}"
    return f"{SOLUTION}\n{code}\n"


def _broken_relu(body: str) -> str:
    """The reference module whose ``relu`` runs ``body`` (indented) instead."""
    indented = "\n".join("    " + line for line in body.strip().splitlines())
    return SOLUTION + f"\n\ndef relu(x):\n{indented}\n"


def _cases(tmp: Path, listener: Listener) -> dict[str, dict[str, object]]:
    """{student: {file name: text or bytes or ('symlink', target)}}"""
    out_dir = tmp / "out"
    other = tmp / "subs" / "reference" / "activations.py"
    return {
        "syntax_error": {"activations.py": "def relu(x)\n    return x\n"},
        "import_error": {"activations.py": _with("import no_such_module_for_autograder", before=True)},
        "missing_module": {"tensors.py": "X = 1\n"},
        "loop_at_import": {"activations.py": _with("while True:\n    pass", before=True)},
        "loop_in_function": {"activations.py": _broken_relu("while True:\n    pass")},
        "memory_bomb_50gb": {"activations.py": _broken_relu("import torch\nreturn torch.ones(50 * 2**30 // 4)[:0]")},
        "memory_bomb_gradual": {"activations.py": _broken_relu(
            "chunks = []\nfor _ in range(30):  # at most 3 GB if the limit does not hold\n"
            "    chunks.append(bytearray(100 * 2**20))\nreturn x")},
        "sys_exit_at_import": {"activations.py": _with("import sys\nsys.exit(0)", before=True)},
        "sys_exit_in_function": {"activations.py": _broken_relu("import sys\nsys.exit(3)")},
        "os_exit": {"activations.py": _broken_relu("import os\nos._exit(0)")},
        "kill_parent": {"activations.py": _broken_relu("import os\nos.kill(os.getppid(), 9)\nreturn x")},
        "segfault": {"activations.py": _broken_relu("import ctypes\nctypes.string_at(0)")},
        "print_1gb": {"activations.py": _with(
            "import sys\nline = 'x' * 2**20\nfor _ in range(1024):\n    sys.stdout.write(line)", before=True)},
        "fork_bomb": {"activations.py": _with(
            "import ctypes, os, time\nfor _ in range(30):\n    if os.fork() == 0:\n"
            f"        ctypes.CDLL(None).prctl(15, b'{BOMB_NAME}', 0, 0, 0)  # PR_SET_NAME: findable\n"
            "        time.sleep(120)\n        os._exit(0)")},
        "thread_left_running": {"activations.py": _with(
            "import threading, time\nthreading.Thread(target=lambda: time.sleep(3600)).start()")},
        "imports_solutions": {"activations.py": _with("from solutions.activations import relu as relu")},
        "reads_hidden_checks": {"activations.py": _with(
            f"SECRET = open({str(CHECKS)!r}).read()", before=True)},
        "patches_torch_and_pytest": {"activations.py": _broken_relu("return x * 0 + 42") + (
            "\nimport builtins, torch, torch.testing, pytest\n"
            "torch.allclose = lambda *a, **k: True\ntorch.equal = lambda *a, **k: True\n"
            "torch.testing.assert_close = lambda *a, **k: None\n"
            "torch.isclose = lambda a, b, **k: torch.ones_like(a, dtype=torch.bool)\n"
            "pytest.fail = lambda *a, **k: None\n")},
        "patches_builtins": {"activations.py": _broken_relu("return x * 0 + 42") + (
            "\nimport builtins\nbuiltins.isinstance = lambda *a: True\n"
            "builtins.len = lambda *a: 0\nbuiltins.type = lambda *a: object\n")},
        "writes_outside": {"activations.py": _with(
            "for path in (%r, %r, %r):\n"
            "    try:\n        open(path, 'w').write('pwned')\n    except OSError:\n        pass"
            % (str(out_dir / "reference" / "report.json"), str(other), str(ESCAPE)))},
        "opens_socket": {"activations.py": _with(
            "import socket\ntry:\n    socket.create_connection(('127.0.0.1', %d), timeout=1).send(b'hi')\n"
            "except OSError:\n    pass" % listener.port)},
        # random and timeit are already loaded in the worker; sched is not, so importing it
        # would pick up the student's sched.py if the submission folder were on sys.path.
        "shadowing_files": {"activations.py": _with("import random, sched, timeit", before=True),
                            "random.py": "raise SystemExit('shadowed random')\n",
                            "timeit.py": "raise SystemExit('shadowed timeit')\n",
                            "sched.py": "raise SystemExit('shadowed sched')\n"},
        "non_utf8": {"activations.py": b"X = '\xff\xfe caf\xe9'\n" + SOLUTION.encode()},
        "symlink_passwd": {"activations.py": ("symlink", "/etc/passwd")},
    }


def _write(folder: Path, files: dict[str, object]) -> None:
    folder.mkdir(parents=True)
    for name, content in files.items():
        if isinstance(content, tuple):
            os.symlink(content[1], folder / name)
        elif isinstance(content, bytes):
            (folder / name).write_bytes(content)
        else:
            (folder / name).write_text(content)


def _report(out: Path, student: str) -> dict:
    return report_without_timings(out / student / "report.json")


def _messages(report: dict) -> str:
    texts = list(report.get("messages", []))
    for assignment in report["assignments"]:
        texts += assignment.get("messages", [])
        for task in assignment["tasks"]:
            texts.append(task.get("penalty") or "")
            texts += [c["message"] for c in task["checks"]]
    return "\n".join(t for t in texts if t)


def _points(report: dict, task: str | None = None) -> float:
    tasks = [t for a in report["assignments"] for t in a["tasks"]]
    return sum(t["points"] for t in tasks if task is None or t["task"] == task)


BOMB_NAME = f"agbomb{os.getpid() % 100000}"
ESCAPE = Path("/tmp/autograder-escape")      # outside the sandbox's own /tmp


def _state(path: Path) -> tuple | None:
    """What a file outside the sandbox is: None when absent, else (owner, size, mtime, bytes)."""
    try:
        info = path.stat()
        return info.st_uid, info.st_size, info.st_mtime_ns, path.read_bytes()[:4096]
    except FileNotFoundError:
        return None


OPTIONS = dict(modules=("activations",), call_timeout_s=3.0, memory_bytes=1 << 30)


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("hostile")
    subs, out = tmp / "subs", tmp / "out"
    listener = Listener()
    try:
        cases = _cases(tmp, listener)
        _write(subs / "reference", {"activations.py": SOLUTION})
        for student, files in cases.items():
            _write(subs / student, files)
        before = {p: p.read_bytes() for p in (subs / "reference").iterdir()}
        escape_before = _state(ESCAPE)
        grade_submissions(subs, out, GradeOptions(workers=2, **OPTIONS))
        alone_subs, alone_out = tmp / "alone", tmp / "alone-out"
        _write(alone_subs / "reference", {"activations.py": SOLUTION})
        grade_submissions(alone_subs, alone_out, GradeOptions(workers=1, **OPTIONS))
        yield {"out": out, "subs": subs, "alone": alone_out, "cases": cases, "listener": listener,
               "before": before, "escape_before": escape_before}
    finally:
        listener.close()


def test_the_batch_completes_with_a_report_for_everyone(hostile):
    students = {p.name for p in hostile["out"].iterdir() if p.is_dir()}
    assert students == set(hostile["cases"]) | {"reference"}
    gradebook = (hostile["out"] / "gradebook.csv").read_text().splitlines()
    assert len(gradebook) == len(students) + 1


def test_other_students_reports_are_exactly_as_when_graded_alone(hostile):
    mixed = _report(hostile["out"], "reference")
    alone = _report(hostile["alone"], "reference")
    assert mixed == alone
    assert _points(mixed) == 100


def test_other_students_files_are_untouched(hostile):
    after = {p: p.read_bytes() for p in (hostile["subs"] / "reference").iterdir()}
    assert after == hostile["before"]
    # writes_outside tried to create or overwrite it: whatever was there (nothing, as a
    # rule) must be exactly as it was.
    assert _state(ESCAPE) == hostile["escape_before"]


@pytest.mark.parametrize("student,expect", [
    ("syntax_error", "SyntaxError"),
    ("import_error", "ModuleNotFoundError"),
    ("loop_at_import", "did not finish"),
    ("sys_exit_at_import", "SystemExit"),
    ("non_utf8", "not saved as UTF-8"),
    ("imports_solutions", "solutions"),
    ("reads_hidden_checks", "FileNotFoundError"),
])
def test_module_level_sabotage_scores_zero_with_a_clear_message(hostile, student, expect):
    report = _report(hostile["out"], student)
    assert _points(report) == 0
    assert expect in _messages(report)


def test_missing_and_symlinked_modules_are_not_submitted(hostile):
    for student in ("missing_module", "symlink_passwd"):
        report = _report(hostile["out"], student)
        assert _points(report) == 0
        assert "not submitted" in _messages(report)
    report = _report(hostile["out"], "symlink_passwd")
    assert "symbolic link" in _messages(report)
    text = "".join(p.read_text() for p in (hostile["out"] / "symlink_passwd").iterdir())
    assert "root:x:0" not in text


@pytest.mark.parametrize("student,expect", [
    ("loop_in_function", "did not finish"),
    ("memory_bomb_50gb", "RuntimeError"),
    ("memory_bomb_gradual", "MemoryError"),
    ("sys_exit_in_function", "SystemExit"),
    ("os_exit", "crashed"),
    ("segfault", "crashed"),
    ("patches_torch_and_pytest", "wrong values"),
])
def test_sabotage_inside_a_function_loses_only_that_task(hostile, student, expect):
    report = _report(hostile["out"], student)
    relu = next(t for a in report["assignments"] for t in a["tasks"] if t["task"] == "activations.relu")
    assert relu["points"] == 0
    assert expect in "\n".join(c["message"] for c in relu["checks"])
    assert _points(report) == 100 - relu["max_points"]


def test_killing_the_parent_hurts_only_the_attacker(hostile):
    # Inside its PID namespace the worker's parent does not exist (getppid() == 0), so the
    # kill reaches at most the worker itself; the grader and the batch carry on.
    report = _report(hostile["out"], "kill_parent")
    relu = next(t for a in report["assignments"] for t in a["tasks"] if t["task"] == "activations.relu")
    assert relu["points"] < relu["max_points"]
    assert _points(report) == 100 - relu["max_points"] + relu["points"]


def test_patching_builtins_in_the_worker_gains_nothing(hostile):
    report = _report(hostile["out"], "patches_builtins")
    relu = next(t for a in report["assignments"] for t in a["tasks"] if t["task"] == "activations.relu")
    assert relu["points"] == 0 and _points(report) < 100


@pytest.mark.parametrize("student", ["print_1gb", "fork_bomb", "thread_left_running", "writes_outside",
                                     "opens_socket", "shadowing_files"])
def test_harmless_misbehaviour_costs_nothing(hostile, student):
    assert _points(_report(hostile["out"], student)) == 100


def test_no_connection_left_the_sandbox(hostile):
    assert hostile["listener"].connections == 0


def test_reports_state_the_isolation_that_was_enforced(hostile):
    # What the machine allows, probed without the sandbox: the report must state exactly
    # that (a layer lost is a failure here, not a lower level quietly reported).
    machine = machine_isolation()
    for student in ("reference", "opens_socket", "writes_outside", "fork_bomb"):
        isolation = json.loads((hostile["out"] / student / "report.json").read_text())["isolation"]
        assert {k: isolation[k] for k in machine} == machine, (student, isolation)
        assert isolation["level"] == isolation_level(machine), (student, isolation)
        assert isolation["memory_limit_bytes"] == OPTIONS["memory_bytes"], (student, isolation)
    if os.geteuid() == 0:   # CI runs as root, where every layer must be in place
        assert isolation_level(machine) == "full" and machine["user"] == "nobody"


def test_no_forked_process_survives_grading(hostile):
    # The fork bomb's children named themselves BOMB_NAME; killing a worker's PID
    # namespace must have taken them all.
    survivors = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and (proc / "comm").read_text().strip() == BOMB_NAME:
                survivors.append(proc.name)
        except OSError:
            pass
    assert survivors == []
