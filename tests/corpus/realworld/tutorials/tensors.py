# Style of the official "Tensors" tutorial (pytorch.org/tutorials/beginner/basics/tensorqs_tutorial).
import numpy as np
import torch


def to_tensor(data, dtype=None):
    if type(data) is np.ndarray:
        x_np = torch.from_numpy(data)          # Tensor to NumPy array share memory
        return x_np if dtype is None else x_np.to(dtype)
    x_data = torch.tensor(data)
    if dtype is not None:
        x_data = x_data.to(dtype=dtype)
    return x_data


def describe(t):
    shape = t.shape
    return {
        "shape": tuple(int(s) for s in shape),
        "dtype": str(t.dtype),
        "device": str(t.device),
    }


def add_batch_dim(x):
    return torch.unsqueeze(x, dim=0)


def flatten_images(x):
    return torch.flatten(x, start_dim=1)


def normalize(x, mean, std):
    channels = x.size(-3)
    if len(mean) != channels or len(std) != channels:
        raise ValueError(f"expected {channels} values for mean and std, got {len(mean)} and {len(std)}")
    out = x.clone()
    for c in range(channels):
        out[..., c, :, :] = (x[..., c, :, :] - mean[c]) / std[c]
    return out


def one_hot(labels, num_classes):
    if labels.numel() > 0 and not ((labels >= 0).all() and (labels < num_classes).all()):
        raise ValueError(f"every label must be in [0, {num_classes})")
    target = torch.zeros(len(labels), num_classes, dtype=torch.float)
    # the "Transforms" tutorial's Lambda: zeros(10).scatter_(0, torch.tensor(y), value=1)
    return target.scatter_(1, labels.unsqueeze(1), value=1)


def predicted_labels(logits):
    return logits.argmax(1)


def accuracy(logits, labels):
    correct = (logits.argmax(1) == labels).type(torch.float).sum().item()
    return correct / len(labels)


def safe_add(a, b):
    try:
        shape = torch.broadcast_shapes(a.shape, b.shape)
    except RuntimeError as e:
        raise ValueError(f"cannot add tensors of shapes {list(a.shape)} and {list(b.shape)}") from e
    return torch.add(a, b)
