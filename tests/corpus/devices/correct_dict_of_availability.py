# expect-lost: none
"""A correct submission written differently from the reference: a dict of availability,
isinstance checks in another order, a loop for the first parameter."""

import numpy as np
import torch
import torch.nn as nn

KNOWN = ("cpu", "cuda", "mps")


def get_device(prefer=None):
    available = {
        "cuda": torch.cuda.is_available(),
        "mps": torch.backends.mps.is_available(),
        "cpu": True,
    }
    if prefer is not None and prefer not in KNOWN:
        raise ValueError("unknown device " + repr(prefer))
    if prefer is not None and available[prefer]:
        return torch.device(prefer)
    for name in ("cuda", "mps", "cpu"):
        if available[name]:
            return torch.device(name)


def to_device(obj, device):
    if isinstance(obj, dict):
        return type(obj)({k: to_device(v, device) for k, v in obj.items()})
    if isinstance(obj, list):
        return [to_device(v, device) for v in obj]
    if isinstance(obj, tuple):
        moved = [to_device(v, device) for v in obj]
        if hasattr(obj, "_fields"):
            return type(obj)(*moved)
        return tuple(moved)
    if isinstance(obj, nn.Module):
        obj.to(device)
        return obj
    if torch.is_tensor(obj):
        return obj.to(device=device)
    return obj


def model_device(model):
    for p in model.parameters():
        return p.device
    return torch.device("cpu")


def to_numpy(t):
    return t.detach().to("cpu").numpy()
