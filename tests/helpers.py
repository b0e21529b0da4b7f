"""Helpers shared by the tests."""

from __future__ import annotations

import json
import socket
import threading
from pathlib import Path

from autograder.sandbox.procfs import stat_fields


def make_worker(zygote, tmp_path: Path, source: str, settings=None, call_timeout_s: float = 10.0):
    """A worker (not started yet) on a submission folder holding ``tensors.py`` = ``source``."""
    from autograder.sandbox.client import Worker, WorkerSettings

    for name in ("submission", "root"):
        (tmp_path / name).mkdir(parents=True, exist_ok=True)
    (tmp_path / "submission" / "tensors.py").write_text(source)
    return Worker(zygote, str(tmp_path / "submission"), str(tmp_path / "root"), settings or WorkerSettings(),
                  call_timeout_s=call_timeout_s)


def alive(pid: int) -> bool:
    """Is process ``pid`` running (a zombie, ended but not yet reaped, is not)?"""
    try:
        (state,) = stat_fields(str(pid), 3)
    except OSError:
        return False
    return state != "Z"


def report_without_timings(path: Path) -> dict:
    """A student's report.json with every timing removed (timings may differ between runs)."""
    report = json.loads(Path(path).read_text())
    report.pop("duration_s", None)
    report.pop("timings", None)
    for entry in report.get("history", []):
        entry.pop("recorded_at", None)        # when the course record stored it: a time, like the timings
    for assignment in report["assignments"]:
        for task in assignment["tasks"]:
            for check in task["checks"]:
                check.pop("duration_s", None)
    return report


# -- what isolation this machine can give a sandboxed worker -----------------------------
# Probed here, independently of the sandbox, so that an isolation test can demand exactly
# what the machine allows: a sandbox that quietly stops confining its workers (and then
# reports, truthfully, that it did not) fails these tests instead of skipping them.
_ISOLATION_PROBE = r'''
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
NEWNS, NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET = 0x20000, 0x4000000, 0x8000000, 0x10000000, 0x20000000, 0x40000000
MS_BIND, MS_REC, MS_PRIVATE = 4096, 16384, 1 << 18
uid, gid = os.getuid(), os.getgid()
if libc.unshare(NEWNS | NEWPID | NEWNET | NEWIPC | NEWUTS | (NEWUSER if uid else 0)) != 0:
    print("none:" + os.strerror(ctypes.get_errno()))
    sys.exit(0)
if uid:
    for name, text in (("setgroups", "deny"), ("uid_map", f"0 {uid} 1"), ("gid_map", f"0 {gid} 1")):
        with open(f"/proc/self/{name}", "w") as handle:
            handle.write(text)
pid = os.fork()
if pid == 0:   # PID 1 of the new PID namespace: can it build a root of its own and enter it?
    root = sys.argv[1].encode()
    ok = (libc.mount(None, b"/", None, MS_REC | MS_PRIVATE, None) == 0
          and libc.mount(b"tmpfs", root, b"tmpfs", 0, b"size=1m") == 0
          and os.mkdir(root + b"/proc") is None and os.mkdir(root + b"/old") is None
          and libc.mount(b"proc", root + b"/proc", b"proc", 0, None) == 0
          and libc.syscall({"x86_64": 155, "aarch64": 41}[os.uname().machine], root, root + b"/old") == 0)
    os._exit(0 if ok else 1)
_, status = os.waitpid(pid, 0)
print("private-root" if status == 0 else "namespaces")
'''


