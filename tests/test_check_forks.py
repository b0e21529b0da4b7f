"""``autograder check``'s children fork from a server that imported PyTorch once
(``autograder/check_forks.py``), and each is what a new interpreter was."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from autograder import check_forks
from autograder.student_check import check_file, check_files, course_files

from example_class import EXAMPLES
from helpers import alive

# Appended to the reference tensors.py: when imported, it records what its process looks like.
PROBE = '''
import json as _json, os as _os, sys as _sys
_solutions = sorted(m for m in _sys.modules if m.split(".")[0] == "solutions")
_facts = {"pid": _os.getpid(), "ppid": _os.getppid(), "pgid": _os.getpgid(0), "sid": _os.getsid(0),
          "cwd": _os.getcwd(), "path0": _sys.path[0], "stdin": _sys.stdin.read(), "argv": _sys.argv,
          "env": _os.environ.get("AUTOGRADER_TEST_PROBE"), "bytecode": _sys.dont_write_bytecode,
          "solutions": _solutions}
with open(_os.environ["AUTOGRADER_TEST_FACTS"], "a") as _f:
    _f.write(_json.dumps(_facts) + "\\n")
'''


def _probe_file(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "tensors.py"
    path.write_text((EXAMPLES / "reference" / "tensors.py").read_text(encoding="utf-8") + PROBE, encoding="utf-8")
    return path


def _facts(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_a_forked_child_is_what_a_new_interpreter_was(tmp_path, monkeypatch):
    facts = tmp_path / "facts.jsonl"
    monkeypatch.setenv("AUTOGRADER_TEST_FACTS", str(facts))
    monkeypatch.setenv("AUTOGRADER_TEST_PROBE", "first")
    first = check_file(_probe_file(tmp_path / "a"))
    monkeypatch.setenv("AUTOGRADER_TEST_PROBE", "second")      # the caller's environment of the moment
    second = check_file(_probe_file(tmp_path / "b"))
    assert first.passed and second.passed, [c.message for c in first.checks + second.checks if not c.passed]
    seen = _facts(facts)
    assert [f["env"] for f in seen] == ["first", "second"]
    for fact in seen:
        assert fact["ppid"] != os.getpid()                      # forked by the server, not started by us
        assert fact["pgid"] == fact["sid"] == fact["pid"]       # a session of its own: killing it kills all
        assert fact["path0"] == fact["cwd"] == os.path.realpath(fact["cwd"])
        assert fact["stdin"] == ""
        assert fact["argv"][0].endswith("student_check.py") and fact["argv"][1].endswith("spec.json")
        assert fact["bytecode"] is True
        assert fact["solutions"] == []                          # the server never loaded the reference
    assert seen[0]["ppid"] == seen[1]["ppid"]                   # one server served both
    assert seen[0]["cwd"] != seen[1]["cwd"]


def test_where_fork_is_not_used_each_child_is_a_new_interpreter(tmp_path, monkeypatch):
    """macOS and Windows (``FORKS`` false), or no usable server: the child is started as
    ``python -m autograder.student_check SPEC``, by this process, and checks the same."""
    facts = tmp_path / "facts.jsonl"
    monkeypatch.setenv("AUTOGRADER_TEST_FACTS", str(facts))
    monkeypatch.setattr(check_forks, "FORKS", False)
    checked = check_file(_probe_file(tmp_path / "a"))
    assert checked.passed, [c.message for c in checked.checks if not c.passed]
    (fact,) = _facts(facts)
    assert fact["ppid"] == os.getpid()
    assert fact["pgid"] == fact["sid"] == fact["pid"]
    assert fact["path0"] == fact["cwd"] and fact["stdin"] == "" and fact["bytecode"] is True
    assert fact["argv"][0].endswith("student_check.py") and fact["argv"][1].endswith("spec.json")


@pytest.mark.parametrize("forks", [True, False], ids=["forked", "spawned"])
def test_a_child_that_prints_a_lot_is_not_stopped_by_its_output(tmp_path, monkeypatch, forks):
    monkeypatch.setattr(check_forks, "FORKS", forks)
    path = tmp_path / "tensors.py"
    path.write_text((EXAMPLES / "reference" / "tensors.py").read_text(encoding="utf-8") +
                    "\nfor _ in range(4000):\n    print('x' * 100)\n")      # 400 KB, more than a pipe holds
    checked = check_file(path, timeout_s=5)
    assert checked.passed, [c.message for c in checked.checks if not c.passed]


def test_the_server_imports_nothing_from_the_checked_folder(tmp_path, monkeypatch):
    """A student's random.py beside the checked file shadows nothing the server imports
    (PyTorch imports random), and the checks still pass."""
    facts = tmp_path / "facts.jsonl"
    monkeypatch.setenv("AUTOGRADER_TEST_FACTS", str(facts))
    path = _probe_file(tmp_path / "student")
    (path.parent / "random.py").write_text("raise RuntimeError('the student random.py was imported')\n")
    check_forks.close_servers()             # a new server, started from this folder
    monkeypatch.chdir(path.parent)
    checked = check_file(path)
    assert checked.passed, [c.message for c in checked.checks if not c.passed]
    assert _facts(facts)[0]["ppid"] != os.getpid()


def test_a_server_that_dies_costs_no_check_and_its_child_is_killed(tmp_path, monkeypatch):
    """The server dies while its child imports the student's module: that child is killed,
    and the rest runs again in a new interpreter, without blaming the student's code."""
    facts = tmp_path / "facts.jsonl"
    monkeypatch.setenv("AUTOGRADER_TEST_FACTS", str(facts))
    check_forks.close_servers()
    assert check_file(_probe_file(tmp_path / "warm")).passed          # one server is up, idle
    (server,) = check_forks._idle
    pids = tmp_path / "pids"
    hang = tmp_path / "hang" / "tensors.py"
    hang.parent.mkdir()
    # The first import (forked by the server) hangs; the import that follows goes on.
    hang.write_text(f"import os, time\nwith open({str(pids)!r}, 'a') as _f:\n    _f.write(f'{{os.getpid()}} {{os.getppid()}}\\n')\n"
                    f"while len(open({str(pids)!r}).read().split()) < 4 and time.sleep(0.1) is None:\n    pass\n" +
                    (EXAMPLES / "reference" / "tensors.py").read_text(encoding="utf-8").replace(
                        "from __future__ import annotations\n", ""))
    with ThreadPoolExecutor(1) as pool:
        running = pool.submit(check_file, hang, 100)
        deadline = time.monotonic() + 120
        while not pids.exists() or not pids.read_text():
            assert time.monotonic() < deadline and not running.done(), "the student's module never ran"
            time.sleep(0.05)
        first = int(pids.read_text().split()[0])
        os.killpg(server.process.pid, signal.SIGKILL)                  # the server dies while its child runs
        checked = running.result(timeout=120)
    assert checked.passed, [c.message for c in checked.checks if not c.passed]
    (first_pid, first_parent), (_, second_parent) = [map(int, line.split()) for line in pids.read_text().splitlines()]
    assert first_parent == server.process.pid and second_parent == os.getpid()     # again, spawned by us
    deadline = time.monotonic() + 10
    while alive(first) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(first), "the child outlived its server"
    assert server not in check_forks._all
    assert check_file(_probe_file(tmp_path / "again")).passed           # a new server
    assert _facts(facts)[-1]["ppid"] not in (server.process.pid, os.getpid())


