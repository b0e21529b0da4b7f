# Stack Overflow's "How to check if pytorch is using the GPU?" and
# "How to move a nested structure of tensors to a device" answers, combined.
import collections.abc

import numpy as np
import torch


def get_device(prefer=None):
    if prefer not in (None, "cpu", "cuda", "mps"):
        raise ValueError("prefer must be None, 'cpu', 'cuda' or 'mps'")
    has_cuda = torch.cuda.is_available() and torch.cuda.device_count() > 0
    has_mps = getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    if prefer == "cpu":
        return torch.device("cpu")
    if prefer == "cuda" and has_cuda:
        # "torch.cuda.current_device() gives the index of the GPU in use"
        return torch.device("cuda", torch.cuda.current_device())
    if prefer == "mps" and has_mps:
        return torch.device("mps")
    if has_cuda:
        # "How do I check which GPU PyTorch is using?"
        print("Using", torch.cuda.get_device_name(torch.cuda.current_device()))
    return torch.device("cuda" if has_cuda else "mps" if has_mps else "cpu")


def to_device(obj, device):
    if hasattr(obj, "to") and callable(obj.to) and isinstance(obj, (torch.Tensor, torch.nn.Module)):
        return obj.to(device)
    if isinstance(obj, collections.abc.Mapping) and isinstance(obj, dict):
        return obj.__class__({k: to_device(v, device) for k, v in obj.items()})
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):  # namedtuple
        return obj.__class__(*(to_device(v, device) for v in obj))
    if isinstance(obj, (list, tuple)):
        return obj.__class__(to_device(v, device) for v in obj)
    return obj


def model_device(model):
    # https://stackoverflow.com/q/58926054: "next(model.parameters()).device"
    return next(model.parameters()).device if any(True for _ in model.parameters()) else torch.device("cpu")


def to_numpy(t):
    # "Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() instead."
    return t.detach().cpu().numpy() if t.is_cuda or t.requires_grad or t.device.type != "cpu" else t.numpy()
