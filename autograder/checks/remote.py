"""Bridge recipes that checks share: run a student function forward and backward."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from .api import describe_value, fail
from .plugin import Student

__all__ = ["Gradients", "forward_backward", "reference_gradients"]


@dataclass(frozen=True)
class Gradients:
    output: Any                          # the student's output (data)
    grads: tuple[torch.Tensor | None, ...]   # gradient of each differentiable input


def forward_backward(student: Student, path: str, args: list[Any], wrt: tuple[int, ...],
                     upstream: torch.Tensor | None, kwargs: dict | None = None, what: str = "") -> Gradients:
    """Call ``path(*args)`` in the worker with ``args[i]`` (i in ``wrt``) requiring grad,
    back-propagate ``upstream`` through the output, and return the input gradients."""
    worker = student.worker
    student.module(path.split(".", 1)[0])
    sent = []
    leaves = {}
    for index, arg in enumerate(args):
        if index in wrt:
            leaves[index] = worker.put(arg.detach().clone().requires_grad_(True))
            sent.append(leaves[index])
        else:
            sent.append(arg)
    out_ref = worker.call(path, *sent, _keep=True, **(kwargs or {}))
    info = worker.describe(out_ref)
    if info.get("type") not in ("torch.Tensor", "torch.nn.parameter.Parameter"):
        output = worker.getattr(out_ref)
        fail(f"{what or path} should return a tensor, but returned {describe_value(output)}.")
    output = worker.getattr((out_ref, "data"))
    if not info.get("requires_grad"):
        fail(f"{what or path} returned a tensor that is not connected to its input's autograd graph "
             "(no gradient can flow back).",
             hint="do not detach, call .item()/.numpy() or rebuild the tensor with torch.tensor(...) inside")
    if upstream is not None and tuple(upstream.shape) != tuple(output.shape):
        fail(f"{what or path} returned shape {list(output.shape)}; expected shape {list(upstream.shape)}.")
    worker.backward(out_ref, upstream)
    grads = tuple(worker.getattr((leaves[i], "grad")) if i in leaves else None for i in wrt)
    worker.free(out_ref, *leaves.values())
    return Gradients(output, grads)


def reference_gradients(func, args: list[Any], wrt: tuple[int, ...], upstream: torch.Tensor | None,
                        kwargs: dict | None = None) -> Gradients:
    """The same computation with the reference function, in the grader."""
    inputs = [a.detach().clone().requires_grad_(True) if i in wrt else a for i, a in enumerate(args)]
    out = func(*inputs, **(kwargs or {}))
    grads = torch.autograd.grad(out, [inputs[i] for i in wrt], upstream, allow_unused=True)
    return Gradients(out.detach(), tuple(grads))
