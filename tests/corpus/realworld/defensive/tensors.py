"""Assignment 1, written defensively: type hints, input validation with clear messages,
and a self-test at the bottom that compares with PyTorch's own functions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

_IMAGE_DIMS: Final = (3, 4)


def _require_tensor(name: str, value: object) -> Tensor:
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(value).__name__}")
    return value


def to_tensor(data: Any, dtype: torch.dtype | None = None) -> Tensor:
    """A tensor from a nested list (copied) or a NumPy array (shared, no copy)."""
    if dtype is not None and not isinstance(dtype, torch.dtype):
        raise TypeError(f"dtype must be a torch.dtype or None, got {dtype!r}")
    result: Tensor = torch.from_numpy(data) if isinstance(data, np.ndarray) else torch.tensor(data)
    return result if dtype is None else result.to(dtype=dtype)


def describe(t: Tensor) -> dict[str, Any]:
    t = _require_tensor("t", t)
    shape: tuple[int, ...] = tuple(t.shape)
    return {"shape": shape, "dtype": str(t.dtype), "device": str(t.device)}


def add_batch_dim(x: Tensor) -> Tensor:
    x = _require_tensor("x", x)
    return x.unsqueeze(dim=0)


def flatten_images(x: Tensor) -> Tensor:
    x = _require_tensor("x", x)
    if x.dim() != 4:
        raise ValueError(f"flatten_images expects [B, C, H, W], got shape {tuple(x.shape)}")
    batch, channels, height, width = x.shape
    return x.reshape(batch, channels * height * width)


def normalize(x: Tensor, mean: Sequence[float], std: Sequence[float]) -> Tensor:
    x = _require_tensor("x", x)
    if x.dim() not in _IMAGE_DIMS:
        raise ValueError(f"normalize expects [C, H, W] or [B, C, H, W], got shape {tuple(x.shape)}")
    channels: int = x.shape[-3]
    if len(mean) != channels:
        raise ValueError(f"mean has {len(mean)} values but x has {channels} channels")
    if len(std) != channels:
        raise ValueError(f"std has {len(std)} values but x has {channels} channels")
    mean_t = torch.tensor([float(m) for m in mean], dtype=x.dtype, device=x.device).view(channels, 1, 1)
    std_t = torch.tensor([float(s) for s in std], dtype=x.dtype, device=x.device).view(channels, 1, 1)
    if torch.any(std_t == 0):
        raise ValueError("std must not contain zeros")
    return (x - mean_t) / std_t


def one_hot(labels: Tensor, num_classes: int) -> Tensor:
    labels = _require_tensor("labels", labels)
    if labels.dim() != 1:
        raise ValueError(f"labels must have shape [N], got {tuple(labels.shape)}")
    if labels.dtype != torch.int64:
        raise TypeError(f"labels must be int64, got {labels.dtype}")
    if not isinstance(num_classes, int) or num_classes <= 0:
        raise ValueError(f"num_classes must be a positive int, got {num_classes!r}")
    bad = (labels < 0) | (labels >= num_classes)
    if bad.any():
        first = labels[bad][0].item()
        raise ValueError(f"label {first} is outside [0, {num_classes})")
    encoded = torch.zeros((labels.numel(), num_classes), dtype=torch.float32, device=labels.device)
    encoded.scatter_(dim=1, index=labels.unsqueeze(1), value=1.0)
    return encoded


def predicted_labels(logits: Tensor) -> Tensor:
    logits = _require_tensor("logits", logits)
    if logits.dim() != 2:
        raise ValueError(f"logits must be [B, K], got {tuple(logits.shape)}")
    return torch.argmax(logits, dim=1)


def accuracy(logits: Tensor, labels: Tensor) -> float:
    predictions = predicted_labels(logits)
    labels = _require_tensor("labels", labels)
    if predictions.shape != labels.shape:
        raise ValueError(f"{predictions.shape[0]} rows of logits but labels of shape {tuple(labels.shape)}")
    if labels.numel() == 0:
        return 0.0
    return float((predictions == labels).sum().item()) / float(labels.numel())


def safe_add(a: Tensor, b: Tensor) -> Tensor:
    a, b = _require_tensor("a", a), _require_tensor("b", b)
    try:
        torch.broadcast_shapes(a.shape, b.shape)
    except RuntimeError:
        raise ValueError(f"shapes {tuple(a.shape)} and {tuple(b.shape)} do not broadcast") from None
    return a + b


if __name__ == "__main__":
    labels = torch.tensor([0, 2, 1, 2])
    assert torch.equal(one_hot(labels, 3), F.one_hot(labels, 3).float()), "one_hot differs from F.one_hot"
    a = np.arange(6.0).reshape(2, 3)
    t = to_tensor(a)
    a[0, 0] = 42.0
    assert t[0, 0].item() == 42.0, "to_tensor copied the array"
    assert describe(torch.zeros(2, 3, dtype=torch.int64)) == {"shape": (2, 3), "dtype": "torch.int64", "device": "cpu"}
    x = torch.rand(2, 3, 4, 4)
    assert torch.allclose(flatten_images(x), torch.flatten(x, 1))
    try:
        safe_add(torch.zeros(4, 3), torch.zeros(4))
    except ValueError as err:
        print("ok:", err)
    print("all self-tests passed")