def machine_isolation() -> dict:
    """The isolation fields a sandboxed worker must report on this machine.

    Found by a throw-away process that tries what the sandbox needs: new mount, PID,
    network, IPC and UTS namespaces (and a user namespace when not root), then, as PID 1
    of the new PID namespace, a tmpfs root with a fresh ``/proc`` entered by
    ``pivot_root``. Its namespaces die with it. The answer, as in ``Isolation``:

    - all of it works: ``filesystem="private-root"``, ``network="none"``, ``processes="private"``;
    - namespaces but no private root: ``filesystem="none"``, ``network="none"``, ``processes="private"``;
    - no namespaces: ``filesystem="none"``, ``network="host"``, ``processes="shared"``;

    and ``user="nobody"`` when the tests run as root (the worker drops to nobody),
    ``"same"`` otherwise (an unprivileged grader has no other user to become).
    """
    import os
    import subprocess
    import sys
    import tempfile

    with tempfile.TemporaryDirectory(prefix="isolation-probe-") as root:
        probe = subprocess.run([sys.executable, "-I", "-c", _ISOLATION_PROBE, root], capture_output=True,
                               text=True, timeout=60)
    answer = probe.stdout.strip()
    if answer not in ("private-root", "namespaces") and not answer.startswith("none:"):
        raise RuntimeError(f"the isolation probe answered {answer!r}: {probe.stderr[-2000:]}")
    return {
        "filesystem": "private-root" if answer == "private-root" else "none",
        "network": "host" if answer.startswith("none:") else "none",
        "processes": "shared" if answer.startswith("none:") else "private",
        "user": "nobody" if os.geteuid() == 0 else "same",
    }


def isolation_level(fields: dict) -> str:
    """The one-word level of ``Isolation.level`` for these fields (computed here, not by it)."""
    strong = [fields["filesystem"] == "private-root", fields["network"] == "none",
              fields["processes"] == "private"]
    return "full" if all(strong) else "partial" if any(strong) else "minimal"


class Listener:
    """A TCP listener on the host's loopback that counts who connected (a bounded thread).

    Started by a test outside any sandbox: a sandboxed worker that reaches it has the
    host's network, whatever its report says.
    """

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.5)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self.thread.join(timeout=5)
        self.sock.close()


# -- the corpus, graded once per test session ------------------------------------------------
CORPUS = Path(__file__).parent / "corpus"
SOLUTIONS = Path(__file__).resolve().parents[1] / "solutions"
CORPUS_REFERENCE = "reference-solution"   # the student id suffix of a module's solution (solutions/)
_GRADED_CORPUS: dict[frozenset, Path] = {}


def corpus_variants() -> list[tuple[str, Path]]:
    """(module, path) of every planted-bug and correct variant in tests/corpus/<module>/."""
    from autograder.course import MODULES

    return [(m, p) for m in MODULES if (CORPUS / m).is_dir() for p in sorted((CORPUS / m).glob("*.py"))]


def graded_corpus(tmp_path_factory, modules) -> Path:
    """The output folder of one real grading run of every corpus variant and every
    module's reference solution (student ``<module>--<variant>``) of ``modules``; graded
    once per session for the same modules (test_corpus and test_feedback share it)."""
    import os
    import shutil

    from autograder.course import MODULES
    from autograder.grading import GradeOptions, grade_submissions

    key = frozenset(modules)
    if key not in _GRADED_CORPUS:
        root = tmp_path_factory.mktemp("corpus")
        subs, out = root / "submissions", root / "out"
        sources = [(m, p.stem, p) for m, p in corpus_variants()]
        sources += [(m, CORPUS_REFERENCE, SOLUTIONS / f"{m}.py") for m in MODULES if (CORPUS / m).is_dir()]
        for module, name, path in sources:
            if module not in key:
                continue
            student = subs / f"{module}--{name}"
            assert not student.exists(), f"{student.name}: a corpus variant may not be named {CORPUS_REFERENCE!r}"
            student.mkdir(parents=True)
            shutil.copy(path, student / f"{module}.py")
        root_env = os.environ.get("AUTOGRADER_MNIST_ROOT")
        options = GradeOptions(modules=tuple(m for m in MODULES if m in key), workers=2,
                               mnist_root=Path(root_env) if root_env else None)
        grade_submissions(subs, out, options)
        _GRADED_CORPUS[key] = out
    return _GRADED_CORPUS[key]
