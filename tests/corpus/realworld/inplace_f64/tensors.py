# A student who likes in-place operations and preallocated outputs (out=, *_ methods),
# and computes in float64 where a reduction could lose precision.
import numpy as np
import torch


def to_tensor(data, dtype=None):
    t = torch.from_numpy(data) if isinstance(data, np.ndarray) else torch.tensor(data)
    if dtype is not None and t.dtype is not dtype:
        t = t.type(dtype)
    return t


def describe(t):
    return {"shape": (*t.shape,), "dtype": f"{t.dtype}", "device": f"{t.device}"}


def add_batch_dim(x):
    return x.unsqueeze(0)          # a view; x.unsqueeze_(0) would change the caller's tensor


def flatten_images(x):
    B, C, H, W = x.shape
    out = x.new_empty(B, C * H * W)
    out.copy_(x.reshape(out.shape))
    return out


def normalize(x, mean, std):
    C = x.shape[-3]
    if len(mean) != C or len(std) != C:
        raise ValueError(f"{C} channels, but {len(mean)} means and {len(std)} stds")
    out = x.clone()
    out.sub_(torch.tensor(mean, dtype=x.dtype).view(C, 1, 1))
    out.div_(torch.tensor(std, dtype=x.dtype).view(C, 1, 1))
    return out


def one_hot(labels, num_classes):
    if labels.numel() and not (0 <= int(labels.min()) and int(labels.max()) < num_classes):
        raise ValueError(f"labels outside [0, {num_classes})")
    out = torch.zeros(labels.shape[0], num_classes)
    out.scatter_(1, labels.view(-1, 1), 1.0)
    return out


def predicted_labels(logits):
    idx = torch.empty(logits.shape[0], dtype=torch.int64, device=logits.device)
    torch.argmax(logits, dim=1, out=idx)
    return idx


def accuracy(logits, labels):
    hits = torch.eq(logits.argmax(1), labels).to(torch.float64)
    return hits.mean().item()


def safe_add(a, b):
    try:
        out_shape = torch.broadcast_shapes(a.shape, b.shape)
    except RuntimeError:
        raise ValueError(f"safe_add: {tuple(a.shape)} and {tuple(b.shape)} do not broadcast") from None
    out = torch.empty(out_shape, dtype=torch.result_type(a, b), device=a.device)
    out.copy_(a)      # copy_ broadcasts a into the preallocated result
    out.add_(b)
    return out
