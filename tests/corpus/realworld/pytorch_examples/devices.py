# Device handling the way today's pytorch/examples pick a device (mnist/main.py:
# `torch.accelerator.is_available()` / `torch.accelerator.current_accelerator()`).
import numpy as np
import torch
import torch.nn as nn


def get_device(prefer=None):
    if prefer not in (None, "cpu", "cuda", "mps"):
        raise ValueError("unknown device %r (use 'cpu', 'cuda' or 'mps')" % (prefer,))
    if prefer == "cpu":
        return torch.device("cpu")
    use_accel = torch.accelerator.is_available()
    if use_accel:
        device = torch.accelerator.current_accelerator()
    else:
        device = torch.device("cpu")
    # a machine has at most one kind of accelerator: a preferred one that is not it is
    # not available, and the default order is whatever the machine has
    return device


def to_device(obj, device):
    if torch.is_tensor(obj) or isinstance(obj, nn.Module):
        return obj.to(device)
    if isinstance(obj, dict):
        return type(obj)({k: to_device(v, device) for k, v in obj.items()})
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):  # namedtuple
        return type(obj)(*[to_device(v, device) for v in obj])
    if isinstance(obj, (list, tuple)):
        return type(obj)([to_device(v, device) for v in obj])
    return obj


def model_device(model):
    for p in model.parameters():
        return p.device
    return torch.device("cpu")


def to_numpy(t):
    return t.detach().to("cpu").numpy()


if __name__ == "__main__":
    print(get_device(), to_numpy(to_device(torch.ones(2), get_device())))
