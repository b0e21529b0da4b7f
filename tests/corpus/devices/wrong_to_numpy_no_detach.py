# expect-lost: devices.to_numpy
# expect-outcome: devices.to_numpy: error
"""to_numpy forgets to detach: fails for tensors that require grad."""

import numpy as np
import torch
from torch import nn


def get_device(prefer=None):
    if prefer not in (None, "cpu", "cuda", "mps"):
        raise ValueError(f"unknown device {prefer!r}")
    cuda_ok = torch.cuda.is_available()
    mps_ok = torch.backends.mps.is_available()
    if prefer == "cpu" or (prefer == "cuda" and cuda_ok) or (prefer == "mps" and mps_ok):
        return torch.device(prefer)
    if cuda_ok:
        return torch.device("cuda")
    if mps_ok:
        return torch.device("mps")
    return torch.device("cpu")


def to_device(obj, device):
    if isinstance(obj, (torch.Tensor, nn.Module)):
        return obj.to(device)
    if isinstance(obj, dict):
        return {key: to_device(value, device) for key, value in obj.items()}
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):
        return type(obj)(*(to_device(item, device) for item in obj))
    if isinstance(obj, (list, tuple)):
        return type(obj)(to_device(item, device) for item in obj)
    return obj


def model_device(model):
    first = next(model.parameters(), None)
    return torch.device("cpu") if first is None else first.device


def to_numpy(t):
    return t.cpu().numpy()
