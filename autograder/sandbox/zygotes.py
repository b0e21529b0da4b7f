"""The zygote's handle in the grader, and the zygotes a program keeps between runs.

Nothing here imports PyTorch, so a grading run starts its zygote first, before its own
(seconds long) imports: both import PyTorch at the same time, on different cores. One
zygote serves every slot of a local run: each grading process forks its workers through
a channel of its own (:meth:`Zygote.channel`).

A run asks :func:`zygotes_for` for its zygotes: idle ones of an earlier run in this
process first (a test suite, a notebook or a service that grades several times pays
PyTorch's import once), then new ones. When the run is over, :func:`retire` keeps the
zygotes that served it as planned for the next run and closes the others. A zygote holds
no student state: only its forked workers ever run student code.
"""

from __future__ import annotations

import atexit
import copy
import json
import os
import select
import socket
import subprocess
import sys
import threading
import time
from typing import Iterable

__all__ = ["SandboxError", "SandboxFault", "Zygote", "ZygoteGone", "OPTIMIZING_MODULES", "needs_optimizers",
           "zygotes_for", "retire", "close_spares"]

# The assignments whose checks run optimizers (in the grader, and in the worker on the
# student's side): their zygotes and grading processes build an optimizer up front.
OPTIMIZING_MODULES = frozenset({"training", "mnist_cnn"})


def needs_optimizers(modules: Iterable[str]) -> bool:
    return bool(OPTIMIZING_MODULES & set(modules))


class SandboxError(Exception):
    """Student code could not produce a result."""


class SandboxFault(SandboxError):
    """The grader's sandbox machinery failed, not the student's code: a check that meets it
    is a grader error (not graded, regraded later), never a zero."""


