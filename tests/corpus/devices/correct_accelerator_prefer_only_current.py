# expect-lost: none
"""get_device in today's pytorch/examples style: torch.accelerator.current_accelerator() when
torch.accelerator.is_available(), and `prefer` honoured only when it is that accelerator. Right
on every machine that exists (one accelerator at most); wrong only on an impossible machine
with both CUDA and MPS, which the checks no longer simulate."""

import torch
from torch import nn


def get_device(prefer=None):
    if prefer not in (None, "cpu", "cuda", "mps"):
        raise ValueError(f"prefer must be None, 'cpu', 'cuda' or 'mps', not {prefer!r}")
    if prefer == "cpu":
        return torch.device("cpu")
    accelerator = torch.accelerator.current_accelerator() if torch.accelerator.is_available() else None
    if accelerator is None:
        return torch.device("cpu")
    return torch.device(accelerator.type)


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

