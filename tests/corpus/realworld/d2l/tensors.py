# d2l.ai "Data Manipulation" style: small functions, torch first.
import numpy as np
import torch


def to_tensor(data, dtype=None):
    if isinstance(data, np.ndarray):
        X = torch.from_numpy(data)
    else:
        X = torch.tensor(data)
    return X if dtype is None else X.type(dtype)


def describe(t):
    return dict(shape=tuple(t.shape), dtype=str(t.dtype), device=str(t.device))


def add_batch_dim(x):
    return x[None]


def flatten_images(x):
    num_inputs = x.shape[1] * x.shape[2] * x.shape[3]
    return x.reshape((-1, num_inputs))


def normalize(x, mean, std):
    C = x.shape[-3]
    if len(mean) != C or len(std) != C:
        raise ValueError(f'need {C} means and stds, got {len(mean)} and {len(std)}')
    mean = torch.tensor(mean, dtype=x.dtype).reshape(-1, 1, 1)
    std = torch.tensor(std, dtype=x.dtype).reshape(-1, 1, 1)
    return (x - mean) / std


def one_hot(labels, num_classes):
    if len(labels) and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError('label out of range')
    return torch.eye(num_classes)[labels]


def predicted_labels(logits):
    return logits.argmax(axis=1)


def accuracy(logits, labels):
    """Compute the number of correct predictions (d2l), as a fraction."""
    y_hat = logits.argmax(axis=1)
    cmp = y_hat.type(labels.dtype) == labels
    return float(cmp.type(labels.dtype).sum()) / len(labels)


def safe_add(a, b):
    try:
        return a + b
    except RuntimeError:
        raise ValueError(f'shapes {a.shape} and {b.shape} do not broadcast') from None
