"""The grader's side of the sandbox: start the zygote, spawn workers, call into them.

Checks use :class:`Worker` (or its :class:`Ref` handles); every value they get back was
decoded by the safe loader and is plain data. Student failures surface as exceptions:

    SandboxError              base
    ├── StudentError          the student's code raised (type, message, student-only traceback)
    ├── WorkerCrash           the worker died (exit, signal, segfault, memory) or broke the protocol
    ├── WorkerTimeout         a call ran past its wall-clock limit (the worker is killed)
    └── SandboxFault          the grader's own machinery failed (the zygote is gone and cannot be
                              restarted, a worker could not start, the grader sent a value that
                              is not data): not the student's doing, never a grade

How a worker ended is reported by the zygote's monitor (:mod:`autograder.sandbox.zygote`)
and worded for the student by :func:`describe_exit`. A zygote that died is restarted by
the next worker start.
"""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import torch

from .zygotes import SandboxError, SandboxFault, Zygote, ZygoteGone  # noqa: F401  (re-exported)
from .procfs import stat_fields
from .protocol import Codec, Foreign, Kept, ProtocolError, decode, record_type, recv_frame, send_frame

__all__ = ["SandboxError", "StudentError", "WorkerCrash", "WorkerTimeout", "SandboxFault", "Ref", "Foreign",
           "Zygote", "Worker", "WorkerSettings", "namedtuple_value", "describe_exit"]

