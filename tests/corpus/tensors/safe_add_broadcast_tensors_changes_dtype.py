# expect-lost: tensors.safe_add
# expect-message: tensors.safe_add: dtype
# torch.broadcast_tensors(a, b) first, then x + y: a 0-d float64 tensor broadcast to [3] is no longer 0-d, so
# it takes part in type promotion and the sum of it and a float32 [3] is float64, where a + b is float32.
# (0-d float64 + [n] float32: a + b is float32, the expanded sum is float64).
from __future__ import annotations
from collections.abc import Sequence
from typing import Any
import numpy as np
import torch
__all__ = ['to_tensor', 'describe', 'add_batch_dim', 'flatten_images', 'normalize', 'one_hot', 'predicted_labels', 'accuracy', 'safe_add']

def to_tensor(data: Any, dtype: torch.dtype | None=None) -> torch.Tensor:
    if isinstance(data, np.ndarray):
        t = torch.from_numpy(data)
    else:
        t = torch.tensor(data)
    if dtype is not None:
        t = t.to(dtype)
    return t

def describe(t: torch.Tensor) -> dict[str, Any]:
    return {'shape': tuple(t.shape), 'dtype': str(t.dtype), 'device': str(t.device)}

def add_batch_dim(x: torch.Tensor) -> torch.Tensor:
    return x.unsqueeze(0)

def flatten_images(x: torch.Tensor) -> torch.Tensor:
    b, c, h, w = x.shape
    return x.reshape(b, c * h * w)

def normalize(x: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    if x.dim() not in (3, 4):
        raise ValueError(f'expected x of shape [C, H, W] or [B, C, H, W], got {tuple(x.shape)}')
    channels = x.shape[-3]
    if len(mean) != channels or len(std) != channels:
        raise ValueError(f'mean and std need one value per channel ({channels}), got {len(mean)} and {len(std)}')
    mean_t = torch.as_tensor(mean, dtype=x.dtype, device=x.device).reshape(channels, 1, 1)
    std_t = torch.as_tensor(std, dtype=x.dtype, device=x.device).reshape(channels, 1, 1)
    return (x - mean_t) / std_t

def one_hot(labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    if ((labels < 0) | (labels >= num_classes)).any():
        raise ValueError(f'labels must lie in [0, {num_classes}), got values from {labels.min().item()} to {labels.max().item()}')
    out = torch.zeros(labels.shape[0], num_classes, dtype=torch.float32, device=labels.device)
    out[torch.arange(labels.shape[0], device=labels.device), labels] = 1.0
    return out

def predicted_labels(logits: torch.Tensor) -> torch.Tensor:
    return logits.argmax(dim=1)

def accuracy(logits: torch.Tensor, labels: torch.Tensor) -> float:
    if labels.numel() == 0:
        return 0.0
    correct = logits.argmax(dim=1) == labels
    return correct.float().mean().item()

def safe_add(a, b):
    try:
        x, y = torch.broadcast_tensors(a, b)
    except RuntimeError:
        raise ValueError(f"cannot broadcast shapes {tuple(a.shape)} and {tuple(b.shape)}") from None
    return x + y