def _hanging_spec(folder: Path) -> Path:
    """A spec for student_check's child whose module import sleeps for 100 s."""
    folder.mkdir()
    (folder / "tensors.py").write_text("import time\ntime.sleep(100)\n")
    (folder / "test_tensors.py").write_text("")
    (folder / "pytest.ini").write_text("[pytest]\n")
    spec = {"module": "tensors", "file": "tensors.py", "folder": str(folder), "helpers": str(folder),
            "call_timeout_s": 100.0, "homes": {}, "results": str(folder / "results.jsonl"), "skip": []}
    (folder / "spec.json").write_text(json.dumps(spec))
    return folder / "spec.json"


def test_a_child_killed_as_soon_as_it_started_is_dead(tmp_path):
    """The pid arrives once the child has its session: a kill right away cannot miss it."""
    spec = _hanging_spec(tmp_path / "checks")
    with ThreadPoolExecutor(1) as pool:
        for _ in range(10):
            child = check_forks.start_child(spec, spec.parent)
            child.kill()
            code, _ = pool.submit(child.finish).result(timeout=30)
            assert code == -signal.SIGKILL and isinstance(child, check_forks._Forked)


def test_several_files_are_checked_in_one_command_and_bad_input_stops_all(tmp_path):
    reference, broken = EXAMPLES / "reference" / "tensors.py", EXAMPLES / "broken" / "activations.py"
    results = check_files([reference, broken])
    assert [r.module for r in results] == ["tensors", "activations"]
    assert results[0].exit_code == 0 and results[1].exit_code == 1
    cli = [sys.executable, "-m", "autograder.cli", "check"]
    run = subprocess.run([*cli, str(reference), str(broken)], capture_output=True, text=True, timeout=600)
    assert run.returncode == 1, run.stderr
    assert "Checked 2 files:" in run.stdout
    assert f"PASS  {reference}: all" in run.stdout and f"FAIL  {broken}:" in run.stdout
    assert run.stdout.count("How to read this") == 1
    bad = subprocess.run([*cli, str(reference), str(tmp_path / "Tensors.py")], capture_output=True, text=True,
                         timeout=600)
    assert bad.returncode == 2 and "does not exist" in bad.stderr and "Checking" not in bad.stdout