OUTPUT_LIMIT = 64 * 1024
STATUS_WAIT_S = 2.0         # how long a dead worker's monitor may take to report its end
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` (Linux ``/proc``), 0.0 where that cannot
    be read (another system, a process already gone)."""
    try:
        utime, stime = stat_fields(str(pid), 14, 15)
        return (int(utime) + int(stime)) / _CLOCK_TICKS
    except (OSError, IndexError, ValueError):
        return 0.0


class StudentError(SandboxError):
    """The student's code raised an exception."""

    def __init__(self, info: dict):
        self.type_name = str(info.get("type", "Exception"))
        self.mro = tuple(str(n) for n in info.get("mro", [self.type_name]))
        self.message = str(info.get("message", ""))
        self.student_traceback = str(info.get("traceback", ""))
        super().__init__(f"{self.type_name}: {self.message}" if self.message else self.type_name)

    def is_a(self, name: str) -> bool:
        """True when the student's exception is ``name`` or a subclass of it."""
        return name in self.mro


class WorkerCrash(SandboxError):
    """The worker process died or sent something that is not valid data."""


class WorkerTimeout(SandboxError):
    """A call into student code exceeded its time limit."""


@dataclass(frozen=True)
class Ref:
    """An object that lives in the worker (a module instance, an optimizer, a generator)."""

    worker: "Worker" = field(repr=False, compare=False)
    id: int
    type_name: str
    generation: int = field(default=0, compare=False)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.worker.call(self, *args, **kwargs)

    def method(self, name: str, *args: Any, keep: bool = False, **kwargs: Any) -> Any:
        """``obj.name(*args, **kwargs)``; ``keep=True``: the result stays in the worker."""
        return self.worker.call((self, name), *args, keep=keep, **kwargs)

    def attr(self, name: str, keep: bool = False) -> Any:
        """``obj.name``; ``keep=True``: it stays in the worker (its ``Ref``)."""
        return self.worker.getattr((self, name), keep=keep)


_RECORDS: dict[tuple[str, tuple[str, ...]], type] = {}


def namedtuple_value(name: str, fields: list[str], values: list[Any]) -> tuple:
    """A named tuple ``name(*values)`` that the worker rebuilds as a ``collections.namedtuple``
    (the same type for the same name and fields)."""
    key = (name, tuple(fields))
    if key not in _RECORDS:
        _RECORDS[key] = record_type(name, key[1])
    return _RECORDS[key](*values)


_SIGNALS = {
    signal.SIGSEGV: "a segmentation fault (signal SIGSEGV: an invalid memory access, e.g. through ctypes "
                    "or a C extension)",
    signal.SIGBUS: "a bus error (signal SIGBUS: an invalid memory access)",
    signal.SIGFPE: "an arithmetic fault in native code (signal SIGFPE)",
    signal.SIGILL: "an illegal instruction in native code (signal SIGILL)",
    signal.SIGXCPU: "its CPU-time limit running out (signal SIGXCPU)",
}
_OUT_OF_MEMORY = (b"std::bad_alloc", b"Cannot allocate memory", b"out of memory")


def _size(kb: int) -> str:
    return f"{kb / 2**20:.1f} GB" if kb >= 2**20 else f"{max(1, round(kb / 1024))} MB"


def describe_exit(status: dict | None, output: bytes = b"") -> str:
    """What a student reads when the worker died during a call, from what its monitor
    reported (``status``, see :mod:`autograder.sandbox.zygote`) and the end of what it
    printed. It states what is known and guesses nothing: "killed for using too much
    memory" only when the kernel's out-of-memory killer is known to have killed it.

    The memory limit itself (``RLIMIT_AS``, see :mod:`autograder.sandbox.confine`) is not
    a kill: an allocation past it fails inside the process, as a ``MemoryError`` or a
    PyTorch ``RuntimeError`` that the student's code raised.
    """
    crashed = "your code crashed the Python process running it"
    if not status:
        return f"{crashed} (sys.exit/os._exit, a signal, a segmentation fault or running out of memory)"
    peak = status.get("maxrss_kb")
    peak_text = f"; its peak memory was {_size(peak)}" if isinstance(peak, int) and peak > 0 else ""
    code, number = status.get("code"), status.get("signal")
    if isinstance(code, int):
        return (f"{crashed}: the process exited with code {code} (os._exit, or a library calling exit(); "
                f"sys.exit would have been reported as SystemExit)")
    if not isinstance(number, int):
        return f"{crashed} (the grader could not tell how it ended)"
    try:
        name = signal.Signals(number).name
    except ValueError:
        name = f"signal {number}"
    if number == signal.SIGKILL and isinstance(status.get("oom_kills"), int) and status["oom_kills"] > 0:
        return ("your code was killed for using too much memory: the system's out-of-memory killer stopped "
                f"the process running it (signal SIGKILL){peak_text}")
    # abort() in the worker as PID 1 of its namespace, where SIGABRT is ignored, ends in a
    # SIGSEGV: either signal, after a native library said it ran out of memory.
    if number in (signal.SIGABRT, signal.SIGSEGV) and any(marker in output[-8192:] for marker in _OUT_OF_MEMORY):
        return (f"{crashed}: it ran out of memory inside a native library, which then aborted "
                f"(signal {name}){peak_text}")
    if number in _SIGNALS:
        return f"{crashed}: {_SIGNALS[signal.Signals(number)]}{peak_text}"
    if number == signal.SIGABRT:
        return f"{crashed}: it aborted (signal SIGABRT, e.g. a failed check in a native library){peak_text}"
    return f"{crashed}: it was killed by {name} ({number}), not by the grader{peak_text}"


@dataclass(frozen=True)
class WorkerSettings:
    """How workers are confined."""

    isolate: bool = True
    memory_bytes: int = 4 << 30
    threads: int = 1
    gpu: bool = False
    start_timeout_s: float = 30.0
    seed: int = 0
    hide: tuple[str, ...] = ()      # folders to cover if they lie inside a mounted folder


class Worker:
    """One student's worker process, (re)started on demand.

    ``folder`` holds the copy of the student's files; ``root`` is an empty folder used as
    the mount point of the private root. After a crash or a timeout the next call starts
    a fresh worker and re-imports the modules imported before; references into the dead
    worker become invalid.
    """

    def __init__(self, zygote: Zygote, folder: str, root: str, settings: WorkerSettings = WorkerSettings(),
                 call_timeout_s: float = 10.0, deadline: float | None = None):
        self.zygote, self.folder, self.root, self.settings = zygote, folder, root, settings
        self.call_timeout_s = call_timeout_s
        self.deadline = deadline
        self.sock: socket.socket | None = None
        self.pid = 0
        self.generation = 0
        self.imported: list[str] = []
        self.isolations: list[dict] = []
        self.output = bytearray()
        self.output_dropped = 0
        self.startup_s = 0.0
        self.starts = 0
        self.cpu_s = 0.0          # CPU time of the worker processes this handle ended (see kill)
        self._drain: threading.Thread | None = None
        self._status_fd: int | None = None
        self.exit_statuses: list[dict] = []    # how each worker that died ended (its monitor's report)
        self.broken: SandboxError | None = None
        self._codec = _GraderCodec(self)

    def begin_check(self) -> None:
        """A new check starts: calls may (re)start the worker again after a crash or timeout."""
        self.broken = None

    # -- lifecycle -----------------------------------------------------------------
    def _start(self) -> None:
        started = time.perf_counter()
        request = {
            "isolate": self.settings.isolate, "submission": self.folder, "root": self.root,
            "gpu": self.settings.gpu, "threads": self.settings.threads, "seed": self.settings.seed,
            "hide": list(self.settings.hide),
            "limits": {"memory_bytes": self.settings.memory_bytes},
        }
        for attempt in (1, 2):
            ours, theirs = socket.socketpair()
            out_r, out_w = os.pipe()
            status_r, status_w = os.pipe()
            try:
                self.zygote.fork(request, [theirs.fileno(), out_w, status_w])
            except ZygoteGone as exc:
                for fd in (out_r, status_r):
                    os.close(fd)
                ours.close()
                if attempt == 2:
                    raise SandboxFault(f"the sandbox zygote died again right after a restart ({exc})") from None
                self.zygote.restart(str(exc))       # SandboxFault when a new one cannot start
                continue
            except BaseException:
                for fd in (out_r, status_r):
                    os.close(fd)
                ours.close()
                raise
            finally:
                theirs.close()
                os.close(out_w)
                os.close(status_w)
            break
        self._status_fd = status_r
        self._drain = threading.Thread(target=self._drain_output, args=(out_r,), daemon=True)
        self._drain.start()
        ours.settimeout(self.settings.start_timeout_s)
        self.sock = ours
        try:
            self.pid = int(decode(recv_frame(ours))["pid"])
            hello = decode(recv_frame(ours))
            isolation = hello["isolation"]
        except (EOFError, OSError, ProtocolError, KeyError, TypeError) as exc:
            status = self._exit_status() if isinstance(exc, EOFError) else None
            self.kill()
            ended = f"; it ended with {status}" if status else ""
            raise SandboxFault(f"the sandbox worker failed to start ({exc}{ended})") from None
        self.isolations.append(isolation)
        self.generation += 1
        self.starts += 1
        self.startup_s += time.perf_counter() - started
        for module in self.imported:
            self._request({"op": "import", "module": module})

    def _drain_output(self, fd: int) -> None:
        """Keep the first OUTPUT_LIMIT bytes the worker prints; read and drop the rest
        in large chunks, so printing a gigabyte costs the grader little."""
        try:
            while chunk := os.read(fd, 1 << 20):
                room = OUTPUT_LIMIT - len(self.output)
                if room > 0:
                    self.output += chunk[:room]
                self.output_dropped += max(0, len(chunk) - max(room, 0))
        finally:
            os.close(fd)

    def _exit_status(self, wait_s: float = STATUS_WAIT_S) -> dict | None:
        """How the worker ended, as its monitor reports it once the worker is reaped; None
        when no report came within ``wait_s`` (the worker may still be running)."""
        fd = self._status_fd
        if fd is None:
            return None
        data = bytearray()
        deadline = time.monotonic() + wait_s
        while not data.endswith(b"\n") and len(data) < 4096:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                return None
            chunk = os.read(fd, 4096)
            if not chunk:
                break
            data += chunk
        try:
            status = json.loads(bytes(data))
        except ValueError:
            return None
        if not isinstance(status, dict):
            return None
        # Only the fields the monitor writes, as ints: nothing else is trusted or shown.
        return {k: v for k, v in status.items() if k in ("code", "signal", "core", "maxrss_kb", "oom_kills")
                and type(v) in (int, bool)}

    def kill(self) -> None:
        """Kill the worker and everything it started (its PID namespace or process group).

        Adds the worker process's CPU time so far to ``cpu_s`` first (what the student's
        code and the worker's side of the wire cost; a benchmark figure, never a limit)."""
        if self.pid:
            self.cpu_s += process_cpu_s(self.pid)
            for kill in (lambda: os.kill(self.pid, signal.SIGKILL), lambda: os.killpg(self.pid, signal.SIGKILL)):
                try:
                    kill()
                except (ProcessLookupError, PermissionError):
                    pass
        if self.sock is not None:
            self.sock.close()
        if self._status_fd is not None:
            os.close(self._status_fd)
        self.sock, self.pid, self._status_fd = None, 0, None

    close = kill

    # -- requests ------------------------------------------------------------------
    def _timeout(self, timeout: float | None) -> float:
        limit = self.call_timeout_s if timeout is None else timeout
        if self.deadline is not None:
            left = self.deadline - time.monotonic()
            if left <= 0:
                raise WorkerTimeout("the time budget for this submission is used up")
            limit = min(limit, left)
        return limit

    def _request(self, request: dict, timeout: float | None = None) -> Any:
        # After a crash or timeout the rest of the same check fails at once: a property
        # test would otherwise pay the time limit again for every example it shrinks.
        if self.broken is not None:
            raise type(self.broken)(str(self.broken))
        try:
            return self._exchange(request, timeout)
        except (WorkerTimeout, WorkerCrash) as exc:
            self.broken = exc
            raise
        except SandboxFault as exc:
            if self.sock is None:       # the worker could not be (re)started
                self.broken = exc
            raise

    def _exchange(self, request: dict, timeout: float | None) -> Any:
        try:
            payload = self._codec.encode(request)
        except ProtocolError as exc:
            # The grader's own request is not data (a check passed something else): a fault
            # of the grader, and the worker is untouched.
            raise SandboxFault(f"the grader could not send a request to the worker: {exc}") from None
        if self.sock is None:
            self._start()
        limit = self._timeout(timeout)
        assert self.sock is not None
        try:
            self.sock.settimeout(limit)
            send_frame(self.sock, payload)
            response = self._codec.decode(recv_frame(self.sock))
        except socket.timeout:
            self.kill()
            raise WorkerTimeout(f"your code did not finish within {limit:.0f} s (an infinite loop?)") from None
        except (EOFError, OSError, ProtocolError) as exc:
            message = self._crash_message(exc)
            self.kill()
            raise WorkerCrash(message) from None
        if not isinstance(response, dict) or not ("ok" in response or "error" in response):
            self.kill()
            raise WorkerCrash("the worker sent a malformed response")
        if "error" in response:
            if not isinstance(response["error"], dict):
                raise WorkerCrash("the worker sent a malformed error")
            raise StudentError(response["error"])
        return response["ok"]

    def _crash_message(self, exc: Exception) -> str:
        """Why the connection to the worker broke, in the words of :func:`describe_exit`."""
        if isinstance(exc, ProtocolError):
            return f"your code broke the connection to the grader ({exc})"
        status = self._exit_status()
        if status is None:
            # No report: the worker closed its end of the connection and is still running
            # (it is killed now), or its monitor is gone; say only what is known.
            return describe_exit(None)
        self.exit_statuses.append(status)
        if self._drain is not None:
            self._drain.join(timeout=0.5)   # the end of its output may name the cause
        return describe_exit(status, bytes(self.output))

    def _target(self, target: Any) -> dict:
        if isinstance(target, str):
            return {"path": target}
        if isinstance(target, Ref):
            return {"ref": self._codec.other(target).id}
        if isinstance(target, tuple) and len(target) == 2 and isinstance(target[0], Ref):
            return {"ref": self._codec.other(target[0]).id, "attrs": [target[1]]}
        raise TypeError(f"not a call target: {target!r}")

    # -- the primitives checks use ------------------------------------------------
    def import_module(self, module: str, timeout: float | None = None) -> None:
        """Import a student module (its top-level code runs now)."""
        self._request({"op": "import", "module": module}, timeout)
        if module not in self.imported:
            self.imported.append(module)

    def call(self, target: Any, *args: Any, keep: bool = False, _timeout: float | None = None, **kwargs: Any) -> Any:
        """Call ``target`` ("module.func", a Ref, or (Ref, "method")) with data or Ref arguments."""
        return self._request({"op": "call", "target": self._target(target), "args": list(args),
                              "kwargs": kwargs, "keep": keep}, _timeout)

    def call_returning_args(self, target: Any, *args: Any, **kwargs: Any) -> tuple[Any, list, dict]:
        """Like :meth:`call`, and also return the arguments as they are after the call."""
        out = self._request({"op": "call", "target": self._target(target), "args": list(args),
                             "kwargs": kwargs, "return_args": True})
        return out["result"], out["args"], out["kwargs"]

    def construct(self, path: str, *args: Any, **kwargs: Any) -> Ref:
        """Build an object (a student class, a torch optimizer) and keep it in the worker."""
        return self.call(path, *args, keep=True, **kwargs)

    def getattr(self, target: Any, keep: bool = False) -> Any:
        return self._request({"op": "getattr", "target": self._target(target), "keep": keep})

    def setattr(self, target: Any, name: str, value: Any) -> None:
        self._request({"op": "setattr", "target": self._target(target), "name": name, "value": value})

    def put(self, value: Any) -> Ref:
        """Send data (tensors may require grad) and keep it in the worker as a leaf object."""
        return self._request({"op": "put", "value": value})

    def parameters(self, module: Ref, every_name: bool = False) -> dict[str, dict]:
        """``{name: {"value", "grad", "is_parameter", "device"}}`` of a module in the worker;
        see :meth:`autograder.checks.plugin.Student.parameters` for ``every_name``."""
        request = {"op": "params", "target": self._target(module)}
        if every_name:
            request["every_name"] = True
        return self._request(request)

    def describe(self, target: Any) -> dict:
        return self._request({"op": "describe", "target": self._target(target)})

    def grad(self, target: Any, args: list[Any], wrt: list[int], upstream: torch.Tensor | None = None,
             kwargs: dict | None = None) -> dict:
        """One round trip: ``out = target(*args)`` with ``args[i]`` (i in ``wrt``) as leaves that
        require grad, then ``out.backward(upstream)``. Returns ``{"output", "info", "grads"}``;
        ``info`` describes the output (type, requires_grad, ...); grads are None when the
        output is not a tensor connected to the graph."""
        return self._request({"op": "grad", "target": self._target(target), "args": list(args),
                              "kwargs": kwargs or {}, "wrt": list(wrt), "upstream": upstream})

    def backward(self, tensor: Ref, grad: torch.Tensor | None = None) -> None:
        """Run ``tensor.backward(grad)`` in the worker."""
        self.call((tensor, "backward"), *([] if grad is None else [grad]))

    def patch(self, path: str, value: Any) -> None:
        """Make a library function return ``value`` (e.g. ``torch.cuda.is_available``)."""
        self._request({"op": "patch", "path": path, "value": value})

    def submission_path(self, *parts: str) -> str:
        """A path inside the submission folder as the worker sees it (``/submission/...`` in
        the sandbox): the worker's working directory is a scratch folder, not the submission."""
        folder = self._request({"op": "folder"})
        return "/".join([str(folder).rstrip("/"), *parts])

    def simulate_machine(self, cuda: bool, mps: bool) -> None:
        """Make every public probe of CUDA and MPS in the worker describe one machine
        (:mod:`autograder.sandbox.machine`); :meth:`unpatch` ends the simulation."""
        self._request({"op": "machine", "cuda": bool(cuda), "mps": bool(mps)})

    def unpatch(self) -> None:
        self._request({"op": "unpatch"})

    def free(self, *refs: Ref) -> None:
        live = [r.id for r in refs if r.generation == self.generation]
        if live and self.sock is not None:
            self._request({"op": "free", "ids": live})

    def seed(self, seed: int) -> None:
        self._request({"op": "seed", "seed": seed})

    @property
    def alive(self) -> bool:
        return self.sock is not None


class _GraderCodec(Codec):
    """The grader's side of the codec: a :class:`Ref` crosses as the reference it is (if it
    is from the running worker); a list, tuple or dict subclass as its plain counterpart;
    anything else that is not data is refused. A reference decodes to a :class:`Ref`; a
    tensor that lived on a GPU lands on it when this machine has one, otherwise it is a
    :class:`RemoteDeviceTensor` that names its device."""

    def __init__(self, worker: "Worker"):
        super().__init__()
        self.worker = worker

    def other(self, value: Any) -> Any:
        if isinstance(value, Ref):
            if value.generation != self.worker.generation or self.worker.sock is None:
                raise WorkerCrash("a reference into a worker that was restarted")
            return Kept(value.id, value.type_name)
        if isinstance(value, (list, tuple)) and type(value) not in (list, tuple):
            return list(value)
        if isinstance(value, dict) and type(value) is not dict:
            return dict(value)
        return super().other(value)

    def ref(self, id: int, type_name: str) -> Ref:
        return Ref(self.worker, id, type_name, self.worker.generation)

    def device_tensor(self, tensor: torch.Tensor, device: str) -> torch.Tensor:
        if device.startswith("cuda") and torch.cuda.is_available():
            return tensor.to(device)
        return RemoteDeviceTensor.wrap(tensor, device)


class RemoteDeviceTensor(torch.Tensor):
    """A CPU copy of a tensor that lived on another device (e.g. CUDA) in the worker.

    ``remote_device`` names that device, so a check can tell where the value was.
    """

    remote_device: str = "cpu"

    @staticmethod
    def wrap(tensor: torch.Tensor, device: str) -> torch.Tensor:
        out = tensor.as_subclass(RemoteDeviceTensor)
        out.remote_device = device
        return out
