"""Public checks for assignment 6, `devices`: run `pytest` in your starter folder.

They run on any machine: the CPU, plus PyTorch's `meta` device as a stand-in for "some
other device" (a meta tensor has a shape and dtype but no data). The grader runs more
checks on the same tasks (hidden ones, with other inputs and simulated GPUs).
"""

from collections import namedtuple

import numpy as np
import pytest
import torch
from torch import nn

from devices import get_device, model_device, to_device, to_numpy


# -- get_device ------------------------------------------------------------------
def test_get_device_returns_a_torch_device():
    device = get_device()
    assert isinstance(device, torch.device), \
        f"get_device() should return a torch.device, not a {type(device).__name__}: wrap it, torch.device(name)"


def test_get_device_cpu_is_always_available():
    device = get_device("cpu")
    assert device == torch.device("cpu"), f'get_device("cpu") returned {device!r}; expected device(type="cpu")'


def _pretend_cuda_machine(monkeypatch):
    """Make every public way of asking PyTorch say: one CUDA GPU, no MPS (no GPU is needed:
    only get_device's answer is checked, and each way of asking agrees with the others)."""
    answers = {
        (torch.cuda, "is_available"): lambda: True, (torch.cuda, "device_count"): lambda: 1,
        (torch.cuda, "current_device"): lambda: 0, (torch.cuda, "get_device_name"): lambda *a, **k: "Pretend GPU",
        (torch.backends.mps, "is_available"): lambda: False,
        (torch.backends.mps, "is_built"): lambda: False,
    }
    accelerator = getattr(torch, "accelerator", None)
    if accelerator is not None:
        answers.update({(accelerator, "is_available"): lambda: True,
                        (accelerator, "current_accelerator"): lambda *a, **k: torch.device("cuda"),
                        (accelerator, "device_count"): lambda: 1})
    for (owner, name), answer in answers.items():
        if hasattr(owner, name):
            monkeypatch.setattr(owner, name, answer)


def test_get_device_prefers_cuda_when_available(monkeypatch):
    _pretend_cuda_machine(monkeypatch)
    device = get_device()
    # torch.device("cuda") and torch.device("cuda:0") both name the GPU: either is right.
    assert isinstance(device, torch.device) and device.type == "cuda" and device.index in (None, 0), \
        (f"with CUDA available, get_device() returned {device!r}; expected device(type='cuda'). "
         "Ask PyTorch inside get_device (e.g. torch.cuda.is_available()), each time it is called")


def test_get_device_rejects_an_unknown_name():
    with pytest.raises(ValueError):
        get_device("gpu")


# -- to_device -------------------------------------------------------------------
def test_to_device_moves_a_tensor_to_meta():
    moved = to_device(torch.zeros(2, 3), "meta")
    assert isinstance(moved, torch.Tensor), f"to_device(tensor, 'meta') returned a {type(moved).__name__}"
    assert moved.device.type == "meta", f"to_device(tensor, 'meta') returned a tensor on {moved.device}"
    assert moved.shape == (2, 3), f"to_device changed the shape to {tuple(moved.shape)}"


@pytest.mark.parametrize("device", ["cpu", "meta"])
def test_to_device_nested_dict(device):
    batch = {"x": torch.zeros(2), "meta": ["id", torch.ones(1)]}
    moved = to_device(batch, device)
    assert isinstance(moved, dict), f"to_device(dict, ...) returned a {type(moved).__name__}; expected a dict"
    assert set(moved) == {"x", "meta"}, f"to_device changed the dict's keys to {sorted(moved)}"
    assert moved["x"].device.type == device, f'moved["x"] is on {moved["x"].device}; expected {device}'
    assert isinstance(moved["meta"], list), \
        f'moved["meta"] is a {type(moved["meta"]).__name__}; expected a list (keep each container\'s type)'
    assert moved["meta"][0] == "id", f'moved["meta"][0] is {moved["meta"][0]!r}; strings must be returned unchanged'
    assert moved["meta"][1].device.type == device, \
        f'moved["meta"][1] is on {moved["meta"][1].device}; expected {device} (move tensors at any depth)'
    if device == "cpu":
        assert torch.equal(moved["x"], batch["x"]), "to_device changed the values of a tensor"


def test_to_device_keeps_a_named_tuple():
    Batch = namedtuple("Batch", ["images", "labels"])
    moved = to_device(Batch(torch.zeros(2, 3), torch.tensor([1, 0])), "meta")
    assert isinstance(moved, Batch), \
        f"to_device(Batch(...)) returned a {type(moved).__name__}; expected a Batch: use type(obj)(*items)"
    assert moved.images.device.type == "meta" and moved.labels.device.type == "meta", \
        "to_device(Batch(...), 'meta') left a tensor of the named tuple on the CPU"


def test_to_device_returns_the_module():
    model = nn.Linear(2, 3)
    moved = to_device(model, "meta")
    assert moved is model, "to_device(module, device) should return the same module (model.to moves it in place)"
    assert model.weight.device.type == "meta", f"the module's weight is on {model.weight.device}; expected meta"


def test_to_device_returns_other_values_unchanged():
    for value in (3, "text", None):
        assert to_device(value, "meta") == value, f"to_device({value!r}, 'meta') should return {value!r} unchanged"


# -- model_device ----------------------------------------------------------------
def test_model_device_of_a_cpu_model():
    device = model_device(nn.Linear(2, 3))
    assert device == torch.device("cpu"), f"model_device(nn.Linear(2, 3)) returned {device!r}; expected cpu"


def test_model_device_without_parameters():
    device = model_device(nn.ReLU())
    assert device == torch.device("cpu"), \
        f"model_device(nn.ReLU()) returned {device!r}; a model without parameters is on the CPU"


# -- to_numpy --------------------------------------------------------------------
def test_to_numpy_of_a_tensor_requiring_grad():
    t = torch.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    array = to_numpy(t)
    assert isinstance(array, np.ndarray), f"to_numpy returned a {type(array).__name__}; expected a numpy.ndarray"
    assert array.shape == (2, 2), f"to_numpy returned shape {array.shape}; expected (2, 2)"
    assert np.array_equal(array, [[1.0, 2.0], [3.0, 4.0]]), f"to_numpy returned {array}; expected the tensor's values"
