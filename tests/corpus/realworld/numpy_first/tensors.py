# A NumPy-first student: think in arrays, convert at the edges (torch.from_numpy shares
# memory, so the round trips below cost no copies where it matters).
import numpy as np
import torch


def to_tensor(data, dtype=None):
    if isinstance(data, np.ndarray):
        t = torch.from_numpy(data)
    else:
        t = torch.tensor(data)   # np.array(data) would turn float lists into float64
    return t if dtype is None else t.to(dtype)


def describe(t):
    return {"shape": tuple(map(int, np.shape(t))), "dtype": str(t.dtype), "device": str(t.device)}


def add_batch_dim(x):
    # np.broadcast_to(x, (1,) + x.shape): a view, nothing copied
    return torch.broadcast_to(x, (1,) + tuple(x.shape))


def flatten_images(x):
    B = x.shape[0]
    return x.reshape(B, int(np.prod(x.shape[1:])))


def normalize(x, mean, std):
    mean = np.asarray(mean, dtype=np.float64)
    std = np.asarray(std, dtype=np.float64)
    C = x.shape[-3]
    if mean.shape != (C,) or std.shape != (C,):
        raise ValueError(f"mean {mean.shape} and std {std.shape} must both have shape ({C},)")
    m = torch.from_numpy(mean[:, None, None]).to(x.dtype)
    s = torch.from_numpy(std[:, None, None]).to(x.dtype)
    return (x - m) / s


def one_hot(labels, num_classes):
    y = labels.cpu().numpy()
    if y.size and (y.min() < 0 or y.max() >= num_classes):
        raise ValueError(f"labels must be in [0, {num_classes}); got min {y.min()}, max {y.max()}")
    return torch.from_numpy(np.eye(num_classes, dtype=np.float32)[y])


def predicted_labels(logits):
    return torch.from_numpy(np.argmax(logits.detach().cpu().numpy(), axis=1).astype(np.int64))


def accuracy(logits, labels):
    pred = np.argmax(logits.detach().cpu().numpy(), axis=1)
    return np.mean(pred == labels.cpu().numpy())   # a numpy.float64, which is a Python float


def safe_add(a, b):
    try:
        np.broadcast_shapes(tuple(a.shape), tuple(b.shape))
    except ValueError:
        raise ValueError(f"shape mismatch: {tuple(a.shape)} and {tuple(b.shape)} cannot be broadcast together")
    return a + b