def test_of_several_files_a_helper_module_is_left_out_and_a_near_miss_refused(tmp_path):
    """``autograder check *.py`` in a folder that also holds the student's own helpers."""
    shutil.copy(EXAMPLES / "reference" / "tensors.py", tmp_path / "tensors.py")
    (tmp_path / "utils.py").write_text("X = 1\n")
    checked, left_out = course_files([tmp_path / "tensors.py", tmp_path / "utils.py"])
    assert checked == [tmp_path / "tensors.py"] and left_out == [tmp_path / "utils.py"]
    cli = [sys.executable, "-m", "autograder.cli", "check"]
    run = subprocess.run([*cli, "tensors.py", "utils.py"], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    assert "Checked 1 file:" in run.stdout and "PASS  tensors.py: all" in run.stdout
    assert "----  utils.py: not checked" in run.stdout
    for files, said in ((["utils.py"], "utils.py is not a module of this course"),          # one file: refused
                        (["utils.py", "utils.py"], "none of these files is a module"),
                        (["tensors.py", "Tensors.py"], "did you mean tensors.py?")):
        if "Tensors.py" in files:
            shutil.copy(tmp_path / "tensors.py", tmp_path / "Tensors.py")
        bad = subprocess.run([*cli, *files], cwd=tmp_path, capture_output=True, text=True, timeout=600)
        assert bad.returncode == 2 and said in bad.stderr and "Checking" not in bad.stdout, (files, bad.stderr)
    (tmp_path / "activations.ipynb").write_text("{ this is no notebook")
    bad = subprocess.run([*cli, "tensors.py", "activations.ipynb"], cwd=tmp_path, capture_output=True, text=True,
                         timeout=600)
    assert bad.returncode == 2 and "activations.ipynb" in bad.stderr and "Checking" not in bad.stdout, bad.stderr


def test_ctrl_c_during_check_leaves_no_child_running(tmp_path):
    pidfile = tmp_path / "pid"
    student = tmp_path / "tensors.py"
    student.write_text(f"import os, time\nopen({str(pidfile)!r}, 'w').write(str(os.getpid()))\n"
                       "for _ in range(1200):\n    time.sleep(0.1)\n")
    # SIGINT as a terminal's command has it: a suite started in the background (a
    # non-interactive shell's &) hands its children an ignored SIGINT.
    process = subprocess.Popen([sys.executable, "-m", "autograder.cli", "check", str(student), "--timeout", "100"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        deadline = time.monotonic() + 180
        while not pidfile.exists() or not pidfile.read_text():
            assert time.monotonic() < deadline and process.poll() is None, "the student's module never ran"
            time.sleep(0.1)
        child = int(pidfile.read_text())
        os.kill(process.pid, signal.SIGINT)                     # Ctrl-C reaches the command
        process.wait(timeout=60)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    assert process.returncode != 0
    deadline = time.monotonic() + 10
    while alive(child) and time.monotonic() < deadline:
        time.sleep(0.1)
    if alive(child):
        os.kill(child, signal.SIGKILL)           # ours: started by this test's command
        pytest.fail("the child of `autograder check` outlived Ctrl-C")
