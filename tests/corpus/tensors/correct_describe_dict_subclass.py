# expect-lost: none
# describe returns a dict subclass of the student's own (the handout: "-> dict"; a subclass is one).
# Unlike an OrderedDict it is not plain data on the grader's wire, so it arrives as a reference.

import numpy as np
import torch


def to_tensor(data, dtype=None):
    if isinstance(data, np.ndarray):
        out = torch.as_tensor(data)
    else:
        out = torch.tensor(data)
    if dtype is not None:
        out = out.type(dtype)
    return out


class Description(dict):
    """A dict that prints itself in one line."""

    def __str__(self):
        return f"{self['shape']} {self['dtype']} on {self['device']}"


def describe(t):
    return Description(shape=tuple(t.shape), dtype=str(t.dtype), device=str(t.device))


def add_batch_dim(x):
    return x.unsqueeze(0)


def flatten_images(x):
    b, c, h, w = x.shape
    return x.reshape(b, c * h * w)


def normalize(x, mean, std):
    c = x.shape[-3]
    if len(mean) != c or len(std) != c:
        raise ValueError("wrong number of channels")
    shape = (c, 1, 1)
    return (x - torch.tensor(mean, dtype=x.dtype).reshape(shape)) / torch.tensor(std, dtype=x.dtype).reshape(shape)


def one_hot(labels, num_classes):
    if ((labels < 0) | (labels >= num_classes)).any():
        raise ValueError("bad label")
    out = torch.zeros(len(labels), num_classes)
    out.scatter_(1, labels.unsqueeze(1), 1.0)
    return out


def predicted_labels(logits):
    return logits.argmax(dim=-1)


def accuracy(logits, labels):
    return (logits.argmax(1) == labels).float().mean().item()


def safe_add(a, b):
    try:
        torch.broadcast_shapes(a.shape, b.shape)
    except RuntimeError:
        raise ValueError(f"cannot broadcast {tuple(a.shape)} with {tuple(b.shape)}") from None
    return a + b
