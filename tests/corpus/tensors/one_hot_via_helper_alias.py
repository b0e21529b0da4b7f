# expect-lost: tensors.one_hot
# expect-message: tensors.one_hot: torch.nn.functional.one_hot
# expect-outcome: tensors.one_hot: penalty
"""one_hot through a helper that calls a module-level alias of F.one_hot: still a real use."""

import numpy as np
import torch
from torch.nn import functional as _functional

_ONE_HOT = _functional.one_hot


def to_tensor(data, dtype=None):
    if isinstance(data, np.ndarray):
        return torch.as_tensor(data, dtype=dtype)
    return torch.tensor(data, dtype=dtype)


def describe(t):
    return dict(shape=t.shape, dtype=str(t.dtype), device=str(t.device))


def add_batch_dim(x):
    return x[None]


def flatten_images(x):
    return torch.flatten(x, start_dim=1)


def normalize(x, mean, std):
    if len(mean) != x.shape[-3]:
        raise ValueError("mean needs one value per channel")
    if len(std) != x.shape[-3]:
        raise ValueError("std needs one value per channel")
    mean_t = torch.tensor(list(mean), dtype=x.dtype)[:, None, None]
    std_t = torch.tensor(list(std), dtype=x.dtype)[:, None, None]
    return (x - mean_t) / std_t


def _encode(labels, num_classes):
    return _ONE_HOT(labels, num_classes).to(torch.float32)


def one_hot(labels, num_classes):
    if labels.numel() and (labels.min().item() < 0 or labels.max().item() >= num_classes):
        raise ValueError("a label is out of range")
    return _encode(labels, num_classes)


def predicted_labels(logits):
    return torch.max(logits, dim=1).indices


def accuracy(logits, labels):
    correct = (torch.max(logits, 1)[1] == labels).sum()
    return float(correct) / len(labels)


def safe_add(a, b):
    sa, sb = list(a.shape), list(b.shape)
    for x, y in zip(reversed(sa), reversed(sb)):
        if x != y and x != 1 and y != 1:
            raise ValueError(f"shapes {sa} and {sb} do not broadcast")
    return torch.add(a, b)
