"""Bridge recipes that checks share: run a student function forward and backward."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from .api import describe_value, fail, shape_words
from .plugin import Student

__all__ = ["Gradients", "forward_backward", "reference_gradients", "call_unmutated"]


def call_unmutated(student: Student, path: str, *args: Any, what: str = "", **kwargs: Any) -> Any:
    """Call the student's ``path`` and fail if it changed any tensor argument in place."""
    result, after, _ = student.call_returning_args(path, *args, **kwargs)
    for index, (before, now) in enumerate(zip(args, after)):
        if isinstance(before, torch.Tensor) and isinstance(now, torch.Tensor) and before.device.type != "meta":
            same = before.shape == now.shape and torch.equal(before.detach(), now.detach()) or \
                (before.dtype.is_floating_point and before.shape == now.shape and
                 torch.allclose(before.detach(), now.detach(), equal_nan=True, rtol=0, atol=0))
            if not same:
                fail(f"{what or path} changed its argument {index + 1} in place; it must leave its inputs "
                     "unchanged and return a new tensor.",
                     hint="avoid in-place operations such as x -= m, x.clamp_(...) or x[...] = ... on the input")
    return result


@dataclass(frozen=True)
class Gradients:
    output: Any                          # the student's output (data)
    grads: tuple[torch.Tensor | None, ...]   # gradient of each differentiable input


def forward_backward(student: Student, path: str, args: list[Any], wrt: tuple[int, ...],
                     upstream: torch.Tensor | None, kwargs: dict | None = None, what: str = "") -> Gradients:
    """Call ``path(*args)`` in the worker with ``args[i]`` (i in ``wrt``) requiring grad,
    back-propagate ``upstream`` through the output, and return the input gradients."""
    result = student.grad(path, args, list(wrt), upstream, kwargs)
    info, output = result["info"], result["output"]
    what = what or path
    if info.get("type") not in ("torch.Tensor", "torch.nn.parameter.Parameter"):
        fail(f"{what} should return a tensor, but returned {describe_value(output)}.")
    if not info.get("requires_grad"):
        fail(f"{what} returned a tensor that is not connected to its input's autograd graph "
             "(no gradient can flow back).",
             hint="do not detach, call .item()/.numpy() or rebuild the tensor with torch.tensor(...) inside")
    if upstream is not None and tuple(upstream.shape) != tuple(output.shape):
        # Relational words only (the shapes come from the check's inputs, hidden from the student).
        fail(f"{what} returned {shape_words(tuple(output.shape), tuple(upstream.shape))}.",
             detail=f"received shape {list(output.shape)}, expected shape {list(upstream.shape)}")
    return Gradients(output, tuple(result["grads"]))


def reference_gradients(func, args: list[Any], wrt: tuple[int, ...], upstream: torch.Tensor | None,
                        kwargs: dict | None = None) -> Gradients:
    """The same computation with the reference function, in the grader."""
    inputs = [a.detach().clone().requires_grad_(True) if i in wrt else a for i, a in enumerate(args)]
    out = func(*inputs, **(kwargs or {}))
    grads = torch.autograd.grad(out, [inputs[i] for i in wrt], upstream, allow_unused=True)
    return Gradients(out.detach(), tuple(grads))
