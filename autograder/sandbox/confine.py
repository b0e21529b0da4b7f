"""Confine the current (freshly forked, single-threaded) process: Linux namespaces, a
private filesystem root, no network, an unprivileged user, resource limits.

Each step is attempted and recorded; a step that the OS refuses is skipped and *not*
claimed. :class:`Confinement` says what was really enforced.

The private root (built in a tmpfs, entered with ``pivot_root``) holds only what a
Python process needs to run PyTorch: ``/usr``, ``/lib*``, ``/bin``, ``/sbin``, ``/etc``
(read-only), the Python installation and virtual environment (read-only), a fresh
``/proc``, ``/dev`` with a few harmless devices (and GPUs when present), an empty
``/tmp``, and the student's own copy at ``/submission`` (read-write). The grader's
checks, the reference solutions, the other submissions, the output folder and the data
with held-out labels live elsewhere and are simply absent.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import resource
import sys
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Limits", "Confinement", "unshare_namespaces", "enter_private_root", "drop_privileges",
           "apply_limits", "SUBMISSION_DIR", "NOBODY"]

SUBMISSION_DIR = "/submission"
NOBODY = 65534

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
MNT_DETACH = 2
PR_SET_PDEATHSIG = 1
PR_SET_NO_NEW_PRIVS = 38
_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41}   # syscall numbers: glibc has no wrapper

_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
_libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
_libc.unshare.argtypes = [ctypes.c_int]
_libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]


def _check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    enc = lambda s: s.encode() if s is not None else None  # noqa: E731
    _check(_libc.mount(enc(source), enc(target), enc(fstype), flags, enc(data)), f"mount {target}")


def prctl(option: int, value: int) -> None:
    _check(_libc.prctl(option, value, 0, 0, 0), f"prctl {option}")


@dataclass(frozen=True)
class Limits:
    """Resource limits of one worker."""

    memory_bytes: int = 4 << 30      # address space on top of what the preloaded parent maps
    cpu_seconds: int = 900           # a backstop; wall-clock limits are enforced by the grader
    file_bytes: int = 64 << 20       # largest file the worker may write
    processes: int = 256             # threads included; enforced only for an unprivileged user
    open_files: int = 1024


@dataclass
class Confinement:
    """What was enforced, filled in step by step (mutable while the worker starts)."""

    filesystem: str = "none"
    network: str = "host"
    processes: str = "shared"
    user: str = "same"
    memory_limit_bytes: int = 0
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"filesystem": self.filesystem, "network": self.network, "processes": self.processes,
                "user": self.user, "memory_limit_bytes": self.memory_limit_bytes, "notes": list(self.notes)}


def unshare_namespaces(state: Confinement) -> bool:
    """Enter new mount, PID, network, IPC and UTS namespaces (a user namespace too when not root).

    Returns True when the mount and PID namespaces exist; the caller must then fork so
    that the child is PID 1 of the new PID namespace.
    """
    flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS
    uid, gid = os.getuid(), os.getgid()
    if uid != 0:
        flags |= CLONE_NEWUSER
    if _libc.unshare(flags) != 0:
        state.notes.append(f"namespaces unavailable: {os.strerror(ctypes.get_errno())}")
        return False
    if uid != 0:
        Path("/proc/self/setgroups").write_text("deny")
        Path("/proc/self/uid_map").write_text(f"0 {uid} 1")
        Path("/proc/self/gid_map").write_text(f"0 {gid} 1")
    state.network = "none"   # a fresh network namespace: only a loopback device, down
    return True


def _bind(source: str, root: str, *, writable: bool = False) -> None:
    target = root + source if not source.startswith(root) else source
    if os.path.islink(source):
        os.makedirs(os.path.dirname(target), exist_ok=True)
        if not os.path.lexists(target):
            os.symlink(os.readlink(source), target)
        return
    if os.path.isdir(source):
        os.makedirs(target, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        if not os.path.exists(target):
            open(target, "w").close()
    _mount(source, target, None, MS_BIND | MS_REC)
    if not writable:
        _mount(None, target, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID)


def _python_roots() -> list[str]:
    """Folders holding the interpreter, the standard library and the installed packages."""
    roots = {os.path.realpath(p) for p in (sys.base_prefix, sys.prefix, sys.exec_prefix)}
    for entry in sys.path:
        real = os.path.realpath(entry) if entry else ""
        if real and "site-packages" in real and not any(real.startswith(r + "/") for r in roots):
            roots.add(real)
    return sorted(roots)


def enter_private_root(state: Confinement, scratch_root: str, submission: str, gpu: bool,
                       hide: tuple[str, ...] = ()) -> None:
    """Build the private root in ``scratch_root`` and ``pivot_root`` into it.

    Must run as PID 1 of the new PID namespace (for a fresh ``/proc``) and inside the new
    mount namespace. ``submission`` is bind-mounted read-only at ``/submission`` (the
    student writes to ``/tmp``, a size-limited tmpfs, so a submission cannot fill the
    grader's disk). Any folder of ``hide`` that lies inside a mounted folder (the
    grader's package and the solutions when they are installed into site-packages) is
    covered by an empty read-only tmpfs.
    """
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    root = scratch_root
    _mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "size=16m,mode=0755")
    # /tmp first: a virtual environment may live under /tmp (a CI clone), and must be
    # bound on top of the empty /tmp, not hidden by it.
    os.makedirs(root + "/tmp", exist_ok=True)
    _mount("tmpfs", root + "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "size=256m,mode=1777")
    for path in ("/usr", "/lib", "/lib64", "/lib32", "/libx32", "/bin", "/sbin", "/etc"):
        if os.path.lexists(path):
            _bind(path, root)
    for path in _python_roots():
        if os.path.isdir(path):
            _bind(path, root)
    for path in ("/sys",):
        if os.path.isdir(path):
            try:
                _bind(path, root)
            except OSError as exc:
                state.notes.append(f"/sys not mounted: {exc.strerror}")
    os.makedirs(root + "/dev", exist_ok=True)
    _mount("tmpfs", root + "/dev", "tmpfs", MS_NOSUID, "size=64k,mode=0755")
    devices = ["/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom"]
    if gpu:
        devices += sorted(str(p) for p in Path("/dev").glob("nvidia*") if not p.is_dir())
    for dev in devices:
        if os.path.exists(dev):
            _bind(dev, root, writable=True)
    os.makedirs(root + "/dev/shm", exist_ok=True)
    _mount("tmpfs", root + "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "size=256m,mode=1777")
    os.makedirs(root + "/proc", exist_ok=True)
    _mount("proc", root + "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    os.makedirs(root + SUBMISSION_DIR, exist_ok=True)
    _mount(submission, root + SUBMISSION_DIR, None, MS_BIND)
    _mount(None, root + SUBMISSION_DIR, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)
    for path in hide:
        target = root + os.path.realpath(path)
        if os.path.isdir(target):
            _mount("tmpfs", target, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV, "size=4k,mode=0555")
    old = root + "/.old-root"
    os.makedirs(old, exist_ok=True)
    _check(_libc.syscall(_PIVOT_ROOT[os.uname().machine], root.encode(), old.encode()), "pivot_root")
    os.chdir("/")
    _check(_libc.umount2(b"/.old-root", MNT_DETACH), "umount old root")
    os.rmdir("/.old-root")
    # The root itself read-only: the student writes to /submission and /tmp only.
    _mount(None, "/", None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID)
    os.chdir(SUBMISSION_DIR)
    state.filesystem = "private-root"


def drop_privileges(state: Confinement, real_root: bool) -> None:
    """Become ``nobody`` when running as real root; forbid regaining privileges."""
    if real_root:
        try:
            os.setgroups([])
            os.setresgid(NOBODY, NOBODY, NOBODY)
            os.setresuid(NOBODY, NOBODY, NOBODY)
            state.user = "nobody"
        except OSError as exc:
            state.notes.append(f"could not drop to nobody: {exc.strerror}")
    try:
        prctl(PR_SET_NO_NEW_PRIVS, 1)
    except OSError as exc:
        state.notes.append(f"no_new_privs unavailable: {exc.strerror}")


def _vm_size() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmSize:"):
            return int(line.split()[1]) * 1024
    return 0


def apply_limits(state: Confinement, limits: Limits) -> None:
    """Cap address space (relative to what is already mapped), CPU time, file size, processes."""
    cap = _vm_size() + limits.memory_bytes
    settings = [
        (resource.RLIMIT_AS, cap),
        (resource.RLIMIT_CPU, limits.cpu_seconds),
        (resource.RLIMIT_FSIZE, limits.file_bytes),
        (resource.RLIMIT_CORE, 0),
        (resource.RLIMIT_NOFILE, limits.open_files),
    ]
    if state.user == "nobody":   # for any other user the count includes their own processes
        settings.append((resource.RLIMIT_NPROC, limits.processes))
    for which, value in settings:
        try:
            resource.setrlimit(which, (value, value))
        except (ValueError, OSError) as exc:
            state.notes.append(f"rlimit {which} not set: {exc}")
        else:
            if which == resource.RLIMIT_AS:
                # Reported as the budget on top of the preloaded libraries: the same on
                # every run, unlike the total, which moves with the mappings of the moment.
                state.memory_limit_bytes = limits.memory_bytes