def _clean_env() -> dict[str, str]:
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "HOME": "/tmp",
        "PYTHONHASHSEED": "0",
        "PYTHONDONTWRITEBYTECODE": "1",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    }
    for name in ("CUDA_VISIBLE_DEVICES", "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
        if name in os.environ:
            env[name] = os.environ[name]
    return env


class ZygoteGone(Exception):
    """The zygote's control channel broke (internal: the caller restarts the zygote)."""


class Zygote:
    """A preloaded interpreter that forks workers (one per grading process).

    A zygote that died (killed, crashed) is replaced by :meth:`restart`, which the next
    worker start calls; when a new one cannot start either, every later start fails at
    once with a :class:`SandboxFault` instead of paying the start-up time again.
    """

    def __init__(self, start_timeout_s: float = 120.0, optimizers: bool = True, torchvision: bool = True):
        self.start_timeout_s = start_timeout_s
        self.optimizers = optimizers      # warms what a first optimizer touches
        # torchvision's import also imports torch._dynamo (3.5 s, through torchvision.ops):
        # preloaded only for a run whose students may import it.
        self.torchvision = torchvision
        self._lock = threading.Lock()
        self.restarts = 0
        self.failure: str | None = None      # why a restart failed: no further attempts
        # The cores the workers forked from now on run on (a grading slot's core), or None.
        self.cpus: tuple[int, ...] | None = None
        self.channel_of: Zygote | None = None  # the handle this channel was opened through
        self._spawn()

    def _spawn(self) -> None:
        ours, theirs = socket.socketpair()
        self.started = time.perf_counter()
        self.process = subprocess.Popen(
            [sys.executable, "-I", "-m", "autograder.sandbox.zygote", str(theirs.fileno()),
             *([] if self.optimizers else ["--no-optimizers"]),
             *([] if self.torchvision else ["--no-torchvision"])],
            pass_fds=[theirs.fileno()], env=_clean_env(), cwd="/",
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        theirs.close()
        self.control = ours
        self.startup_s: float | None = None   # known once it said it is ready

    def wait_ready(self) -> None:
        """Block until the zygote has preloaded its imports (it loads while we do other work)."""
        if self.startup_s is not None:
            return
        self.control.settimeout(self.start_timeout_s)
        try:
            line = self._readline()
        except OSError:
            line = b""
        if not line:
            self.process.kill()      # when it hangs; then its stderr ends
            detail = self.process.stderr.read().decode(errors="replace")[-2000:] if self.process.stderr else ""
            raise SandboxFault(f"the sandbox zygote failed to start: {detail}")
        self.startup_s = time.perf_counter() - self.started
        self.control.settimeout(30)

    def _readline(self) -> bytes:
        data = bytearray()
        while not data.endswith(b"\n"):
            chunk = self.control.recv(1)
            if not chunk:
                return b""
            data += chunk
        return bytes(data)

    def fork(self, request: dict, fds: list[int]) -> int:
        """Have the zygote fork a worker with ``fds`` (bridge, output, status); its pid.

        Raises :class:`ZygoteGone` when the zygote is not there to answer (the caller
        restarts it and tries again with fresh descriptors: a zygote that died after
        forking may have left a worker holding these)."""
        if self.cpus:
            request = {**request, "cpus": list(self.cpus)}
        return int(json.loads(self._ask(json.dumps(request).encode(), fds))["pid"])

    def channel(self) -> "Zygote":
        """A new handle on this zygote with a control connection of its own (waits until it
        is ready). Each grading process of a run forks its workers through one: one zygote
        serves every slot, so a run imports PyTorch once, holds one copy of it in memory,
        and starts as fast with N slots as with one.

        A channel behaves as a zygote of its own process: when the zygote dies, the next
        worker start through the channel replaces it with a new zygote owned by the
        channel's process (:meth:`restart`). Closing a channel leaves the zygote running.
        Raises :class:`ZygoteGone` or :class:`SandboxFault` when the zygote is not there."""
        ours, theirs = socket.socketpair()
        try:
            self._ask(b'{"op": "channel"}', [theirs.fileno()])
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        handle = copy.copy(self)                 # not __init__: that would start a process
        handle.__dict__.update(_lock=threading.Lock(), restarts=0, cpus=None, channel_of=self, control=ours)
        ours.settimeout(30)
        return handle

    def _ask(self, message: bytes, fds: list[int]) -> bytes:
        """Send one request (with ``fds``) once the zygote is ready; its one-line answer.
        :class:`ZygoteGone` when the zygote is not there to answer."""
        with self._lock:
            if self.failure is not None:
                raise SandboxFault(self.failure)
            self.wait_ready()
            try:
                socket.send_fds(self.control, [message], fds)
                line = self._readline()
            except OSError as exc:
                raise ZygoteGone(str(exc)) from None
        if not line:
            raise ZygoteGone("the control connection closed")
        return line

    def restart(self, why: str) -> None:
        """Replace a zygote that died with a new one (and wait until it is ready).

        Works in a process that adopted a zygote started by another (a forked grading
        process): the new zygote is this process's own. Raises :class:`SandboxFault` when
        the new one cannot start; later forks then fail at once.
        """
        with self._lock:
            if self.failure is not None:
                raise SandboxFault(self.failure)
            old = self.process
            try:
                self.control.close()
            except OSError:
                pass
            if old.stderr is not None:
                old.stderr.close()
            try:
                old.kill()             # when it is only stuck; harmless when it is dead
            except OSError:
                pass
            self.restarts += 1
            self.channel_of = None           # the new zygote is this handle's own
            try:
                self._spawn()
                self.wait_ready()
            except (OSError, SandboxFault) as exc:
                self.failure = (f"the sandbox zygote died ({why}) and a new one could not start: {exc}"
                                )[:4000]
                raise SandboxFault(self.failure) from None

    def alive(self) -> bool:
        return self.process.poll() is None

    def release(self) -> None:
        """Forget this zygote in a forked process that will not use it: close this process's
        copies of its pipes; the zygote keeps serving the process that owns it."""
        self.control.close()
        if self.channel_of is None and self.process.stderr is not None:
            self.process.stderr.close()

    def close(self) -> None:
        """Stop the zygote (it exits when its control socket closes) and reap it; for a
        channel, close the channel only."""
        try:
            self.control.close()
        finally:
            if self.channel_of is None:
                self._reap()

    def _reap(self) -> None:
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


# -- zygotes kept between runs ------------------------------------------------------------
_SPARES: list[Zygote] = []
MAX_SPARES = 4


def zygotes_for(count: int, optimizers: bool = True, torchvision: bool = True) -> list[Zygote]:
    """``count`` zygotes for a run: idle ones of an earlier run first (one that preloaded
    less than ``optimizers`` and ``torchvision`` ask is not taken), then new ones, which
    start importing PyTorch at once while the caller goes on with its own start-up."""
    ready: list[Zygote] = []
    for zygote in list(_SPARES):
        if len(ready) == count:
            break
        if (zygote.optimizers or not optimizers) and (zygote.torchvision or not torchvision):
            _SPARES.remove(zygote)
            if zygote.alive() and zygote.failure is None and _idle(zygote):
                ready.append(zygote)
            else:
                zygote.close()
    return ready + [Zygote(optimizers=optimizers, torchvision=torchvision) for _ in range(count - len(ready))]


def _idle(zygote: Zygote) -> bool:
    """Nothing unread on its control socket (a reply nobody read would answer the next fork)."""
    try:
        readable, _, _ = select.select([zygote.control], [], [], 0)
    except (OSError, ValueError):
        return False
    return not readable


def retire(zygotes: list[Zygote], reusable: bool) -> None:
    """After a run: keep ``zygotes`` for the next run when ``reusable`` (the run went as
    planned) and they are alive, within ``MAX_SPARES``; close the others."""
    for zygote in zygotes:
        if reusable and zygote.alive() and zygote.failure is None and len(_SPARES) < MAX_SPARES:
            _SPARES.append(zygote)
        else:
            zygote.close()


def close_spares() -> None:
    """Stop the idle zygotes kept for later runs (at exit, or for a fresh start)."""
    while _SPARES:
        _SPARES.pop().close()


atexit.register(close_spares)
