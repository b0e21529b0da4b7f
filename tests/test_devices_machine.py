"""The simulated machine: every public probe of CUDA and MPS agrees, and it is undone."""

from __future__ import annotations

import types

import pytest
import torch

from autograder.sandbox import machine
from autograder.sandbox.machine import Machine


def _probes() -> dict[str, object]:
    """What a student could ask, each public way."""
    accelerator = torch.accelerator.current_accelerator()
    return {
        "cuda.is_available": torch.cuda.is_available(),
        "cuda.device_count>0": torch.cuda.device_count() > 0,
        "backends.cuda.is_built": torch.backends.cuda.is_built() if not torch.cuda.is_available() else True,
        "mps.is_available": torch.backends.mps.is_available(),
        "mps.is_built": torch.backends.mps.is_built(),
        "torch.mps.is_available": torch.mps.is_available(),
        "accelerator.is_available": torch.accelerator.is_available(),
        "accelerator": None if accelerator is None else accelerator.type,
        "accelerator.device_count>0": torch.accelerator.device_count() > 0,
    }


@pytest.mark.parametrize("cuda,mps", [(True, False), (False, True), (False, False)])
def test_every_probe_agrees_and_is_restored(cuda, mps):
    before = _probes()
    patches = machine.install(Machine(cuda=cuda, mps=mps))
    try:
        seen = _probes()
        assert seen["cuda.is_available"] is cuda and seen["cuda.device_count>0"] is cuda
        assert seen["mps.is_available"] is mps and seen["mps.is_built"] is mps and seen["torch.mps.is_available"] is mps
        assert seen["accelerator.is_available"] is (cuda or mps)
        assert seen["accelerator"] == ("cuda" if cuda else "mps" if mps else None)
        assert seen["accelerator.device_count>0"] is (cuda or mps)
        if cuda:
            assert torch.cuda.current_device() == 0
            assert torch.accelerator.current_device_index() == 0
        else:
            with pytest.raises(RuntimeError):
                torch.cuda.current_device()
    finally:
        machine.restore(patches)
    assert _probes() == before


def test_names_imported_from_a_probe_are_patched_too():
    student = types.ModuleType("student_devices")
    student.is_available = torch.cuda.is_available       # from torch.cuda import is_available
    original = student.is_available
    patches = machine.install(Machine(cuda=True, mps=False), (student,))
    try:
        assert student.is_available() is True
    finally:
        machine.restore(patches)
    assert student.is_available is original


def test_a_machine_with_both_cuda_and_mps_is_refused():
    with pytest.raises(ValueError, match="no machine has both"):
        Machine(cuda=True, mps=True)


_TABLE = (("cuda", torch.cuda.is_available), ("mps", torch.backends.mps.is_available),
          ("accelerator", torch.accelerator.current_accelerator), ("idx", torch.accelerator.current_device_idx))


def _held(cuda_ok=torch.cuda.is_available, count=torch.cuda.device_count, mps_ok=torch.backends.mps.is_available):
    """Probes held by reference, as a keyword default and in a table built at import."""
    return cuda_ok(), count() > 0, mps_ok(), dict(_TABLE)["mps"](), dict(_TABLE)["accelerator"]()


@pytest.mark.parametrize("cuda,mps", [(True, False), (False, True), (False, False)])
def test_probes_held_by_reference_see_the_machine_and_are_restored(cuda, mps):
    functions = {name: probe for name, probe in _TABLE}
    codes = {name: getattr(getattr(probe, "__wrapped__", probe), "__code__") for name, probe in _TABLE}
    before = _held()
    patches = machine.install(Machine(cuda=cuda, mps=mps))
    try:
        seen = _held()
        assert seen[:4] == (cuda, cuda, mps, mps)
        assert (seen[4] and seen[4].type) == ("cuda" if cuda else "mps" if mps else None)
        if cuda or mps:
            assert dict(_TABLE)["idx"]() == 0        # a deprecated wrapper with a closure
        assert torch.cuda.is_available is functions["cuda"]    # the same objects, answering for the machine
    finally:
        machine.restore(patches)
    assert _held() == before
    assert {name: getattr(getattr(p, "__wrapped__", p), "__code__") for name, p in _TABLE} == codes
