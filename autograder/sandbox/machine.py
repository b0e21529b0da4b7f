"""A simulated machine: every public PyTorch probe of CUDA and MPS tells the same story.

Only machines that exist are simulated: CPU only, CUDA, or MPS.

``get_device`` is graded on machines the grader does not have (a Mac with MPS, a GPU
box), so the checks simulate them. A correct student may ask PyTorch in any public way
(``torch.cuda.is_available()``, ``torch.cuda.device_count()``,
``torch.backends.mps.is_available()`` / ``is_built()``, ``torch.mps.is_available()``,
``torch.accelerator.is_available()`` / ``current_accelerator()`` / ``device_count()``,
the deprecated ``torch.has_cuda`` / ``torch.has_mps``); patching only some of them gives
an impossible machine (CUDA available with zero devices) on which a correct answer looks
wrong. :func:`install` patches them all from one :class:`Machine`, and is used in both
places that need it: in the worker for the student's code, and in the grader for the
reference, so both answer for the same machine.

On a grader with a real GPU, simulating "CUDA available" keeps the real CUDA functions
(the real device count, names, current device), so the simulation never contradicts the
hardware; simulating "no CUDA" hides the GPU from every probe.

Nothing here knows an assignment: it is a generic primitive (like ``patch``).
"""

from __future__ import annotations

import sys
import warnings
from dataclasses import dataclass
from typing import Any, Callable

import torch

__all__ = ["Machine", "install", "restore", "Patch"]


@dataclass(frozen=True)
class Machine:
    """What a simulated machine has: CUDA (with at least one device), MPS, or neither.

    No machine has both (MPS is Apple's; PyTorch's ``torch.accelerator`` reports a single
    accelerator), so that combination is refused: on it, correct code looks wrong.
    """

    cuda: bool
    mps: bool

    def __post_init__(self) -> None:
        if self.cuda and self.mps:
            raise ValueError("no machine has both CUDA and MPS: simulate one or the other")


@dataclass(frozen=True)
class Patch:
    owner: Any
    attr: str
    original: Any
    owned: bool        # was the attribute in owner.__dict__ (else it came from a module __getattr__)


def _no_device(kind: str) -> Callable[..., Any]:
    def unavailable(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError(f"no {kind} device is available on this machine")
    return unavailable


def _constant(value: Any) -> Callable[..., Any]:
    return lambda *args, **kwargs: value


def _replacements(machine: Machine) -> dict[tuple[str, str], Any]:
    """(module path, attribute) -> replacement, for the machine ``machine``."""
    real_cuda = _real_cuda_count()
    out: dict[tuple[str, str], Any] = {}
    if not (machine.cuda and real_cuda):
        # A simulated GPU (none is there) or a hidden one (one is there, the machine has none).
        count = 1 if machine.cuda else 0
        out.update({
            ("torch.cuda", "is_available"): _constant(machine.cuda),
            ("torch.cuda", "device_count"): _constant(count),
            ("torch.cuda", "current_device"): _constant(0) if machine.cuda else _no_device("CUDA"),
            ("torch.cuda", "get_device_name"): _constant("Simulated CUDA GPU") if machine.cuda else _no_device("CUDA"),
            ("torch.backends.cuda", "is_built"): _constant(machine.cuda),
            ("torch.backends.cudnn", "is_available"): _constant(machine.cuda),
        })
    cuda_count = (real_cuda or 1) if machine.cuda else 0
    accelerator = torch.device("cuda") if machine.cuda else torch.device("mps") if machine.mps else None
    accel_count = cuda_count if machine.cuda else 1 if machine.mps else 0
    out.update({
        ("torch.backends.mps", "is_available"): _constant(machine.mps),
        ("torch.backends.mps", "is_built"): _constant(machine.mps),
        ("torch.mps", "is_available"): _constant(machine.mps),
        ("torch.mps", "device_count"): _constant(1 if machine.mps else 0),
        ("torch.accelerator", "is_available"): _constant(accelerator is not None),
        ("torch.accelerator", "current_accelerator"): _constant(accelerator),
        ("torch.accelerator", "device_count"): _constant(accel_count),
        ("torch.accelerator", "current_device_index"):
            _constant(0) if accelerator is not None else _no_device("accelerator"),
        ("torch.accelerator", "current_device_idx"):
            _constant(0) if accelerator is not None else _no_device("accelerator"),
        ("torch", "has_cuda"): machine.cuda,
        ("torch", "has_mps"): machine.mps,
    })
    return out


_REAL_CUDA: list[int] = []


def _real_cuda_count() -> int:
    """The real number of CUDA devices (asked once, before anything is patched)."""
    if not _REAL_CUDA:
        try:
            _REAL_CUDA.append(int(torch.cuda.device_count()) if torch.cuda.is_available() else 0)
        except Exception:   # a broken driver is a machine without CUDA
            _REAL_CUDA.append(0)
    return _REAL_CUDA[0]


def _module(path: str) -> Any:
    return sys.modules.get(path)


def install(machine: Machine, also_in: tuple[Any, ...] = ()) -> list[Patch]:
    """Patch every probe for ``machine``; return what :func:`restore` needs to undo it.

    ``also_in``: modules (the student's) whose globals may hold a probe imported by name
    (``from torch.cuda import is_available``); such a name is patched there too.
    """
    patches: list[Patch] = []
    originals: dict[int, Any] = {}
    for (path, attr), value in _replacements(machine).items():
        owner = _module(path)
        with warnings.catch_warnings():     # torch.has_cuda & co. warn that they are deprecated
            warnings.simplefilter("ignore")
            if owner is None or not hasattr(owner, attr):
                continue        # this PyTorch has no such probe
        owned = attr in vars(owner)
        original = vars(owner)[attr] if owned else None
        patches.append(Patch(owner, attr, original, owned))
        if owned and callable(original):
            originals[id(original)] = value
        setattr(owner, attr, value)
    for module in also_in:
        names = vars(module)
        for name, current in list(names.items()):
            if id(current) in originals and callable(current):
                patches.append(Patch(module, name, current, True))
                names[name] = originals[id(current)]
    return patches


def restore(patches: list[Patch]) -> None:
    """Undo :func:`install` (in reverse order)."""
    for patch in reversed(patches):
        if patch.owned:
            setattr(patch.owner, patch.attr, patch.original)
        else:
            try:
                delattr(patch.owner, patch.attr)
            except AttributeError:
                pass
