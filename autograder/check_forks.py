"""The child processes of ``autograder check``, forked from a process that imported
PyTorch once.

``autograder check`` runs the public checks of a file in a child process, so that a check
that hangs or crashes the interpreter costs that check only (:mod:`autograder.student_check`).
A child started as a new interpreter spends seconds importing NumPy, PyTorch and pytest
before the first check. Here a *fork server* does those imports once; every child is a
fork of it, ready at once. Checking six files, or checking again after a hang, pays for
one import instead of one per child.

:func:`start_child` runs ``student_check``'s child on a spec file and returns a
:class:`Child`, the handle the parent needs: ``poll``, ``kill`` and, once ended, the exit
status and the child's output (stdout and stderr together). A forked child is what a new
interpreter was: in a session of its own (killing it kills what it started), working in
the checks' folder, ``sys.path``, ``sys.argv``, stdin (empty) and bytecode writing set as
for ``python -m autograder.student_check SPEC`` started there. It inherits nothing of the
student's: the server imports only the grader's own modules and libraries (never the
reference solutions, which the child hides anyway), from a folder that holds nothing,
and without the current directory on ``sys.path`` (``python -P``): a student's
``random.py`` beside the checked file cannot shadow a module the server imports.

One server runs one child at a time; a caller that runs children side by side gets a
server per child (started on demand, kept idle for the next one, closed at exit). When no
server can be started or it dies, the child is started as a new interpreter, as before:
slower, otherwise the same. Only on Linux: macOS frameworks are not safe to use in a
child forked without ``exec`` (why Python's own ``multiprocessing`` spawns there), and
Windows has no ``fork``; there every child is a new interpreter.
"""

from __future__ import annotations

import atexit
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

__all__ = ["Child", "start_child", "close_servers"]

FORKS = sys.platform.startswith("linux")     # elsewhere: a new interpreter per child (see above)
SERVER_START_TIMEOUT_S = 180.0      # importing PyTorch on a busy machine
OUTPUT_TAIL_BYTES = 64 * 1024        # the parent quotes the last lines of a child's output only
_CHILD_MODULE = "autograder.student_check"
_SERVER_DIED = object()


class _NotStarted(EOFError):
    """The server never said it was ready."""


