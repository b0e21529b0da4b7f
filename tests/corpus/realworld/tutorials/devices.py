# The tutorials' device line, wrapped in a function:
# device = "cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"
import torch
from torch import nn


def get_device(prefer=None):
    available = {
        "cpu": True,
        "cuda": torch.cuda.is_available(),
        "mps": torch.backends.mps.is_available(),
    }
    if prefer is not None:
        if prefer not in available:
            raise ValueError(f"prefer must be one of {sorted(available)} or None, not {prefer!r}")
        if available[prefer]:
            return torch.device(prefer)
    device = "cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"
    return torch.device(device)


def to_device(obj, device):
    if isinstance(obj, torch.Tensor):
        return obj.to(device)
    elif isinstance(obj, nn.Module):
        return obj.to(device)
    elif isinstance(obj, dict):
        return type(obj)({k: to_device(v, device) for k, v in obj.items()})
    elif isinstance(obj, list):
        return type(obj)(to_device(v, device) for v in obj)
    elif isinstance(obj, tuple) and hasattr(obj, "_fields"):
        return type(obj)(*(to_device(v, device) for v in obj))
    elif isinstance(obj, tuple):
        return tuple(to_device(v, device) for v in obj)
    return obj


def model_device(model):
    try:
        return next(model.parameters()).device
    except StopIteration:
        return torch.device("cpu")


def to_numpy(t):
    return t.cpu().detach().numpy()
