# d2l.ai style (chapter "GPUs"): try_gpu / try_all_gpus ask torch.cuda.device_count().
import numpy
import torch
from torch import nn


def cpu():
    """Get the CPU device."""
    return torch.device('cpu')


def gpu(i=0):
    """Get a GPU device."""
    return torch.device(f'cuda:{i}')


def num_gpus():
    """Get the number of available GPUs."""
    return torch.cuda.device_count()


def try_gpu(i=0):
    """Return gpu(i) if exists, otherwise return cpu()."""
    if num_gpus() >= i + 1:
        return gpu(i)
    return cpu()


def mps_ok():
    return torch.backends.mps.is_available()


def get_device(prefer=None):
    if prefer is not None and prefer not in ('cpu', 'cuda', 'mps'):
        raise ValueError(f'unknown device: {prefer}')
    if prefer == 'cpu':
        return cpu()
    if prefer == 'mps' and mps_ok():
        return torch.device('mps')
    device = try_gpu()
    if device.type == 'cuda':
        return device
    if mps_ok():
        return torch.device('mps')
    return cpu()


def to_device(obj, device):
    if isinstance(obj, torch.Tensor):
        return obj.to(device)
    if isinstance(obj, nn.Module):
        obj.to(device)
        return obj
    if isinstance(obj, dict):
        return obj.__class__({key: to_device(value, device) for key, value in obj.items()})
    if isinstance(obj, list):
        return obj.__class__([to_device(x, device) for x in obj])
    if isinstance(obj, tuple):
        items = [to_device(x, device) for x in obj]
        return obj.__class__(*items) if hasattr(obj, '_asdict') else obj.__class__(items)
    return obj


def model_device(model):
    params = list(model.parameters())
    return params[0].device if params else cpu()


def to_numpy(t):
    return t.detach().cpu().numpy()
