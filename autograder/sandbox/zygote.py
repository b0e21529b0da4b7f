"""The zygote: a clean interpreter that preloads PyTorch once and forks workers.

Started by the grader as ``python -I -m autograder.sandbox.zygote FD [--no-optimizers]
[--no-torchvision]`` with a clean environment; FD is its end of a control socket. It
imports torch and NumPy (about 3 s, paid once), torchvision unless ``--no-torchvision``
(3.5 s more: it imports ``torch._dynamo``), makes the stock optimizers skip their
``torch._dynamo`` import (:mod:`.eager_optim`) and, unless ``--no-optimizers``, builds one
to warm what a first optimizer touches; never the solutions or the checks. It then answers spawn
requests: a JSON line with the worker's settings (``"cpus"``: the cores it is to run on),
plus three file descriptors (the worker's end of the bridge socket, the write end of its
output pipe, the write end of its status pipe). For each it forks a monitor, which forks
the worker; the worker confines itself (``confine``) and serves the bridge (``worker``).
The zygote replies with the monitor's pid. Requests also come on channels, further control
connections opened through the first (:func:`serve`). It exits when the control socket
closes.

The monitor reports how the worker ended, like CPython's forkserver: when the worker is
reaped it writes one JSON line to the status pipe, ``{"code": N}`` (it exited) or
``{"signal": N, "core": bool}`` (a signal killed it), with ``"maxrss_kb"`` (its peak
resident memory) and ``"oom_kills"`` (how many processes the kernel's out-of-memory
killer killed in the grader's memory cgroup while the worker ran; absent when the
cgroup does not say). The worker never holds the status pipe, so student code cannot
write a status of its own.

Process tree of one worker::

    zygote ── monitor (setsid; unshares namespaces; waits) ── worker (PID 1 of its PID
                                                                namespace, private root)
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import resource


def _close_other_fds(keep: set[int]) -> None:
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd > 2 and fd not in keep:
            try:
                os.close(fd)
            except OSError:
                pass


def oom_counter_file() -> str | None:
    """The cgroup file whose ``oom_kill N`` line counts the out-of-memory kills in this
    process's memory cgroup (cgroup v2 ``memory.events``, v1 ``memory.oom_control``), or
    None when there is none to read."""
    candidates = []
    try:
        with open("/proc/self/cgroup") as handle:
            lines = handle.read().splitlines()
    except OSError:
        lines = []
    for line in lines:
        _, controllers, path = line.split(":", 2) if line.count(":") >= 2 else ("", "-", "")
        if controllers == "":
            candidates.append(os.path.normpath(f"/sys/fs/cgroup/{path}/memory.events"))
        elif "memory" in controllers.split(","):
            candidates.append(os.path.normpath(f"/sys/fs/cgroup/memory/{path}/memory.oom_control"))
    candidates += ["/sys/fs/cgroup/memory.events", "/sys/fs/cgroup/memory/memory.oom_control"]
    for candidate in candidates:
        try:
            fd = os.open(candidate, os.O_RDONLY)
        except OSError:
            continue
        try:
            if _oom_kills(fd) is not None:
                return candidate
        finally:
            os.close(fd)
    return None


def _oom_kills(fd: int | None) -> int | None:
    """The ``oom_kill`` count of an open cgroup file, read from its start."""
    if fd is None:
        return None
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        text = os.read(fd, 8192).decode(errors="replace")
    except OSError:
        return None
    for line in text.splitlines():
        name, _, value = line.partition(" ")
        if name == "oom_kill" and value.strip().isdigit():
            return int(value)
    return None


def exit_status(status: int, rusage: "resource.struct_rusage | None" = None,
                oom_kills: int | None = None) -> dict:
    """What the monitor reports of a reaped worker (see module docstring)."""
    out: dict = {}
    if os.WIFSIGNALED(status):
        out.update(signal=os.WTERMSIG(status), core=bool(os.WCOREDUMP(status)))
    elif os.WIFEXITED(status):
        out["code"] = os.WEXITSTATUS(status)
    if rusage is not None:
        out["maxrss_kb"] = int(rusage.ru_maxrss)
    if oom_kills is not None:
        out["oom_kills"] = oom_kills
    return out


def _run_worker(request: dict, bridge_fd: int, output_fd: int, status_fd: int | None = None) -> None:
    """In the forked child (the monitor): confine, fork the worker, report its pid, wait
    for it and report how it ended on ``status_fd``."""
    from . import confine, worker
    from .protocol import encode, send_frame

    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    os.setsid()
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(output_fd, 1)
    os.dup2(output_fd, 2)
    counter = request.get("oom_counter")
    try:
        counter_fd = os.open(counter, os.O_RDONLY) if isinstance(counter, str) else None
    except OSError:
        counter_fd = None
    _close_other_fds({bridge_fd} | {fd for fd in (status_fd, counter_fd) if fd is not None})
    if request.get("cpus"):
        # The grading slot's core (one zygote serves every slot): the worker, forked below,
        # inherits it, so its round trips with the slot's grading process stay on one core.
        try:
            os.sched_setaffinity(0, request["cpus"])
        except (OSError, ValueError):
            pass        # an optimisation only: a container may forbid it
    oom_before = _oom_kills(counter_fd)
    bridge = socket.socket(fileno=bridge_fd)
    state = confine.Confinement()
    real_root = os.getuid() == 0
    namespaces = bool(request["isolate"]) and confine.unshare_namespaces(state)
    ready_r, ready_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        for fd in (status_fd, counter_fd):     # the monitor's alone: student code runs here
            if fd is not None:
                os.close(fd)
        os.close(ready_w)
        os.read(ready_r, 1)      # speak on the bridge only after the monitor's hello
        os.close(ready_r)
        folder = request["submission"]
        try:
            confine.prctl(confine.PR_SET_PDEATHSIG, signal.SIGKILL)
            if namespaces:
                state.processes = "private"
                try:
                    confine.enter_private_root(state, request["root"], folder, request.get("gpu", False),
                                               tuple(request.get("hide", ())))
                    folder = confine.SUBMISSION_DIR
                except OSError as exc:
                    state.notes.append(f"private root unavailable: {exc}")
                    os.chdir(folder)
            else:
                os.chdir(folder)
            if request["isolate"]:
                confine.drop_privileges(state, real_root)
                confine.prctl(confine.PR_SET_PDEATHSIG, signal.SIGKILL)  # a uid change clears it
            confine.apply_limits(state, confine.Limits(**request.get("limits", {})))
            import torch

            torch.set_num_threads(max(1, int(request.get("threads", 1))))
            torch.manual_seed(int(request.get("seed", 0)))   # reproducible from the first call
            worker.serve(bridge, folder, {"hello": "ready", "isolation": state.as_dict()})
        finally:
            os._exit(0)
    os.close(ready_r)
    send_frame(bridge, encode({"hello": "pid", "pid": pid}))
    os.write(ready_w, b"x")
    os.close(ready_w)
    bridge.close()
    try:
        _, status, rusage = os.wait4(pid, 0)
    except ChildProcessError:
        os._exit(0)
    if status_fd is not None:
        after = _oom_kills(counter_fd)
        kills = after - oom_before if after is not None and oom_before is not None else None
        try:
            os.write(status_fd, json.dumps(exit_status(status, rusage, kills)).encode() + b"\n")
        except OSError:
            pass            # the grader stopped listening
    os._exit(0)


def main() -> None:
    control = socket.socket(fileno=int(sys.argv[1]))
    import numpy  # noqa: F401  (preloaded so that workers start fast)
    import torch  # noqa: F401

    if "--no-torchvision" not in sys.argv[2:]:
        import torchvision  # noqa: F401  (3.5 s: it imports torch._dynamo)

    from . import confine, protocol, worker  # noqa: F401
    from .eager_optim import use_eager_optimizers

    # A student's optimizer.step() would otherwise import torch._dynamo (2.5 s) in every
    # worker, or here, before the first worker could start: grading never compiles.
    use_eager_optimizers()
    # PyTorch imports some of itself on first use, which each worker (one per student)
    # would pay again: a first backward pass with an explicit gradient imports torch.fx's
    # symbolic shapes and sympy (0.5 s), a first operator on the meta device its kernels
    # (torch._meta_registrations, 1.4 s; the checks of devices and training use it).
    # torchvision's import of torch._dynamo would pull both in; without it, they are here.
    warm = torch.zeros(2, requires_grad=True)
    (warm * 2).backward(torch.ones(2))
    meta = torch.empty(2, 1, device="meta")
    torch.stack([meta[0], meta[1]])
    # Warm what a first optimizer touches: once here rather than in every worker; not for
    # a run whose checks build no optimizer ("--no-optimizers").
    if "--no-optimizers" not in sys.argv[2:]:
        torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)

    if "solutions" in sys.modules or any(m.startswith("autograder.checks") for m in sys.modules):
        raise SystemExit("zygote: reference code must never be loaded here")
    # The imports leave about a million objects. Frozen, a worker's garbage collections
    # skip them (and leave their pages shared with this process): otherwise every full
    # collection in every worker walks them all again.
    import gc

    gc.collect()
    gc.freeze()
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)   # children are reaped by the kernel
    oom_counter = oom_counter_file()
    control.sendall(b'{"ready": true}\n')
    serve(control, oom_counter)
    # The grader is done with us. Nothing needs finalising, and an orderly interpreter
    # shutdown with torch loaded takes about a second, which the grader would wait for.
    os._exit(0)


def serve(control: socket.socket, oom_counter: str | None) -> None:
    """Answer requests until ``control`` closes: on ``control`` and on every channel opened
    through it (``{"op": "channel"}`` with one descriptor, the zygote's end of a new control
    connection: one per grading process, so that all the slots of a run fork their workers
    from this one preloaded interpreter). A channel that closes is dropped; when
    ``control`` closes, the zygote is done."""
    import select

    controls = [control]
    while True:
        readable, _, _ = select.select(controls, [], [])
        for sock in readable:
            try:
                message, fds, _, _ = socket.recv_fds(sock, 65536, 3)
            except OSError:
                message, fds = b"", []
            if not message:
                for fd in fds:
                    os.close(fd)
                if sock is control:
                    return
                controls.remove(sock)
                sock.close()
                continue
            request = json.loads(message)
            if request.get("op") == "channel":
                controls.append(socket.socket(fileno=fds[0]))
                sock.sendall(b'{"ok": true}\n')
                continue
            request["oom_counter"] = oom_counter
            pid = os.fork()
            if pid == 0:
                try:
                    for other in controls:
                        other.close()
                    _run_worker(request, fds[0], fds[1], fds[2] if len(fds) > 2 else None)
                finally:
                    os._exit(0)
            for fd in fds:
                os.close(fd)
            sock.sendall(json.dumps({"pid": pid}).encode() + b"\n")


if __name__ == "__main__":
    main()
