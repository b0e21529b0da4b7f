"""Assignment 6, written defensively: validated names, availability asked at every call,
recursion with explicit container types, annotations for every argument."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import numpy as np
import torch
from torch import nn

KNOWN_DEVICES: Final[frozenset[str]] = frozenset({"cpu", "cuda", "mps"})


def _available(kind: str) -> bool:
    if kind == "cpu":
        return True
    if kind == "cuda":
        return bool(torch.cuda.is_available())
    if kind == "mps":
        mps = getattr(torch.backends, "mps", None)
        return bool(mps is not None and mps.is_available())
    raise ValueError(f"unknown device kind {kind!r}")


def get_device(prefer: str | None = None) -> torch.device:
    if prefer is not None:
        if not isinstance(prefer, str):
            raise ValueError(f"prefer must be a string or None, got {type(prefer).__name__}")
        if prefer not in KNOWN_DEVICES:
            raise ValueError(f"prefer must be one of {sorted(KNOWN_DEVICES)}, got {prefer!r}")
        if _available(prefer):
            return torch.device(prefer)
    for kind in ("cuda", "mps"):
        if _available(kind):
            return torch.device(kind)
    return torch.device("cpu")


def to_device(obj: Any, device: str | torch.device) -> Any:
    target: torch.device = torch.device(device) if isinstance(device, str) else device
    if isinstance(obj, torch.Tensor):
        return obj.to(target)
    if isinstance(obj, nn.Module):
        module: nn.Module = obj.to(target)
        return module
    if isinstance(obj, Mapping) and isinstance(obj, dict):
        return type(obj)({key: to_device(value, target) for key, value in obj.items()})
    if isinstance(obj, tuple):
        items = [to_device(item, target) for item in obj]
        return type(obj)(*items) if hasattr(type(obj), "_fields") else type(obj)(items)
    if isinstance(obj, list):
        return type(obj)(to_device(item, target) for item in obj)
    return obj


def model_device(model: nn.Module) -> torch.device:
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
    first: nn.Parameter | None = next(iter(model.parameters()), None)
    return first.device if first is not None else torch.device("cpu")


def to_numpy(t: torch.Tensor) -> np.ndarray:
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"to_numpy expects a tensor, got {type(t).__name__}")
    array: np.ndarray = t.detach().to("cpu").numpy()
    return array


if __name__ == "__main__":
    device = get_device()
    print("using", device)
    batch = {"x": torch.zeros(2), "y": [torch.ones(1), "label"]}
    moved = to_device(batch, device)
    assert moved["y"][1] == "label"
    print(to_numpy(moved["x"]))
