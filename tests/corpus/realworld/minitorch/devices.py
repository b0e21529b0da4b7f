"""Devices, minitorch style: small predicates, each asked when needed; MPS counts when
PyTorch was built with it and the machine has it (the tutorials' is_built/is_available)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

DEVICES = ("cpu", "cuda", "mps")


def has_cuda() -> bool:
    return torch.cuda.is_available()


def has_mps() -> bool:
    return torch.backends.mps.is_built() and torch.backends.mps.is_available()


def is_available(name: str) -> bool:
    return {"cpu": lambda: True, "cuda": has_cuda, "mps": has_mps}[name]()


def get_device(prefer: str | None = None) -> torch.device:
    if prefer is not None:
        if prefer not in DEVICES:
            raise ValueError(f"get_device: prefer must be one of {DEVICES} or None, got {prefer!r}")
        if is_available(prefer):
            return torch.device(prefer)
    for name in DEVICES[1:] + DEVICES[:1]:
        if is_available(name):
            return torch.device(name)


def to_device(obj: Any, device: Any) -> Any:
    if isinstance(obj, torch.Tensor):
        return obj.to(device)
    if isinstance(obj, nn.Module):
        return obj.to(device)
    if isinstance(obj, dict):
        out = type(obj)()
        for k, v in obj.items():
            out[k] = to_device(v, device)
        return out
    if isinstance(obj, tuple) and hasattr(obj, "_make"):
        return obj._make(to_device(v, device) for v in obj)
    if isinstance(obj, (list, tuple)):
        return type(obj)(to_device(v, device) for v in obj)
    return obj


def model_device(model: nn.Module) -> torch.device:
    for p in model.parameters():
        return p.device
    return torch.device("cpu")


def to_numpy(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().numpy() if t.requires_grad or t.device.type != "cpu" else t.numpy()
