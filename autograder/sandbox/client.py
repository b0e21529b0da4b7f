"""The grader's side of the sandbox: start the zygote, spawn workers, call into them.

Checks use :class:`Worker` (or its :class:`Ref` handles); every value they get back was
decoded by the safe loader and is plain data. Student failures surface as exceptions:

    SandboxError              base
    ├── StudentError          the student's code raised (type, message, student-only traceback)
    ├── WorkerCrash           the worker died (exit, signal, segfault, memory) or broke the protocol
    └── WorkerTimeout         a call ran past its wall-clock limit (the worker is killed)
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import torch

from .protocol import KIND, ProtocolError, decode, encode, recv_frame, send_frame

__all__ = ["SandboxError", "StudentError", "WorkerCrash", "WorkerTimeout", "Ref", "Foreign",
           "Zygote", "Worker", "WorkerSettings", "namedtuple_value"]

OUTPUT_LIMIT = 64 * 1024


class SandboxError(Exception):
    """Student code could not produce a result."""


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
class Foreign:
    """A scalar whose real type is not a plain Python one (e.g. ``numpy.float64``)."""

    type_name: str
    value: Any


@dataclass(frozen=True)
class Ref:
    """An object that lives in the worker (a module instance, an optimizer, a generator)."""

    worker: "Worker" = field(repr=False, compare=False)
    id: int
    type_name: str
    generation: int = field(default=0, compare=False)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.worker.call(self, *args, **kwargs)

    def method(self, name: str, *args: Any, _keep: bool = False, **kwargs: Any) -> Any:
        return self.worker.call((self, name), *args, _keep=_keep, **kwargs)

    def attr(self, name: str, _keep: bool = False) -> Any:
        return self.worker.getattr((self, name), keep=_keep)


def namedtuple_value(name: str, fields: list[str], values: list[Any]) -> dict:
    """A wire value the worker rebuilds as a named tuple (same type for the same name/fields)."""
    return {KIND: "namedtuple", "name": name, "fields": list(fields), "values": list(values)}


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


class Zygote:
    """A preloaded interpreter that forks workers (one per grading process)."""

    def __init__(self, start_timeout_s: float = 120.0):
        ours, theirs = socket.socketpair()
        self.started = time.perf_counter()
        self.process = subprocess.Popen(
            [sys.executable, "-I", "-m", "autograder.sandbox.zygote", str(theirs.fileno())],
            pass_fds=[theirs.fileno()], env=_clean_env(), cwd="/",
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        theirs.close()
        self.control = ours
        self.start_timeout_s = start_timeout_s
        self._lock = threading.Lock()
        self.startup_s: float | None = None   # known once it said it is ready

    def wait_ready(self) -> None:
        """Block until the zygote has preloaded its imports (it loads while we do other work)."""
        if self.startup_s is not None:
            return
        self.control.settimeout(self.start_timeout_s)
        line = self._readline()
        if not line:
            detail = self.process.stderr.read().decode(errors="replace")[-2000:] if self.process.stderr else ""
            raise RuntimeError(f"the sandbox zygote failed to start: {detail}")
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
        with self._lock:
            self.wait_ready()
            socket.send_fds(self.control, [json.dumps(request).encode()], fds)
            line = self._readline()
        if not line:
            raise RuntimeError("the sandbox zygote died")
        return int(json.loads(line)["pid"])

    def alive(self) -> bool:
        return self.process.poll() is None

    def release(self) -> None:
        """Forget this zygote in a forked process that will not use it: close this process's
        copies of its pipes; the zygote keeps serving the process that owns it."""
        self.control.close()
        if self.process.stderr is not None:
            self.process.stderr.close()

    def close(self) -> None:
        """Stop the zygote (it exits when its control socket closes) and reap it."""
        try:
            self.control.close()
        finally:
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


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
        self._drain: threading.Thread | None = None
        self.broken: SandboxError | None = None

    def begin_check(self) -> None:
        """A new check starts: calls may (re)start the worker again after a crash or timeout."""
        self.broken = None

    # -- lifecycle -----------------------------------------------------------------
    def _start(self) -> None:
        started = time.perf_counter()
        ours, theirs = socket.socketpair()
        out_r, out_w = os.pipe()
        request = {
            "isolate": self.settings.isolate, "submission": self.folder, "root": self.root,
            "gpu": self.settings.gpu, "threads": self.settings.threads, "seed": self.settings.seed,
            "hide": list(self.settings.hide),
            "limits": {"memory_bytes": self.settings.memory_bytes},
        }
        try:
            self.zygote.fork(request, [theirs.fileno(), out_w])
        finally:
            theirs.close()
            os.close(out_w)
        self._drain = threading.Thread(target=self._drain_output, args=(out_r,), daemon=True)
        self._drain.start()
        ours.settimeout(self.settings.start_timeout_s)
        self.sock = ours
        try:
            self.pid = int(decode(recv_frame(ours))["pid"])
            hello = decode(recv_frame(ours))
        except (EOFError, OSError, ProtocolError, KeyError, TypeError) as exc:
            self.kill()
            raise WorkerCrash(f"the sandbox worker failed to start ({exc})") from None
        self.isolations.append(hello["isolation"])
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

    def kill(self) -> None:
        """Kill the worker and everything it started (its PID namespace or process group)."""
        if self.pid:
            for kill in (lambda: os.kill(self.pid, signal.SIGKILL), lambda: os.killpg(self.pid, signal.SIGKILL)):
                try:
                    kill()
                except (ProcessLookupError, PermissionError):
                    pass
        if self.sock is not None:
            self.sock.close()
        self.sock, self.pid = None, 0

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

    def _exchange(self, request: dict, timeout: float | None) -> Any:
        if self.sock is None:
            self._start()
        limit = self._timeout(timeout)
        assert self.sock is not None
        try:
            self.sock.settimeout(limit)
            send_frame(self.sock, encode(request))
            response = decode(recv_frame(self.sock))
        except socket.timeout:
            self.kill()
            raise WorkerTimeout(f"your code did not finish within {limit:.0f} s (an infinite loop?)") from None
        except (EOFError, OSError, ProtocolError) as exc:
            self.kill()
            raise WorkerCrash(self._crash_message(exc)) from None
        if not isinstance(response, dict) or not ("ok" in response or "error" in response):
            self.kill()
            raise WorkerCrash("the worker sent a malformed response")
        if "error" in response:
            if not isinstance(response["error"], dict):
                raise WorkerCrash("the worker sent a malformed error")
            raise StudentError(response["error"])
        return self._from_wire(response["ok"])

    def _crash_message(self, exc: Exception) -> str:
        if isinstance(exc, ProtocolError):
            return f"your code broke the connection to the grader ({exc})"
        return ("your code crashed the Python process running it (sys.exit/os._exit, a signal, "
                "a segmentation fault or running out of memory)")

    def _to_wire(self, value: Any) -> Any:
        if isinstance(value, Ref):
            if value.generation != self.generation or self.sock is None:
                raise WorkerCrash("a reference into a worker that was restarted")
            return {KIND: "ref", "id": value.id}
        if isinstance(value, torch.dtype):
            return {KIND: "dtype", "name": str(value).removeprefix("torch.")}
        if isinstance(value, torch.device):
            return {KIND: "device", "name": str(value)}
        if isinstance(value, torch.Tensor):
            plain = value.detach()
            if plain.device.type not in ("cpu", "meta"):
                return {KIND: "tensor", "device": str(plain.device), "value": plain.cpu(),
                        "requires_grad": value.requires_grad}
            return plain.clone().requires_grad_(value.requires_grad) if plain.device.type == "cpu" else plain
        if type(value).__module__ == "numpy" and type(value).__name__ == "ndarray":
            return {KIND: "ndarray", "value": torch.from_numpy(value.copy()), "dtype": str(value.dtype)}
        if isinstance(value, tuple) and hasattr(type(value), "_fields"):
            return namedtuple_value(type(value).__name__, list(type(value)._fields), [self._to_wire(v) for v in value])
        if isinstance(value, (list, tuple)):
            return type(value)(self._to_wire(v) for v in value) if type(value) in (list, tuple) else list(map(self._to_wire, value))
        if isinstance(value, dict):
            if KIND in value:
                return value
            return {k: self._to_wire(v) for k, v in value.items()}
        return value

    def _from_wire(self, value: Any) -> Any:
        kind = type(value)
        if kind is list:
            return [self._from_wire(v) for v in value]
        if kind is tuple:
            return tuple(self._from_wire(v) for v in value)
        if kind is dict:
            tag = value.get(KIND)
            if tag is None:
                return {k: self._from_wire(v) for k, v in value.items()}
            if tag == "ref":
                return Ref(self, int(value["id"]), str(value.get("type", "")), self.generation)
            if tag == "dtype":
                name = str(value["name"])
                dtype = getattr(torch, name, None)
                return dtype if isinstance(dtype, torch.dtype) else Foreign("torch.dtype", name)
            if tag == "device":
                return torch.device(str(value["name"]))
            if tag == "size":
                return torch.Size([int(v) for v in value["value"]])
            if tag == "ndarray":
                return value["value"].numpy()
            if tag == "scalar":
                return Foreign(str(value["type"]), value["value"])
            if tag == "tensor":
                tensor = value["value"]
                device = str(value["device"])
                if device.startswith("cuda") and torch.cuda.is_available():
                    return tensor.to(device)
                return RemoteDeviceTensor.wrap(tensor, device)
            return {k: self._from_wire(v) for k, v in value.items()}
        return value

    def _target(self, target: Any) -> dict:
        if isinstance(target, str):
            return {"path": target}
        if isinstance(target, Ref):
            return {"ref": self._to_wire(target)["id"]}
        if isinstance(target, tuple) and len(target) == 2 and isinstance(target[0], Ref):
            return {"ref": self._to_wire(target[0])["id"], "attrs": [target[1]]}
        raise TypeError(f"not a call target: {target!r}")

    # -- the primitives checks use ------------------------------------------------
    def import_module(self, module: str, timeout: float | None = None) -> None:
        """Import a student module (its top-level code runs now)."""
        self._request({"op": "import", "module": module}, timeout)
        if module not in self.imported:
            self.imported.append(module)

    def call(self, target: Any, *args: Any, _keep: bool = False, _timeout: float | None = None, **kwargs: Any) -> Any:
        """Call ``target`` ("module.func", a Ref, or (Ref, "method")) with data or Ref arguments."""
        return self._request({"op": "call", "target": self._target(target), "args": self._to_wire(list(args)),
                              "kwargs": self._to_wire(kwargs), "keep": _keep}, _timeout)

    def call_returning_args(self, target: Any, *args: Any, **kwargs: Any) -> tuple[Any, list, dict]:
        """Like :meth:`call`, and also return the arguments as they are after the call."""
        out = self._request({"op": "call", "target": self._target(target), "args": self._to_wire(list(args)),
                             "kwargs": self._to_wire(kwargs), "return_args": True})
        return out["result"], out["args"], out["kwargs"]

    def construct(self, path: str, *args: Any, **kwargs: Any) -> Ref:
        """Build an object (a student class, a torch optimizer) and keep it in the worker."""
        return self.call(path, *args, _keep=True, **kwargs)

    def getattr(self, target: Any, keep: bool = False) -> Any:
        return self._request({"op": "getattr", "target": self._target(target), "keep": keep})

    def setattr(self, target: Any, name: str, value: Any) -> None:
        self._request({"op": "setattr", "target": self._target(target), "name": name, "value": self._to_wire(value)})

    def put(self, value: Any) -> Ref:
        """Send data (tensors may require grad) and keep it in the worker as a leaf object."""
        return self._request({"op": "put", "value": self._to_wire(value)})

    def parameters(self, module: Ref) -> dict[str, dict]:
        """``{name: {"value", "grad", "is_parameter", "device"}}`` of a module in the worker."""
        return self._request({"op": "params", "target": self._target(module)})

    def describe(self, target: Any) -> dict:
        return self._request({"op": "describe", "target": self._target(target)})

    def grad(self, target: Any, args: list[Any], wrt: list[int], upstream: torch.Tensor | None = None,
             kwargs: dict | None = None) -> dict:
        """One round trip: ``out = target(*args)`` with ``args[i]`` (i in ``wrt``) as leaves that
        require grad, then ``out.backward(upstream)``. Returns ``{"output", "info", "grads"}``;
        ``info`` describes the output (type, requires_grad, ...); grads are None when the
        output is not a tensor connected to the graph."""
        return self._request({"op": "grad", "target": self._target(target), "args": self._to_wire(list(args)),
                              "kwargs": self._to_wire(kwargs or {}), "wrt": list(wrt),
                              "upstream": self._to_wire(upstream)})

    def backward(self, tensor: Ref, grad: torch.Tensor | None = None) -> None:
        """Run ``tensor.backward(grad)`` in the worker."""
        self.call((tensor, "backward"), *([] if grad is None else [grad]))

    def patch(self, path: str, value: Any) -> None:
        """Make a library function return ``value`` (e.g. ``torch.cuda.is_available``)."""
        self._request({"op": "patch", "path": path, "value": self._to_wire(value)})

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
