# nanochat's autodetect_device_type, plus the bits a training script needs.
import torch
import torch.nn as nn

def autodetect_device_type():
    # prefer to use CUDA if available, otherwise use MPS, otherwise fallback on CPU
    if torch.cuda.is_available():
        device_type = "cuda"
    elif torch.backends.mps.is_available():
        device_type = "mps"
    else:
        device_type = "cpu"
    return device_type

def get_device(prefer=None):
    if prefer not in (None, "cpu", "cuda", "mps"):
        raise ValueError(f"prefer={prefer!r}: expected 'cpu', 'cuda', 'mps' or None")
    ok = {"cpu": True, "cuda": torch.cuda.is_available(), "mps": torch.backends.mps.is_available()}
    return torch.device(prefer if prefer is not None and ok[prefer] else autodetect_device_type())

def to_device(obj, device):
    if isinstance(obj, (torch.Tensor, nn.Module)): return obj.to(device)
    if isinstance(obj, dict): return type(obj)((k, to_device(v, device)) for k, v in obj.items())
    if isinstance(obj, tuple) and hasattr(obj, '_fields'): return type(obj)(*[to_device(v, device) for v in obj])
    if isinstance(obj, (list, tuple)): return type(obj)([to_device(v, device) for v in obj])
    return obj

def model_device(model):
    return next(model.parameters(), torch.empty(0)).device

def to_numpy(t):
    return t.detach().cpu().numpy()
