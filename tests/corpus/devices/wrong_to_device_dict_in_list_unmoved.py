# expect-lost: devices.to_device
# expect-message: devices.to_device: inside a dict inside a list
"""to_device returns a dict inside a list or tuple as it is: the tensors in it are not moved."""

import torch
from torch import nn


def get_device(prefer=None):
    if prefer not in (None, "cpu", "cuda", "mps"):
        raise ValueError(f"unknown device {prefer!r}")
    cuda_ok, mps_ok = torch.cuda.is_available(), torch.backends.mps.is_available()
    if prefer == "cpu" or (prefer == "cuda" and cuda_ok) or (prefer == "mps" and mps_ok):
        return torch.device(prefer)
    return torch.device("cuda") if cuda_ok else torch.device("mps") if mps_ok else torch.device("cpu")


def to_device(obj, device):
    if isinstance(obj, (torch.Tensor, nn.Module)):
        return obj.to(device)
    if isinstance(obj, dict):
        return type(obj)((k, to_device(v, device)) for k, v in obj.items())
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):
        return type(obj)(*(to_device(v, device) for v in obj))
    if isinstance(obj, (list, tuple)):
        return type(obj)(v if isinstance(v, dict) else to_device(v, device) for v in obj)
    return obj


def model_device(model):
    first = next(model.parameters(), None)
    return torch.device("cpu") if first is None else first.device


def to_numpy(t):
    return t.detach().cpu().numpy()
