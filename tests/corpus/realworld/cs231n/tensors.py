# CS231n-assignment style: NumPy habits (np.newaxis, np.prod, explicit shapes) on tensors.
import numpy as np
import torch


def to_tensor(data, dtype=None):
    # as_tensor shares memory with a NumPy array whenever it can
    return torch.as_tensor(data, dtype=dtype)


def describe(t):
    return {"shape": tuple(t.size()), "dtype": str(t.dtype), "device": str(t.device)}


def add_batch_dim(x):
    return x[np.newaxis, ...]


def flatten_images(x):
    N = x.shape[0]
    D = int(np.prod(x.shape[1:]))
    return x.reshape(N, D)


def normalize(x, mean, std):
    C = x.shape[-3]
    if len(mean) != C:
        raise ValueError("len(mean) = %d but x has %d channels" % (len(mean), C))
    if len(std) != C:
        raise ValueError("len(std) = %d but x has %d channels" % (len(std), C))
    mu = torch.as_tensor(np.asarray(mean), dtype=x.dtype).reshape(C, 1, 1)
    sigma = torch.as_tensor(np.asarray(std), dtype=x.dtype).reshape(C, 1, 1)
    return (x - mu) / sigma


def one_hot(labels, num_classes):
    N = labels.shape[0]
    if N > 0 and (int(labels.min()) < 0 or int(labels.max()) >= num_classes):
        raise ValueError("labels must be in [0, %d)" % num_classes)
    out = torch.zeros(N, num_classes)
    out[torch.arange(N), labels] = 1
    return out


def predicted_labels(logits):
    _, predicted = torch.max(logits, 1)
    return predicted


def accuracy(logits, labels):
    y_pred = predicted_labels(logits)
    return (y_pred == labels).float().mean().item()


def safe_add(a, b):
    for da, db in zip(reversed(a.shape), reversed(b.shape)):
        if da != db and da != 1 and db != 1:
            raise ValueError("shapes %s and %s are not broadcastable" % (tuple(a.shape), tuple(b.shape)))
    return a + b
