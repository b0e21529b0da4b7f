"""Tensors, minitorch style: explicit shapes and strides, a shape_broadcast of our own."""

from __future__ import annotations

from typing import Any, Iterable, Optional, Sequence, Tuple

import numpy as np
import torch
from torch import Tensor

Shape = Tuple[int, ...]


class IndexingError(ValueError):
    """Exception raised for indexing errors (here: shapes that do not broadcast)."""


def to_tensor(data: Any, dtype: Optional[torch.dtype] = None) -> Tensor:
    t = torch.from_numpy(data) if isinstance(data, np.ndarray) else torch.tensor(data)
    if dtype is not None and t.dtype != dtype:
        t = t.to(dtype)
    return t


def describe(t: Tensor) -> dict:
    return {"shape": tuple(int(d) for d in t.shape), "dtype": str(t.dtype), "device": str(t.device)}


def add_batch_dim(x: Tensor) -> Tensor:
    return x.view(1, *x.shape) if x.is_contiguous() else x.unsqueeze(0)


def flatten_images(x: Tensor) -> Tensor:
    b, c, h, w = x.shape
    return x.contiguous().view(b, c * h * w)


def normalize(x: Tensor, mean: Sequence[float], std: Sequence[float]) -> Tensor:
    channels = x.shape[-3]
    if len(mean) != channels or len(std) != channels:
        raise ValueError(f"mean/std have {len(mean)}/{len(std)} entries, x has {channels} channels")
    planes = [(x[..., c, :, :] - m) / s for c, (m, s) in enumerate(zip(mean, std))]
    return torch.stack(planes, dim=-3)


def one_hot(labels: Tensor, num_classes: int) -> Tensor:
    out = torch.zeros(labels.shape[0], num_classes)
    for i, label in enumerate(labels.tolist()):
        if not 0 <= label < num_classes:
            raise ValueError(f"label {label} at position {i} is outside [0, {num_classes})")
        out[i, label] = 1.0
    return out


def predicted_labels(logits: Tensor) -> Tensor:
    return logits.max(dim=1).indices


def accuracy(logits: Tensor, labels: Tensor) -> float:
    return float((predicted_labels(logits) == labels).sum()) / labels.shape[0]


def shape_broadcast(shape1: Shape, shape2: Shape) -> Shape:
    """Broadcast two shapes to create a new union shape (minitorch's tensor_data)."""
    n = max(len(shape1), len(shape2))
    a = (1,) * (n - len(shape1)) + tuple(shape1)
    b = (1,) * (n - len(shape2)) + tuple(shape2)
    out = []
    for da, db in zip(a, b):
        if da == 1:
            out.append(db)
        elif db == 1 or da == db:
            out.append(da)
        else:
            raise IndexingError(f"Cannot broadcast {tuple(shape1)} and {tuple(shape2)}.")
    return tuple(out)


def safe_add(a: Tensor, b: Tensor) -> Tensor:
    shape_broadcast(a.shape, b.shape)
    return a + b
