"""The zygote: a clean interpreter that preloads PyTorch once and forks workers.

Started by the grader as ``python -I -m autograder.sandbox.zygote FD`` with a clean
environment; FD is its end of a control socket. It imports torch, torchvision and
NumPy (about 2.6 s, paid once), never the solutions or the checks, then answers spawn
requests: a JSON line with the worker's settings, plus two file descriptors (the
worker's end of the bridge socket, the write end of its output pipe). For each it
forks; the child confines itself (``confine``) and serves the bridge (``worker``).
The zygote replies with the child's pid. It exits when the control socket closes.

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


def _close_other_fds(keep: set[int]) -> None:
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd > 2 and fd not in keep:
            try:
                os.close(fd)
            except OSError:
                pass


def _run_worker(request: dict, bridge_fd: int, output_fd: int) -> None:
    """In the forked child: confine, fork the worker, report its pid, wait for it."""
    from . import confine, worker
    from .protocol import encode, send_frame

    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    os.setsid()
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(output_fd, 1)
    os.dup2(output_fd, 2)
    _close_other_fds({bridge_fd})
    bridge = socket.socket(fileno=bridge_fd)
    state = confine.Confinement()
    real_root = os.getuid() == 0
    namespaces = bool(request["isolate"]) and confine.unshare_namespaces(state)
    ready_r, ready_w = os.pipe()
    pid = os.fork()
    if pid == 0:
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
    while True:
        try:
            _, status = os.waitpid(pid, 0)
            break
        except ChildProcessError:
            break
        except InterruptedError:
            continue
    os._exit(0)


def main() -> None:
    control = socket.socket(fileno=int(sys.argv[1]))
    import numpy  # noqa: F401  (preloaded so that workers start fast)
    import torch  # noqa: F401
    import torchvision  # noqa: F401

    from . import confine, protocol, worker  # noqa: F401

    # Warm the lazy imports a first optimizer triggers (torch._dynamo, seconds): once here
    # rather than in every worker.
    torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)

    if "solutions" in sys.modules or any(m.startswith("autograder.checks") for m in sys.modules):
        raise SystemExit("zygote: reference code must never be loaded here")
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)   # children are reaped by the kernel
    control.sendall(b'{"ready": true}\n')
    while True:
        try:
            message, fds, _, _ = socket.recv_fds(control, 65536, 2)
        except OSError:
            break
        if not message:
            break
        request = json.loads(message)
        pid = os.fork()
        if pid == 0:
            try:
                control.close()
                _run_worker(request, fds[0], fds[1])
            finally:
                os._exit(0)
        for fd in fds:
            os.close(fd)
        control.sendall(json.dumps({"pid": pid}).encode() + b"\n")
    # The grader is done with us. Nothing needs finalising, and an orderly interpreter
    # shutdown with torch loaded takes about a second, which the grader would wait for.
    os._exit(0)


if __name__ == "__main__":
    main()
