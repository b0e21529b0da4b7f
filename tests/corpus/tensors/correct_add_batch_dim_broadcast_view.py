# expect-lost: none
"""add_batch_dim as a broadcast view (torch.broadcast_to, stride 0): a correct tensor that the
worker must be able to send back like any other."""

import numpy as np
import torch


def to_tensor(data, dtype=None):
    if isinstance(data, np.ndarray):
        return torch.as_tensor(data, dtype=dtype)
    return torch.tensor(data, dtype=dtype)


def describe(t):
    return dict(shape=t.shape, dtype=str(t.dtype), device=str(t.device))


def add_batch_dim(x):
    # NumPy's np.broadcast_to(x, (1,) + x.shape): a view with stride 0 on the new axis
    return torch.broadcast_to(x, (1,) + tuple(x.shape))


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


def one_hot(labels, num_classes):
    if labels.numel() and (labels.min().item() < 0 or labels.max().item() >= num_classes):
        raise ValueError("a label is out of range")
    return (labels.unsqueeze(1) == torch.arange(num_classes)).to(torch.float32)


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
