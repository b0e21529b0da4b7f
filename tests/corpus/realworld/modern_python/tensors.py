"""Tensors with today's Python and PyTorch: torch.asarray, match statements, math.prod,
broadcasting comparisons instead of scatter."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

Shape = tuple[int, ...]


def to_tensor(data: list | np.ndarray, dtype: torch.dtype | None = None) -> torch.Tensor:
    match data:
        case np.ndarray():
            return torch.asarray(data, dtype=dtype)   # shares memory when no conversion is needed
        case _:
            return torch.asarray(data, dtype=dtype, copy=True)


def describe(t: torch.Tensor) -> dict[str, object]:
    return {"shape": (*map(int, t.shape),), "dtype": str(t.dtype), "device": str(t.device)}


def add_batch_dim(x: torch.Tensor) -> torch.Tensor:
    return x[None, ...]


def flatten_images(x: torch.Tensor) -> torch.Tensor:
    match x.shape:
        case (b, c, h, w):
            return x.reshape(b, c * h * w)
        case shape:
            raise ValueError(f"expected [B, C, H, W], got {list(shape)}")


def normalize(x: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    c = x.shape[-3]
    if not len(mean) == len(std) == c:
        raise ValueError(f"{len(mean)=} and {len(std)=} must both equal the {c} channels of x")
    stats = torch.asarray([mean, std], dtype=x.dtype, device=x.device)[..., None, None]   # [2, C, 1, 1]
    return (x - stats[0]) / stats[1]


def one_hot(labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    if (labels.numel() > 0) and ((lo := labels.min().item()) < 0 or (hi := labels.max().item()) >= num_classes):
        raise ValueError(f"labels must lie in [0, {num_classes}): found {lo if lo < 0 else hi}")
    classes = torch.arange(num_classes, device=labels.device)
    return (labels[:, None] == classes).to(torch.float32)


def predicted_labels(logits: torch.Tensor) -> torch.Tensor:
    return logits.topk(1, dim=1).indices.squeeze(1)


def accuracy(logits: torch.Tensor, labels: torch.Tensor) -> float:
    hits = predicted_labels(logits).eq(labels)
    return hits.sum().item() / max(hits.numel(), 1)


def safe_add(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    try:
        torch.broadcast_shapes(a.shape, b.shape)
    except RuntimeError as err:
        raise ValueError(f"cannot broadcast {tuple(a.shape)} with {tuple(b.shape)}") from err
    return torch.add(a, b)

