"""Devices with today's PyTorch: torch.accelerator for the default, per-backend checks
for an explicit preference, Tensor.numpy(force=True), structural pattern matching."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

_NAMES = ("cpu", "cuda", "mps")


def _available(name: str) -> bool:
    match name:
        case "cpu":
            return True
        case "cuda":
            return torch.cuda.is_available()
        case "mps":
            return torch.backends.mps.is_available()
    return False


def get_device(prefer: str | None = None) -> torch.device:
    if prefer is not None and prefer not in _NAMES:
        raise ValueError(f"prefer must be one of {', '.join(_NAMES)} or None, not {prefer!r}")
    if prefer is not None and _available(prefer):
        return torch.device(prefer)
    accelerator = torch.accelerator.current_accelerator(check_available=True)
    return torch.device(accelerator.type) if accelerator is not None else torch.device("cpu")


def to_device(obj: Any, device: str | torch.device) -> Any:
    match obj:
        case torch.Tensor() | nn.Module():
            return obj.to(device)
        case dict():
            return type(obj)({key: to_device(value, device) for key, value in obj.items()})
        case tuple() if hasattr(obj, "_fields"):
            return type(obj)(*(to_device(item, device) for item in obj))
        case list() | tuple():
            return type(obj)(to_device(item, device) for item in obj)
        case _:
            return obj


def model_device(model: nn.Module) -> torch.device:
    match next(model.parameters(), None):
        case None:
            return torch.device("cpu")
        case first:
            return first.device


def to_numpy(t: torch.Tensor) -> np.ndarray:
    return t.numpy(force=True)
