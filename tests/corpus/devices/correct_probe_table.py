# expect-lost: none
"""get_device with a table of (name, probe) pairs built at import, the probes called at each call:
the simulated machine answers in the probe functions themselves, so references held anywhere agree."""

import torch
from torch import nn

_PROBES = (
    ("cuda", torch.cuda.is_available),
    ("mps", torch.backends.mps.is_available),
    ("cpu", lambda: True),
)
_NAMES = {name for name, _ in _PROBES}


def get_device(prefer=None):
    if prefer is not None and prefer not in _NAMES:
        raise ValueError(f"unknown device {prefer!r}")
    available = [name for name, probe in _PROBES if probe()]
    if prefer in available:
        return torch.device(prefer)
    return torch.device(available[0])


def to_device(obj, device):
    if isinstance(obj, (torch.Tensor, nn.Module)):
        return obj.to(device)
    if isinstance(obj, dict):
        return type(obj)((k, to_device(v, device)) for k, v in obj.items())
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):
        return type(obj)(*(to_device(v, device) for v in obj))
    if isinstance(obj, (list, tuple)):
        return type(obj)(to_device(v, device) for v in obj)
    return obj


def model_device(model):
    first = next(model.parameters(), None)
    return torch.device("cpu") if first is None else first.device


def to_numpy(t):
    return t.detach().cpu().numpy()
