"""What a check uses to judge a student's answer and to explain a failure.

A check fails by raising :class:`CheckFailure` with a ``message`` a student can act on
(what property failed, expected vs received, a hint) and a ``detail`` for the
instructor (the inputs). For hidden checks only ``message`` reaches the student, so
a message never contains input values.
"""

from __future__ import annotations

import math
from typing import Any, NoReturn

import torch

from ..sandbox.client import Foreign, Ref

__all__ = ["CheckFailure", "fail", "describe_value", "shape_words", "expect_tensor", "expect_tensor_one_of", "expect_float", "python_float",
           "expect_close", "tensor_summary"]


class CheckFailure(AssertionError):
    """A check's verdict: the student's answer is wrong."""

    def __init__(self, message: str, detail: str = ""):
        super().__init__(message)
        self.message = message
        self.detail = detail


def fail(message: str, *, hint: str | None = None, detail: str = "") -> NoReturn:
    """Fail the check with ``message`` (and a hint for a classic mistake)."""
    if hint:
        message = f"{message}\nHint: {hint}"
    raise CheckFailure(message, detail)


def describe_value(value: Any, *, shape: bool = False) -> str:
    """A short, input-free description of what the student returned.

    A tensor's shape is left out unless ``shape``: it usually repeats a (hidden) input's
    shape. Pass ``shape=True`` where the shape is the specification's (an image is
    [1, 28, 28]) or the check is public."""
    if value is None:
        return "None"
    if isinstance(value, Ref):
        return f"an object of type {value.type_name}"
    if isinstance(value, Foreign):
        return f"a {value.type_name}"
    if isinstance(value, torch.Tensor):
        device = getattr(value, "remote_device", str(value.device))
        if shape:
            return f"a tensor of shape {list(value.shape)}, dtype {value.dtype}, on {device}"
        return f"a {value.dim()}-d tensor of dtype {value.dtype}, on {device}" if value.dim() == 0 else \
            f"a tensor of dtype {value.dtype}, on {device}"
    if isinstance(value, (list, tuple)):
        return f"a {type(value).__name__} of length {len(value)}"
    return f"a {type(value).__name__}"


def shape_words(got: tuple[int, ...], want: tuple[int, ...]) -> str:
    """How a received shape differs from the expected one, without either shape's sizes.

    The sizes come from a check's inputs, which a hidden check must not show (they go to
    ``detail``, for the instructor); the relation is what a student can act on.
    """
    if len(got) == len(want) and sorted(got) == sorted(want) and got != want:
        if got == want[::-1]:
            return "a tensor with the expected shape's axes reversed (transposed)"
        return "a tensor with the expected sizes in another order of axes"
    if len(got) == len(want) + 1 and any(got[:i] + got[i + 1:] == want and got[i] == 1 for i in range(len(got))):
        return "a tensor with an extra axis of size 1 (one dimension more than expected)"
    if len(got) + 1 == len(want) and any(want[:i] + want[i + 1:] == got and want[i] == 1 for i in range(len(want))):
        return "a tensor without an axis of size 1 that the expected shape has (one dimension fewer)"
    if len(got) != len(want):
        more = "more" if len(got) > len(want) else "fewer"
        same = " with the right number of entries" if math.prod(got) == math.prod(want) else ""
        return f"a tensor with {abs(len(got) - len(want))} dimension(s) {more} than expected{same}"
    if math.prod(got) == math.prod(want):
        return "a tensor with the right number of entries but another shape"
    wrong = [i for i, (g, w) in enumerate(zip(got, want)) if g != w]
    axes = ", ".join(str(i) for i in wrong)
    return f"a tensor of another shape than expected (axis {axes} has another size)" if len(wrong) == 1 else \
        f"a tensor of another shape than expected (axes {axes} have other sizes)"


def tensor_summary(t: torch.Tensor, limit: int = 8) -> str:
    flat = t.detach().reshape(-1)
    head = ", ".join(f"{v:.6g}" for v in flat[:limit].tolist()) if t.dtype.is_floating_point else \
        ", ".join(str(v) for v in flat[:limit].tolist())
    more = ", ..." if flat.numel() > limit else ""
    return f"shape {list(t.shape)} [{head}{more}]"