def _child_env() -> dict[str, str]:
    """The environment of a child (and of a server): this process's, without bytecode."""
    return {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


class Child:
    """A running child of ``autograder check``: ``poll()`` (None while it runs, else its
    exit code: negative for a signal, as ``subprocess`` says), ``kill()`` (the child's whole
    session), and ``finish()``: wait for the end, return (exit code, output)."""

    pid: int
    lost = False       # True: it died with its server, which says nothing of the student's code

    def poll(self) -> int | None:
        raise NotImplementedError

    def kill(self) -> None:
        """Kill the child's session, unless the child is known to have ended (its pid may
        be another process's by now)."""
        if not self._ended_already():
            self._kill_session()

    def _ended_already(self) -> bool:
        raise NotImplementedError

    def _kill_session(self) -> None:
        _kill_group(self.pid)

    def finish(self) -> tuple[int, str]:
        raise NotImplementedError


class _Spawned(Child):
    """A child started as a new interpreter (no server could be used)."""

    def __init__(self, spec: Path, folder: Path, output: Path):
        env = _child_env()
        self._output = output
        # Into a file, not a pipe: a pipe that nobody reads while the child runs would
        # stop a child that prints more than the pipe holds.
        with open(output, "wb") as out:
            self._process = subprocess.Popen([sys.executable, "-m", _CHILD_MODULE, str(spec)], cwd=folder, env=env,
                                             stdout=out, stderr=subprocess.STDOUT,
                                             stdin=subprocess.DEVNULL, start_new_session=True)
        self.pid = self._process.pid

    def poll(self) -> int | None:
        return self._process.poll()

    def _ended_already(self) -> bool:
        return self._process.returncode is not None

    def finish(self) -> tuple[int, str]:
        self._process.wait()
        return self._process.returncode, _read(self._output)


class _Forked(Child):
    """A child forked by a server; its exit code arrives on the server's pipe."""

    def __init__(self, server: "_Server", pid: int, output: Path):
        self._server, self.pid, self._output = server, pid, output
        self._code: int | None = None

    def poll(self) -> int | None:
        if self._code is None:
            self._code = self._ended(self._server.exit_code(block=False))
        return self._code

    def _ended(self, code: Any) -> int | None:
        if code is _SERVER_DIED:
            self._kill_session()    # in a session of its own, it would outlive its server
            self.lost = True
            return -signal.SIGKILL
        return code

    def _ended_already(self) -> bool:
        return self._code is not None

    def finish(self) -> tuple[int, str]:
        if self._code is None:
            self._code = self._ended(self._server.exit_code(block=True))
        return self._code, _read(self._output)


def _read(output: Path) -> str:
    """The end of a child's output (a print loop may have written gigabytes)."""
    try:
        with open(output, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            handle.seek(max(0, handle.tell() - OUTPUT_TAIL_BYTES))
            return handle.read().decode("utf-8", "replace")
    except OSError:
        return ""


class _Server:
    """One fork server process and its two pipes (requests in, pids and exit codes out)."""

    def __init__(self) -> None:
        self._home = tempfile.mkdtemp(prefix="autograder-check-server-")
        # -P: no current directory on sys.path; cwd: an empty folder of its own.
        self.process = subprocess.Popen([sys.executable, "-P", "-m", "autograder.check_forks"], cwd=self._home,
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                        start_new_session=True, env=_child_env())
        self._buffer = b""
        self._ready = False
        self._asked = False     # a request is out and its pid not read yet

    def _line(self, timeout: float | None) -> bytes | None:
        """The next line from the server; None when none came within ``timeout`` (0: now)."""
        import select

        assert self.process.stdout is not None
        fd = self.process.stdout.fileno()
        while b"\n" not in self._buffer:
            readable, _, _ = select.select([fd], [], [], timeout)
            if not readable:
                return None
            chunk = os.read(fd, 65536)
            if not chunk:
                raise EOFError("the check server ended")
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return line

    def fork(self, spec: Path, folder: Path, output: Path) -> int:
        """Ask for a child; its pid. Raises ``OSError``/``EOFError`` when the server is unusable."""
        assert self.process.stdin is not None
        if not self._ready:
            try:
                ready = self._line(SERVER_START_TIMEOUT_S)
            except EOFError:
                ready = None
            if ready != b"ready":
                raise _NotStarted("the check server did not start")
            self._ready = True
        request = {"spec": str(spec), "cwd": str(folder), "output": str(output),
                   "env": _child_env()}
        self.process.stdin.write(json.dumps(request).encode("utf-8") + b"\n")
        self.process.stdin.flush()
        self._asked = True
        answer = json.loads(self._line(60.0) or b"{}")
        self._asked = False
        if "pid" not in answer:
            raise EOFError("the check server did not fork")
        return int(answer["pid"])

    def abandon(self) -> None:
        """Interrupted between asking for a child and hearing its pid: kill that child if
        the server forked it."""
        if not self._asked:
            return
        try:
            line = self._line(2.0)
            pid = int(json.loads(line)["pid"]) if line else None
        except (OSError, EOFError, ValueError, KeyError):
            pid = None
        if pid is not None:
            _kill_group(pid)

    def exit_code(self, block: bool) -> Any:
        try:
            line = self._line(None if block else 0)
        except EOFError:
            _retire(self)
            return _SERVER_DIED
        if line is None:
            return None
        _release(self)
        return int(json.loads(line)["exit"])

    def close(self) -> None:
        try:
            if self.process.stdin is not None:
                self.process.stdin.close()
            self.process.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            self.process.kill()
            self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()
        try:
            os.rmdir(self._home)
        except OSError:
            pass


_lock = threading.Lock()
_idle: list[_Server] = []
_all: list[_Server] = []


def _acquire() -> _Server:
    with _lock:
        if _idle:
            return _idle.pop()
    server = _Server()
    with _lock:
        _all.append(server)
    return server


def _release(server: _Server) -> None:
    with _lock:
        if server in _all and server not in _idle:
            _idle.append(server)


def _retire(server: _Server) -> None:
    with _lock:
        if server in _idle:
            _idle.remove(server)
        if server in _all:
            _all.remove(server)
    server.close()


def close_servers() -> None:
    """End every fork server of this process (also done at exit)."""
    with _lock:
        servers = list(_all)
        _all.clear()
        _idle.clear()
    for server in servers:
        server.close()


atexit.register(close_servers)


_unusable = False      # a server failed to start: this process spawns from now on


def start_child(spec: Path, folder: Path, fork: bool = True) -> Child:
    """Start ``python -m autograder.student_check SPEC`` in ``folder``: forked from a
    server when one can be used (and ``fork``), else as a new interpreter."""
    global _unusable
    output = folder / "child-output.txt"
    if not (FORKS and fork) or _unusable:
        return _Spawned(spec, folder, output)
    server = None
    try:
        server = _acquire()
        return _Forked(server, server.fork(spec, folder, output), output)
    except (OSError, EOFError, ValueError) as exc:
        if server is not None:
            _retire(server)
        if isinstance(exc, _NotStarted):
            _unusable = True
        return _Spawned(spec, folder, output)
    except BaseException:
        if server is not None:           # Ctrl-C while the server forked: no child goes on alone
            server.abandon()
            _retire(server)
        raise


# -- the server (python -P -m autograder.check_forks) -------------------------------------------

def _serve() -> None:
    """Import what every child needs, say ``ready``, then fork one child per request line and
    answer its pid, then its exit code."""
    requests = os.dup(0)
    answers = os.dup(1)
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)           # a library's print can never corrupt the answers
    import numpy  # noqa: F401
    import pytest  # noqa: F401
    import torch  # noqa: F401

    from . import student_check  # noqa: F401  (the child's code, and what it imports)
    from .checks import loading, plugin  # noqa: F401

    with os.fdopen(requests, "rb", buffering=0) as incoming:
        os.write(answers, b"ready\n")
        buffer = b""
        while True:
            while b"\n" not in buffer:
                chunk = incoming.read(65536)
                if not chunk:
                    return
                buffer += chunk
            line, buffer = buffer.split(b"\n", 1)
            request = json.loads(line)
            sys.stdout.flush()
            sys.stderr.flush()
            # The pid is sent once the child has its own session: a kill of that session
            # right after the pid arrived must not miss it.
            in_session, said = os.pipe()
            pid = os.fork()
            if pid == 0:
                os.close(requests)
                os.close(answers)
                os.close(in_session)
                _child(request, said)    # never returns
            os.close(said)
            os.read(in_session, 1)       # b"" too when the child died before
            os.close(in_session)
            os.write(answers, json.dumps({"pid": pid}).encode() + b"\n")
            _, status = os.waitpid(pid, 0)
            os.write(answers, json.dumps({"exit": os.waitstatus_to_exitcode(status)}).encode() + b"\n")


def _child(request: dict, said: int) -> None:
    """Become ``python -m autograder.student_check SPEC`` started in ``request['cwd']``;
    write to ``said`` once in a session of its own."""
    code = 1
    try:
        os.setsid()
        os.write(said, b"s")
        os.close(said)
        out = os.open(request["output"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(out, 1)
        os.dup2(out, 2)
        os.close(out)
        sys.stdin = open(os.devnull, encoding="utf-8")
        signal.signal(signal.SIGINT, signal.default_int_handler)
        os.environ.clear()
        os.environ.update(request["env"])     # the caller's, as a new interpreter would have
        os.chdir(request["cwd"])
        sys.dont_write_bytecode = True
        sys.path.insert(0, request["cwd"])
        import numpy

        numpy.random.seed()             # fresh entropy, as a new interpreter's (random reseeds itself)
        from . import student_check

        sys.argv = [student_check.__file__, request["spec"]]
        student_check._child_main(request["spec"])
        code = 0
    except SystemExit as exc:
        if exc.code is None or isinstance(exc.code, int):
            code = exc.code or 0
        else:
            print(exc.code, file=sys.stderr)
    except BaseException:           # noqa: BLE001  (as an interpreter would: the traceback, exit 1)
        import traceback

        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


if __name__ == "__main__":
    _serve()
