# expect-lost: tensors.one_hot
# expect-outcome: tensors.one_hot: penalty
"""Uses torch.nn.functional.one_hot, which the task does not allow (values are right)."""

import numpy as np
import torch
import torch.nn.functional as F


def to_tensor(data, dtype=None):
    t = torch.from_numpy(data) if isinstance(data, np.ndarray) else torch.tensor(data)
    return t if dtype is None else t.to(dtype)


def describe(t):
    return {"shape": tuple(t.shape), "dtype": str(t.dtype), "device": str(t.device)}


def add_batch_dim(x):
    return x.unsqueeze(0)


def flatten_images(x):
    b, c, h, w = x.shape
    return x.reshape(b, c * h * w)


def normalize(x, mean, std):
    channels = x.shape[-3]
    if len(mean) != channels or len(std) != channels:
        raise ValueError(f"need {channels} means and stds, got {len(mean)} and {len(std)}")
    m = torch.tensor(mean, dtype=x.dtype).reshape(-1, 1, 1)
    s = torch.tensor(std, dtype=x.dtype).reshape(-1, 1, 1)
    return (x - m) / s


def one_hot(labels, num_classes):
    if ((labels < 0) | (labels >= num_classes)).any():
        raise ValueError(f"labels must lie in [0, {num_classes})")
    return F.one_hot(labels, num_classes).float()


def predicted_labels(logits):
    return logits.argmax(dim=1)


def accuracy(logits, labels):
    return (logits.argmax(dim=1) == labels).float().mean().item()


def safe_add(a, b):
    try:
        torch.broadcast_shapes(a.shape, b.shape)
    except RuntimeError:
        raise ValueError(f"cannot broadcast shapes {tuple(a.shape)} and {tuple(b.shape)}") from None
    return a + b
