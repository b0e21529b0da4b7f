"""Assignment 6: moving work between devices.

Students learn that every tensor and parameter lives on a device (the CPU, a
CUDA GPU, Apple's MPS), that an operation needs all its operands on the same
device, and how to pick the best available device, move models and nested
batches of tensors there, find where a model lives, and bring results back
to NumPy.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

__all__ = ["get_device", "to_device", "model_device", "to_numpy"]


def get_device(prefer: str | None = None) -> torch.device:
    """Choose the device to compute on.

    Args:
        prefer: ``"cpu"``, ``"cuda"``, ``"mps"`` or ``None``.

    Returns:
        ``torch.device(prefer)`` when that device is available (the CPU
        always is); otherwise the first available of CUDA
        (``torch.cuda.is_available()``), MPS
        (``torch.backends.mps.is_available()``) and the CPU.  E.g. on a
        laptop without a GPU, ``get_device("cuda")`` is ``device("cpu")``.

    Raises:
        ValueError: if ``prefer`` is anything else (``"gpu"``, ``"cuda:0"``, ...).
    """
    ### BEGIN SOLUTION
    if prefer not in (None, "cpu", "cuda", "mps"):
        raise ValueError(f'prefer must be "cpu", "cuda", "mps" or None, got {prefer!r}')
    cuda_ok = torch.cuda.is_available()
    mps_ok = torch.backends.mps.is_available()
    if prefer == "cpu" or (prefer == "cuda" and cuda_ok) or (prefer == "mps" and mps_ok):
        return torch.device(prefer)
    if cuda_ok:
        return torch.device("cuda")
    if mps_ok:
        return torch.device("mps")
    return torch.device("cpu")
    ### END SOLUTION


def to_device(obj: Any, device: str | torch.device) -> Any:
    """Move every tensor inside ``obj`` to ``device``.

    Args:
        obj: a tensor; an ``nn.Module``; a list, tuple, named tuple or dict
            whose items may themselves be any of these (nested to any depth);
            or anything else.
        device: the target device, e.g. ``"cuda"`` or ``torch.device("cpu")``.

    Returns:
        A tensor: ``obj.to(device)``.  An ``nn.Module``: moved (in place) and
        returned.  A list, tuple or dict: a new container of the SAME type
        (a named tuple stays that named tuple: build it with
        ``type(obj)(*items)``), with every item converted recursively and
        dict keys kept.  Anything else (numbers, strings, None): ``obj``
        itself, unchanged.

    Example:
        >>> batch = {"x": torch.zeros(2), "meta": ["id", torch.ones(1)]}
        >>> moved = to_device(batch, "meta")
        >>> moved["x"].device, moved["meta"][0]
        (device(type='meta'), 'id')
    """
    ### BEGIN SOLUTION
    if isinstance(obj, (torch.Tensor, nn.Module)):
        return obj.to(device)
    if isinstance(obj, dict):
        return type(obj)((key, to_device(value, device)) for key, value in obj.items())
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):
        return type(obj)(*(to_device(item, device) for item in obj))
    if isinstance(obj, (list, tuple)):
        return type(obj)(to_device(item, device) for item in obj)
    return obj
    ### END SOLUTION


def model_device(model: nn.Module) -> torch.device:
    """The device a model lives on.

    Args:
        model: any ``nn.Module``.

    Returns:
        The device of its first parameter (``next(model.parameters())``), or
        ``torch.device("cpu")`` for a model without parameters.
    """
    ### BEGIN SOLUTION
    first = next(model.parameters(), None)
    return torch.device("cpu") if first is None else first.device
    ### END SOLUTION


def to_numpy(t: torch.Tensor) -> np.ndarray:
    """Convert a tensor to a NumPy array.

    ``t.numpy()`` fails for a tensor that requires grad or lives on a GPU:
    detach it from the autograd graph and copy it to the CPU first.

    Args:
        t: any tensor, on any device, with or without ``requires_grad``.

    Returns:
        A ``numpy.ndarray`` with the same shape and values.
    """
    ### BEGIN SOLUTION
    return t.detach().cpu().numpy()
    ### END SOLUTION
