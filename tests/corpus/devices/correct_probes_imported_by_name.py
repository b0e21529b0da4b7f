# expect-lost: none
"""get_device with the probes imported by name at the top (from torch.cuda import is_available):
the simulated machine patches those names in the student's module too, so they agree."""

import torch
from torch import nn
from torch.cuda import is_available as cuda_ok
from torch.backends.mps import is_available as mps_ok


def get_device(prefer=None):
    if prefer not in (None, "cpu", "cuda", "mps"):
        raise ValueError(prefer)
    if prefer == "cpu" or (prefer == "cuda" and cuda_ok()) or (prefer == "mps" and mps_ok()):
        return torch.device(prefer)
    return torch.device("cuda") if cuda_ok() else torch.device("mps") if mps_ok() else torch.device("cpu")


def to_device(obj, device):
    if isinstance(obj, (torch.Tensor, nn.Module)):
        return obj.to(device)
    if isinstance(obj, dict):
        return type(obj)((k, to_device(v, device)) for k, v in obj.items())
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):
        return type(obj)(*(to_device(i, device) for i in obj))
    if isinstance(obj, (list, tuple)):
        return type(obj)(to_device(i, device) for i in obj)
    return obj


def model_device(model):
    p = next(model.parameters(), None)
    return torch.device("cpu") if p is None else p.device


def to_numpy(t):
    return t.detach().cpu().numpy()

