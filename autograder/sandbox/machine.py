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

A probe that is a Python function is simulated in the function object itself: its
``__code__`` is swapped for one that gives the machine's answer (and swapped back by
:func:`restore`; an ``functools.lru_cache`` around it is cleared both times). So every
reference to it answers for the simulated machine, however the student holds it: the
module attribute, a name imported from it, a table of probes built at import, a keyword
default (``def get_device(prefer=None, *, cuda=torch.cuda.is_available)``). Only what
is not a Python function (a builtin, the ``torch.has_cuda`` flags) is patched as a
module attribute, and a name imported from such a probe is patched in ``also_in``.

On a grader with a real GPU, simulating "CUDA available" keeps the real CUDA functions
(the real device count, names, current device), so the simulation never contradicts the
hardware; simulating "no CUDA" hides the GPU from every probe.

Nothing here knows an assignment: it is a generic primitive (like ``patch``).
"""

from __future__ import annotations

import functools
import sys
import types
import warnings
from dataclasses import dataclass
from typing import Any

import torch

__all__ = ["Machine", "install", "restore", "Patch", "Swap"]


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


@dataclass(frozen=True)
class Swap:
    """A probe simulated in the function object itself: ``function.__code__`` was swapped."""

    function: types.FunctionType
    original: types.CodeType
    cache: Any          # the functools.lru_cache wrapper around it (cleared on install and restore), or None


@dataclass(frozen=True)
class _Answer:
    """What a simulated probe does when called: return ``value``, or raise RuntimeError(``error``)."""

    value: Any = None
    error: str | None = None

    def __call__(self, *args: Any, **kwargs: Any) -> Any:    # the probe, where it is patched as an attribute
        if self.error is not None:
            raise RuntimeError(self.error)
        return self.value


def _no_device(kind: str) -> _Answer:
    return _Answer(error=f"no {kind} device is available on this machine")


def _constant(value: Any) -> _Answer:
    return _Answer(value=value)


_VALUE = "__simulated machine: value__"    # placeholders in the template code's constants
_ERROR = "__simulated machine: error__"


@functools.lru_cache(maxsize=None)
def _template(free: int, raises: bool) -> types.CodeType:
    """The code of ``def probe(*args, **kwargs): return _VALUE`` (or ``raise RuntimeError(_ERROR)``)
    with ``free`` free variables it never reads, so it fits a function with a closure of that size."""
    cells = [f"_cell{i}" for i in range(free)]
    source = "def _outer():\n" + "".join(f"    {name} = None\n" for name in cells)
    source += "    def probe(*args, **kwargs):\n"
    if cells:
        source += "        if False:\n            " + ", ".join(cells) + "\n"
    source += f"        raise RuntimeError({_ERROR!r})\n" if raises else f"        return {_VALUE!r}\n"
    source += "    return probe\n"
    namespace: dict[str, Any] = {}
    exec(compile(source, "<simulated machine>", "exec"), namespace)
    inner = next(c for c in namespace["_outer"].__code__.co_consts if isinstance(c, types.CodeType))
    assert len(inner.co_freevars) == free
    return inner


def _code(answer: _Answer, function: types.FunctionType) -> types.CodeType:
    """Code that gives ``answer`` when run as ``function`` (same closure size, same name)."""
    template = _template(len(function.__code__.co_freevars), answer.error is not None)
    marker, payload = (_ERROR, answer.error) if answer.error is not None else (_VALUE, answer.value)
    consts = tuple(payload if isinstance(c, str) and c == marker else c for c in template.co_consts)
    return template.replace(co_consts=consts, co_name=function.__code__.co_name,
                            co_qualname=function.__code__.co_qualname)


def _function_of(probe: Any) -> tuple[types.FunctionType | None, Any]:
    """The Python function behind a probe (itself, or the one an lru_cache wraps) and that cache."""
    if isinstance(probe, types.FunctionType):
        return probe, None
    wrapped = getattr(probe, "__wrapped__", None)
    if isinstance(wrapped, types.FunctionType) and callable(getattr(probe, "cache_clear", None)):
        return wrapped, probe
    return None, None


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


def install(machine: Machine, also_in: tuple[Any, ...] = ()) -> list[Patch | Swap]:
    """Simulate ``machine`` in every probe; return what :func:`restore` needs to undo it.

    A probe that is a Python function gets the machine's answer in its own ``__code__``, so
    any reference to it sees the machine. Anything else is patched as a module attribute;
    ``also_in``: modules (the student's) whose globals may hold such a probe imported by
    name (``from torch.cuda import is_available``); such a name is patched there too.
    """
    patches: list[Patch | Swap] = []
    swapped: set[int] = set()
    originals: dict[int, Any] = {}
    try:
        for (path, attr), value in _replacements(machine).items():
            owner = _module(path)
            with warnings.catch_warnings():     # torch.has_cuda & co. warn that they are deprecated
                warnings.simplefilter("ignore")
                if owner is None or not hasattr(owner, attr):
                    continue        # this PyTorch has no such probe
                current = getattr(owner, attr)
            function, cache = _function_of(current) if isinstance(value, _Answer) else (None, None)
            if function is not None:
                if id(function) not in swapped:     # one function under two names is swapped once
                    swapped.add(id(function))
                    patches.append(Swap(function, function.__code__, cache))
                    function.__code__ = _code(value, function)
                    if cache is not None:
                        cache.cache_clear()         # a real answer may be cached
                continue
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
    except BaseException:
        restore(patches)
        raise
    return patches


def restore(patches: list[Patch | Swap]) -> None:
    """Undo :func:`install` (in reverse order)."""
    for patch in reversed(patches):
        if isinstance(patch, Swap):
            patch.function.__code__ = patch.original
            if patch.cache is not None:
                patch.cache.cache_clear()           # it may hold the simulated answer
        elif patch.owned:
            setattr(patch.owner, patch.attr, patch.original)
        else:
            try:
                delattr(patch.owner, patch.attr)
            except AttributeError:
                pass
