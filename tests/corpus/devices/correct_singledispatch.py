# expect-lost: none
"""A correct submission using functools.singledispatch and an explicit priority list."""

from functools import singledispatch

import torch
from torch import nn


def get_device(prefer=None):
    checks = [("cuda", torch.cuda.is_available), ("mps", torch.backends.mps.is_available),
              ("cpu", lambda: True)]
    names = [name for name, _ in checks]
    if prefer is None:
        order = names
    elif prefer in names:
        order = [prefer] + names
    else:
        raise ValueError(f"prefer must be one of {names} or None, not {prefer!r}")
    for name in order:
        if dict(checks)[name]():
            return torch.device(name)
    return torch.device("cpu")


@singledispatch
def _move(obj, device):
    return obj


@_move.register
def _(obj: torch.Tensor, device):
    return obj.to(device)


@_move.register
def _(obj: nn.Module, device):
    return obj.to(device)


@_move.register
def _(obj: list, device):
    return [_move(x, device) for x in obj]


@_move.register
def _(obj: tuple, device):
    items = [_move(x, device) for x in obj]
    return type(obj)(*items) if hasattr(type(obj), "_fields") else type(obj)(items)


@_move.register
def _(obj: dict, device):
    out = type(obj)()
    for key in obj:
        out[key] = _move(obj[key], device)
    return out


def to_device(obj, device):
    return _move(obj, device)


def model_device(model):
    params = list(model.parameters())
    return params[0].device if params else torch.device("cpu")


def to_numpy(t):
    if t.requires_grad:
        t = t.detach()
    if t.device.type != "cpu":
        t = t.cpu()
    return t.numpy()
