# expect-lost: none
"""Correct, written differently again: from_numpy then .type(dtype), repr of the dtype,
torch.stack, view(-1, C*H*W), a loop over the channels, an identity matrix for
one_hot, argmax(dim=-1), try/except around a + b with torch.Size in the message."""

import numpy as np
import torch


def to_tensor(data, dtype=None):
    if type(data) is np.ndarray:
        result = torch.from_numpy(data)
    else:
        result = torch.tensor(data)
    if dtype:
        result = result.type(dtype)
    return result


def describe(t):
    info = {}
    info["shape"] = tuple(int(n) for n in t.size())
    info["dtype"] = repr(t.dtype)
    info["device"] = f"{t.device}"
    return info


def add_batch_dim(x):
    return torch.stack([x])


def flatten_images(x):
    _, c, h, w = x.shape
    return x.contiguous().view(-1, c * h * w)


def normalize(x, mean, std):
    channels = x.size(-3)
    if not (len(mean) == len(std) == channels):
        raise ValueError(f"expected {channels} values for mean and std")
    out = torch.empty_like(x)
    for c in range(channels):
        out[..., c, :, :] = (x[..., c, :, :] - mean[c]) / std[c]
    return out


def one_hot(labels, num_classes):
    bad = (labels < 0) | (labels >= num_classes)
    if bad.any():
        raise ValueError(f"{int(bad.sum())} labels outside [0, {num_classes})")
    return torch.eye(num_classes)[labels]


def predicted_labels(logits):
    return torch.argmax(logits, dim=-1)


def accuracy(logits, labels):
    hits = predicted_labels(logits).eq(labels)
    return hits.double().mean().item()


def safe_add(a, b):
    try:
        return a + b
    except RuntimeError:
        raise ValueError(f"shapes {a.shape} and {b.shape} are not broadcastable") from None
