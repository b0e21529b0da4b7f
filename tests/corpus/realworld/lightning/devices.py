# Lightning's accelerator connector in miniature: accelerator classes with
# is_available(), tried in the "auto" order CUDA, MPS, CPU; move_data_to_device
# through apply_to_collection.
from __future__ import annotations

from typing import Any, Callable, Union

import numpy as np
import torch
from torch import nn


class CPUAccelerator:
    name = "cpu"

    @staticmethod
    def is_available() -> bool:
        return True


class CUDAAccelerator:
    name = "cuda"

    @staticmethod
    def is_available() -> bool:
        return torch.cuda.device_count() > 0


class MPSAccelerator:
    name = "mps"

    @staticmethod
    def is_available() -> bool:
        return torch.backends.mps.is_available()


_ACCELERATORS = {a.name: a for a in (CUDAAccelerator, MPSAccelerator, CPUAccelerator)}


def get_device(prefer: str | None = None) -> torch.device:
    if prefer is not None and prefer not in _ACCELERATORS:
        raise ValueError(f"You selected an invalid accelerator name: `accelerator={prefer!r}`."
                         f" Available names are: auto, {', '.join(_ACCELERATORS)}.")
    if prefer is not None and _ACCELERATORS[prefer].is_available():
        return torch.device(prefer)
    for name, accelerator in _ACCELERATORS.items():  # "auto"
        if accelerator.is_available():
            return torch.device(name)
    raise AssertionError("the CPU is always available")


def apply_to_collection(data: Any, dtype: type, function: Callable) -> Any:
    if isinstance(data, dtype):
        return function(data)
    elem_type = type(data)
    if isinstance(data, dict):
        return elem_type([(k, apply_to_collection(v, dtype, function)) for k, v in data.items()])
    is_namedtuple = isinstance(data, tuple) and hasattr(data, "_fields")
    if is_namedtuple or isinstance(data, (list, tuple)):
        out = [apply_to_collection(d, dtype, function) for d in data]
        return elem_type(*out) if is_namedtuple else elem_type(out)
    return data


def to_device(obj: Any, device: Union[str, torch.device]) -> Any:
    if isinstance(obj, nn.Module):
        return obj.to(device)
    return apply_to_collection(obj, dtype=torch.Tensor, function=lambda t: t.to(device))


def model_device(model: nn.Module) -> torch.device:
    return next(iter(model.parameters()), torch.zeros(())).device


def to_numpy(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().numpy()