def expect_tensor(
    value: Any,
    expected: torch.Tensor,
    *,
    what: str,
    rtol: float = 1e-5,
    atol: float = 1e-6,
    check_dtype: bool = True,
    check_device: bool = True,
    allow_requires_grad: bool = True,
    hint: str | None = None,
    nonfinite_hint: str | None = None,
    detail: str = "",
) -> torch.Tensor:
    """Check that ``value`` is a tensor equal to ``expected`` and return it.

    Fails, saying which, for: not a tensor (None, a list, ...), another device, another
    shape, another dtype, ``nan``/``inf`` where the expected value is finite, and values
    outside ``|value - expected| <= atol + rtol * |expected|``.

    ``hint`` goes with every failure; ``nonfinite_hint`` (e.g. about overflow) only with
    ``nan``/``inf`` where the expected value is finite, the one failure it explains.
    """
    if not isinstance(value, torch.Tensor):
        fail(f"{what} should return a tensor, but returned {describe_value(value)}.", hint=hint, detail=detail)
    device = getattr(value, "remote_device", str(value.device))
    if check_device and device != str(expected.device):
        fail(f"{what} returned a tensor on {device}; expected it on {expected.device}.", hint=hint, detail=detail)
    if not allow_requires_grad and value.requires_grad:
        fail(f"{what} returned a tensor that still requires grad; detach it or compute it under "
             "torch.no_grad().", hint=hint, detail=detail)
    if tuple(value.shape) != tuple(expected.shape):
        fail(f"{what} returned {shape_words(tuple(value.shape), tuple(expected.shape))}.", hint=hint,
             detail=f"{detail}\nreceived shape {list(value.shape)}, expected shape {list(expected.shape)}".strip())
    if check_dtype and value.dtype != expected.dtype:
        fail(f"{what} returned dtype {value.dtype}; expected {expected.dtype}.", hint=hint, detail=detail)
    if expected.device.type == "meta" or value.device.type == "meta":
        return value
    got = value.detach().to(torch.float64) if value.dtype.is_floating_point or value.dtype.is_complex else value.detach()
    want = expected.detach().to(got.dtype) if got.dtype.is_floating_point else expected.detach()
    if got.dtype.is_floating_point:
        bad = ~torch.isfinite(got) & torch.isfinite(want)
        if bool(bad.any()):
            fail(f"{what} returned nan or inf where the expected value is finite "
                 f"({int(bad.sum())} of {got.numel()} entries).", hint=nonfinite_hint or hint,
                 detail=f"{detail}\nreceived: {tensor_summary(got)}\nexpected: {tensor_summary(want)}")
        close = torch.isclose(got, want, rtol=rtol, atol=atol, equal_nan=True)
    else:
        close = got == want
    if not bool(close.all()):
        worst = (got.to(torch.float64) - want.to(torch.float64)).abs()
        worst = worst.nan_to_num(nan=math.inf).max().item() if worst.numel() else 0.0
        fail(f"{what} returned wrong values: {int((~close).sum())} of {close.numel()} entries differ "
             f"from the expected ones (largest difference {worst:.3g}).", hint=hint,
             detail=f"{detail}\nreceived: {tensor_summary(got)}\nexpected: {tensor_summary(want)}")
    return value


def expect_tensor_one_of(value: Any, candidates: list[torch.Tensor], **kwargs: Any) -> torch.Tensor:
    """:func:`expect_tensor` against several right answers (the spec allows each, e.g. a
    clamp in the input's dtype or in float64): passes when ``value`` matches any of them,
    and otherwise fails as it does against the first."""
    first: CheckFailure | None = None
    for candidate in candidates:
        try:
            return expect_tensor(value, candidate, **kwargs)
        except CheckFailure as failure:
            first = first or failure
    assert first is not None, "expect_tensor_one_of needs at least one candidate"
    raise first


def python_float(value: Any) -> float | None:
    """``value`` as a Python float when it is one, else None.

    A subclass of ``float`` is a Python float (``isinstance(x, float)``: it formats,
    compares, serialises and computes as one): ``numpy.float64``, what ``np.mean`` returns,
    crosses the boundary as a :class:`Foreign` scalar and counts. ``numpy.float32``, a 0-d
    tensor or an int do not.
    """
    if type(value) is float:
        return value
    if isinstance(value, Foreign) and type(value.value) is float and _is_float_subclass(value.type_name):
        return value.value
    return None


def _is_float_subclass(type_name: str) -> bool:
    module, _, name = type_name.rpartition(".")
    if module != "numpy":       # only types the grader knows; a student's own class is not looked up
        return False
    import numpy

    kind = getattr(numpy, name, None)
    return isinstance(kind, type) and issubclass(kind, float)


def expect_float(value: Any, *, what: str, hint: str | None = None) -> float:
    """Check that ``value`` is a Python ``float`` (or a subclass such as ``numpy.float64``;
    not a tensor, not ``numpy.float32``) and return it as a plain float."""
    number = python_float(value)
    if number is None:
        fail(f"{what} should return a Python float, but returned {describe_value(value)}.",
             hint=hint or "convert a 0-d tensor with .item()")
    return number


def expect_close(value: float, expected: float, *, what: str, rtol: float = 1e-5, atol: float = 1e-6,
                 hint: str | None = None, detail: str = "") -> None:
    if not math.isclose(value, expected, rel_tol=rtol, abs_tol=atol):
        fail(f"{what} returned {value:.6g}; expected {expected:.6g}.", hint=hint, detail=detail)
