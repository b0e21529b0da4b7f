# expect-lost: none
"""get_device as d2l's try_gpu asks (torch.cuda.device_count()) and MPS through is_built(): on a
consistent simulated machine every public probe agrees, so this is right."""

import torch
from torch import nn
def get_device(prefer=None):
    if prefer not in (None, "cpu", "cuda", "mps"):
        raise ValueError(prefer)
    cuda = torch.cuda.device_count() > 0
    mps = torch.backends.mps.is_built() and torch.backends.mps.is_available()
    if prefer == "cpu" or (prefer == "cuda" and cuda) or (prefer == "mps" and mps):
        return torch.device(prefer)
    return torch.device("cuda:0") if cuda else torch.device("mps") if mps else torch.device("cpu")


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

