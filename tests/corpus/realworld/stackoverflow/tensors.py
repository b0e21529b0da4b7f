# Stack Overflow answers, one per function.
import numpy as np
import torch


def to_tensor(data, dtype=None):
    # "torch.from_numpy shares memory, torch.tensor copies"
    t = torch.from_numpy(data) if isinstance(data, np.ndarray) else torch.tensor(data)
    return t.to(dtype) if dtype is not None else t


def describe(t):
    return {"shape": tuple(t.size()), "dtype": str(t.dtype), "device": str(t.device)}


def add_batch_dim(x):
    return x.unsqueeze(0)


def flatten_images(x):
    # "x.view(x.size(0), -1)" breaks on an empty batch; torch.flatten(x, 1) does not
    return torch.flatten(x, 1)


def normalize(x, mean, std):
    if len(mean) != x.shape[-3] or len(std) != x.shape[-3]:
        raise ValueError("mean and std must have one entry per channel")
    mean = torch.tensor(mean, dtype=x.dtype).view(-1, 1, 1)
    std = torch.tensor(std, dtype=x.dtype).view(-1, 1, 1)
    return x.sub(mean).div(std)


def one_hot(labels, num_classes):
    # "convert int labels to one-hot without F.one_hot": index an identity matrix
    if labels.numel() > 0 and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError("label out of range")
    return torch.eye(num_classes, dtype=torch.float32)[labels]


def predicted_labels(logits):
    _, predicted = torch.max(logits.data, 1)
    return predicted


def accuracy(logits, labels):
    _, predicted = torch.max(logits.data, 1)
    correct = (predicted == labels).sum().item()
    return correct / labels.size(0)


def safe_add(a, b):
    try:
        return a + b
    except RuntimeError as e:
        raise ValueError(f"Shapes {tuple(a.shape)} and {tuple(b.shape)} are not broadcastable: {e}")
