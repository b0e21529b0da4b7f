"""Hidden checks of assignment 6, ``devices``: choosing a device, moving nested batches and
modules, finding a model's device, and converting tensors to NumPy.

The checks run on a real GPU where the grader has one (``torch.cuda.is_available()``),
and otherwise on PyTorch's ``meta`` device, which every machine has: a tensor moved
there keeps its shape and dtype and reports ``device.type == "meta"``. ``get_device`` is
checked on simulated machines on which every public probe of CUDA and MPS agrees
(:mod:`autograder.sandbox.machine`, in the worker for the student and in the grader for
the reference), so a grader without a GPU grades the whole assignment and any public way
of asking PyTorch is right.
"""

from __future__ import annotations

from collections import namedtuple
from typing import Any

import numpy as np
import pytest
import torch

from solutions import devices as ref

from autograder.checks.api import describe_value, expect_tensor, fail, shape_words
from autograder.sandbox import machine
from autograder.sandbox.client import Ref, StudentError

M = "devices"
GPU = torch.cuda.is_available()
TARGET = "cuda" if GPU else "meta"     # the "other" device that to_device / model_device are checked on
TENSOR_TYPES = ("torch.Tensor", "torch.nn.parameter.Parameter")

Batch = namedtuple("Batch", ["images", "labels"])
Sample = namedtuple("Sample", ["x", "meta"])

# The machines that exist: CPU only, a CUDA machine, an Apple machine with MPS. None has both
# (PyTorch's torch.accelerator reports one accelerator), so none is simulated: on an
# impossible machine a correct get_device that asks torch.accelerator looks wrong.
MACHINES = ((True, False), (False, True), (False, False))

UNKNOWN_NAME_HINT = ('raise ValueError(...) for anything but None and exactly "cpu", "cuda" and "mps" (as '
                     'torch.device, names are not lower-cased)')
NAMEDTUPLE_HINT = ("a named tuple is a tuple with a _fields attribute; tuple(items) loses its type and "
                   "type(obj)(items) fails: rebuild it with type(obj)(*items)")


# -- helpers ---------------------------------------------------------------------
def _is_device(got: Any, kind: str) -> bool:
    """``got`` is a torch.device of type ``kind`` ("cuda" and "cuda:0" are both accepted)."""
    return isinstance(got, torch.device) and got.type == kind and got.index in (None, 0)


def _words(trail: tuple[str, ...]) -> str:
    """Where in the structure, in words (outermost container first in the trail)."""
    return "".join(f" inside {name}" for name in reversed(trail)) if trail else ""


def _type_words(info: dict) -> str:
    kind = str(info.get("type", "?"))
    if "fields" in info:
        return f"a named tuple {kind.rsplit('.', 1)[-1]}"
    words = {"builtins.list": "a list", "builtins.tuple": "a plain tuple", "builtins.dict": "a dict",
             "builtins.NoneType": "None", "torch.Tensor": "a tensor"}
    if kind in words:
        return words[kind]
    if kind.startswith("builtins."):
        return f"a {kind.removeprefix('builtins.')}"
    return f"an object of type {kind}"


def _expect_structure(info: dict, want: Any, device_type: str, *, what: str, trail: tuple[str, ...] = (),
                      path: str = "obj", hint: str | None = None) -> None:
    """Compare the worker's description of a result with the expected object, recursively.

    ``want`` is the expected value built in the grader: tensors must be on ``device_type``
    with the same shape and dtype; lists, tuples, named tuples and dicts must keep their type,
    length, fields and keys; anything else must be the same value of the same type.
    """
    where = _words(trail)
    kind = str(info.get("type", ""))
    detail = f"at {path}"
    if isinstance(want, torch.Tensor):
        if kind not in TENSOR_TYPES:
            fail(f"{what}: a tensor{where} came back as {_type_words(info)}; expected a tensor.",
                 hint=hint, detail=detail)
        got_device = str(info.get("device"))
        if torch.device(got_device).type != device_type:
            fail(f"{what}: a tensor{where} is on {got_device}; expected it on {device_type}.",
                 hint=hint or "move every tensor, at any depth, with .to(device)", detail=detail)
        got_shape = tuple(int(v) for v in info.get("shape", []))
        if got_shape != tuple(want.shape):
            fail(f"{what}: a tensor{where} came back as {shape_words(got_shape, tuple(want.shape))}; a move "
                 "keeps the shape.", hint=hint,
                 detail=f"{detail}: shape {list(got_shape)}, expected {list(want.shape)}")
        if info.get("dtype") != str(want.dtype):
            fail(f"{what}: a tensor{where} has dtype {info.get('dtype')}; expected {want.dtype} (a move keeps "
                 "the dtype).", hint=hint, detail=detail)
        return
    if isinstance(want, tuple) and hasattr(type(want), "_fields"):
        name = type(want).__name__
        if "fields" not in info or kind.rsplit(".", 1)[-1] != name:
            fail(f"{what}: a named tuple {name}{where} came back as {_type_words(info)}; expected the same "
                 f"named tuple type.", hint=hint or NAMEDTUPLE_HINT, detail=detail)
        if list(info["fields"]) != list(want._fields):
            fail(f"{what}: the named tuple {name}{where} came back with fields {info['fields']}; expected "
                 f"{list(want._fields)}.", hint=hint or NAMEDTUPLE_HINT, detail=detail)
        for field, item_info, item in zip(want._fields, info.get("items", []), want):
            _expect_structure(item_info, item, device_type, what=what, trail=trail + (f"a named tuple {name}",),
                              path=f"{path}.{field}", hint=hint)
        return
    if type(want) in (list, tuple):
        words = "a list" if type(want) is list else "a tuple"
        if kind != f"builtins.{type(want).__name__}":
            fail(f"{what}: {words}{where} came back as {_type_words(info)}; expected {words}.",
                 hint=hint or "rebuild each container with its own type, type(obj)(...)", detail=detail)
        items = info.get("items", [])
        if len(items) != len(want):
            fail(f"{what}: {words}{where} came back with {len(items)} items; expected {len(want)}.",
                 hint=hint, detail=detail)
        for index, (item_info, item) in enumerate(zip(items, want)):
            _expect_structure(item_info, item, device_type, what=what, trail=trail + (words,),
                              path=f"{path}[{index}]", hint=hint)
        return
    if type(want) is dict:
        if kind != "builtins.dict":
            fail(f"{what}: a dict{where} came back as {_type_words(info)}; expected a dict.", hint=hint,
                 detail=detail)
        keys = [str(k) for k in want]
        if sorted(info.get("keys", [])) != sorted(keys):
            fail(f"{what}: a dict{where} came back with other keys; expected the same keys.",
                 hint=hint or "keep every key; convert only the values",
                 detail=f"{detail}: keys {info.get('keys')}, expected {keys}")
        for key, item in want.items():
            _expect_structure(info["values"][str(key)], item, device_type, what=what, trail=trail + ("a dict",),
                              path=f"{path}[{key!r}]", hint=hint)
        return
    want_type = f"{type(want).__module__}.{type(want).__qualname__}"
    if kind != want_type or info.get("value") != want:
        received = f"another {type(want).__name__}" if kind == want_type else _type_words(info)
        fail(f"{what}: a {type(want).__name__}{where} came back as {received}; values that are not tensors, "
             "modules or containers must be returned unchanged.",
             hint=hint or "return obj itself for anything else (and do not treat a string as a sequence)",
             detail=f"{detail}: received {info}")


def _to_device_info(student, obj: Any, device: Any) -> dict:
    """Call the student's to_device, keep the result in the worker and describe it."""
    result = student.call(f"{M}.to_device", obj, device, keep=True)
    return student.describe(result)


def _get_device(student, cuda: bool, mps: bool, *args: Any) -> Any:
    """The student's get_device(*args) on a machine simulated to have CUDA and/or MPS.

    Every public probe agrees (``torch.cuda.device_count``, ``torch.backends.mps.is_built``,
    ``torch.accelerator``, ...): see :mod:`autograder.sandbox.machine`."""
    student.module(M)
    try:
        student.simulate_machine(cuda, mps)
        return student.call(f"{M}.get_device", *args)
    finally:
        student.unpatch()


def _machine_words(cuda: bool, mps: bool) -> str:
    if cuda or mps:
        return f"only {'CUDA' if cuda else 'MPS'} available"
    return "neither CUDA nor MPS available"


def _expect_get_device(student, cuda: bool, mps: bool, prefer: str | None, property_words: str,
                       hint: str | None = None) -> None:
    got = _get_device(student, cuda, mps, *([] if prefer is None else [prefer]))
    want = _ref_get_device(cuda, mps, prefer)
    detail = f"prefer={prefer!r}, cuda available={cuda}, mps available={mps}"
    if not isinstance(got, torch.device):
        fail(f"get_device should return a torch.device, but returned {describe_value(got)}.",
             hint="wrap the name: torch.device(name)", detail=detail)
    if not _is_device(got, want.type):
        fail(f"{property_words}: get_device returned {got}; expected {want.type}.", hint=hint, detail=detail)


def _ref_get_device(cuda: bool, mps: bool, prefer: str | None) -> torch.device:
    """The reference's answer on the same simulated machine (the reference, run in the grader)."""
    patches = machine.install(machine.Machine(cuda=cuda, mps=mps), (ref,))
    try:
        return ref.get_device(prefer)
    finally:
        machine.restore(patches)


# -- get_device ------------------------------------------------------------------------
@pytest.mark.task(f"{M}.get_device")
@pytest.mark.public
def test_get_device_returns_cpu_without_accelerators(student):
    got = _get_device(student, False, False)
    if not isinstance(got, torch.device):
        fail(f"get_device() should return a torch.device, but returned {describe_value(got)}.",
             hint='return torch.device("cpu"), not the string "cpu"')
    if not _is_device(got, "cpu"):
        fail(f"get_device() on a machine without CUDA and MPS returned {got}; expected cpu.")
    got = _get_device(student, False, False, "cpu")
    if not _is_device(got, "cpu"):
        fail(f'get_device("cpu") returned {describe_value(got) if not isinstance(got, torch.device) else got}; '
             "expected torch.device(\"cpu\").")


@pytest.mark.task(f"{M}.get_device")
@pytest.mark.weight(2)
def test_get_device_default_order_is_cuda_mps_cpu(student):
    for cuda, mps in MACHINES:
        _expect_get_device(student, cuda, mps, None,
                           f"without a preference, on a machine with {_machine_words(cuda, mps)}",
                           hint="ask PyTorch what is available at each call (not once at import); the order is "
                                "CUDA, then MPS, then the CPU")


@pytest.mark.task(f"{M}.get_device")
@pytest.mark.weight(2)
def test_get_device_returns_preferred_device_when_available(student):
    for prefer, cuda, mps in (("cuda", True, False), ("mps", False, True), ("cpu", True, False),
                              ("cpu", False, True), ("cpu", False, False)):
        _expect_get_device(student, cuda, mps, prefer,
                           f"with the preferred device available (machine with {_machine_words(cuda, mps)})",
                           hint="return torch.device(prefer) when that device is available; the CPU always is")


@pytest.mark.task(f"{M}.get_device")
@pytest.mark.weight(2)
def test_get_device_falls_back_when_preferred_is_unavailable(student):
    for prefer, cuda, mps in (("cuda", False, True), ("cuda", False, False), ("mps", True, False),
                              ("mps", False, False)):
        _expect_get_device(student, cuda, mps, prefer,
                           f"with the preferred device unavailable (machine with {_machine_words(cuda, mps)})",
                           hint="when the preferred device is not available, fall back to CUDA, then MPS, "
                                "then the CPU")


@pytest.mark.task(f"{M}.get_device")
@pytest.mark.weight(2)
def test_get_device_rejects_unknown_names(student):
    for name, cuda, mps in (("gpu", False, False), ("tpu", False, False), ("cuda:0", False, False),
                            ("gpu", True, False), ("gpu", False, True), ("CUDA", True, False),
                            ("Cpu", False, False), ("MPS", False, True)):
        try:
            got = _get_device(student, cuda, mps, name)
        except StudentError as err:
            if not err.is_a("ValueError"):
                fail(f"get_device with an unknown device name raised {err.type_name}; expected ValueError.",
                     hint=UNKNOWN_NAME_HINT, detail=f"prefer={name!r}")
            continue
        received = got if isinstance(got, torch.device) else describe_value(got)
        fail(f"get_device({name!r}) returned {received}; expected it to raise ValueError (an unknown device name).",
             hint=UNKNOWN_NAME_HINT,
             detail=f"prefer={name!r}, cuda available={cuda}, mps available={mps}")


# -- to_device -------------------------------------------------------------------------
@pytest.mark.task(f"{M}.to_device")
@pytest.mark.public
def test_to_device_moves_a_tensor(student):
    x = torch.arange(6.0).reshape(2, 3)
    for device in (TARGET, torch.device(TARGET)):
        got = student.call(f"{M}.to_device", x, device)
        expect_tensor(got, ref.to_device(x, TARGET), what=f"to_device(tensor, {device!r})",
                      hint="a tensor is moved with t.to(device)")
    labels = torch.tensor([3, 1, 2])
    expect_tensor(student.call(f"{M}.to_device", labels, TARGET), ref.to_device(labels, TARGET),
                  what="to_device(int64 tensor, device)", hint="a tensor is moved with t.to(device)")


@pytest.mark.task(f"{M}.to_device")
@pytest.mark.public
def test_to_device_nested_dict(student):
    batch = {"x": torch.zeros(2), "meta": ["id", torch.ones(1)]}
    _expect_structure(_to_device_info(student, batch, TARGET), ref.to_device(batch, TARGET), TARGET,
                      what=f'to_device({{"x": tensor, "meta": ["id", tensor]}}, "{TARGET}")')


@pytest.mark.task(f"{M}.to_device")
@pytest.mark.weight(2)
def test_to_device_lists_and_tuples(student):
    t = torch.arange(4.0).reshape(2, 2)
    cases = [
        [t, t[0]],
        (t, torch.tensor([1, 2])),
        [t, (t, [t, 3]), "name", ()],
        ([], ([t],), (t,)),
    ]
    for obj in cases:
        _expect_structure(_to_device_info(student, obj, TARGET), ref.to_device(obj, TARGET), TARGET,
                          what="to_device of a nested list or tuple")


@pytest.mark.task(f"{M}.to_device")
@pytest.mark.weight(2)
def test_to_device_keeps_named_tuples(student):
    x, y = torch.zeros(2, 3), torch.tensor([1, 0])
    cases = [
        Batch(x, y),
        [Batch(images=x, labels=[y, "tag"]), Batch(x, None)],
        {"batch": Batch(x, y), "sample": Sample(x=(x, y), meta={"id": 7})},
        Sample(x=Batch(x, y), meta="plain"),
    ]
    for obj in cases:
        _expect_structure(_to_device_info(student, obj, TARGET), ref.to_device(obj, TARGET), TARGET,
                          what="to_device of a named tuple")


@pytest.mark.task(f"{M}.to_device")
@pytest.mark.weight(2)
def test_to_device_dicts(student):
    x = torch.ones(3)
    cases = [
        {"x": x, "y": torch.tensor([1, 2, 3])},
        {"inputs": {"ids": x, "mask": [x, x]}, "labels": x, "name": "batch-0", "size": 3},
        {"a": {"b": {"c": x}}, "empty": {}},
        [{"x": x}, ({"y": x, "z": [x]},)],
    ]
    for obj in cases:
        _expect_structure(_to_device_info(student, obj, TARGET), ref.to_device(obj, TARGET), TARGET,
                          what="to_device of a dict")


@pytest.mark.task(f"{M}.to_device")
@pytest.mark.weight(2)
def test_to_device_moves_and_returns_the_module(student):
    student.module(M)
    cases = [("an nn.Linear", [("torch.nn.Linear", (2, 3))]),
             ("an nn.Sequential with a buffer", [("torch.nn.Linear", (2, 3)), ("torch.nn.BatchNorm1d", (3,))])]
    for words, layers in cases:
        parts = [student.call(path, *args, keep=True) for path, args in layers]
        model = parts[0] if len(parts) == 1 else student.call("torch.nn.Sequential", *parts, keep=True)
        out = student.call(f"{M}.to_device", model, TARGET, keep=True)
        info = student.describe(out)
        if "devices" not in info:
            fail(f"to_device({words}, device) should return the module, but returned {_type_words(info)}.",
                 hint="model.to(device) moves the module in place and returns it: return that")
        if not student.call("operator.is_", out, model):
            fail(f"to_device({words}, device) returned another module object; expected the same module, moved.",
                 hint="nn.Module.to moves the module in place and returns it: return that, not a copy")
        moved = student.describe(model)["devices"]
        if not moved or any(torch.device(d).type != TARGET for d in moved):
            fail(f"after to_device({words}, device) its parameters and buffers are on {moved}; expected all "
                 f"on {TARGET}.", hint="move a module with model.to(device)")


@pytest.mark.task(f"{M}.to_device")
@pytest.mark.weight(2)
def test_to_device_returns_other_values_unchanged(student):
    for value in (3, 2.5, "text", None, True, b"raw", torch.float32):
        got = student.call(f"{M}.to_device", value, TARGET)
        if type(got) is not type(value) or got != value:
            received = f"another {type(value).__name__}" if type(got) is type(value) else describe_value(got)
            fail(f"to_device of a {type(value).__name__} returned {received}; values that are not "
                 "tensors, modules or containers must be returned unchanged.",
                 hint="return obj itself for anything else (and do not treat a string as a sequence)",
                 detail=f"obj={value!r}, received {got!r}")
    mixed = {"id": "sample-1", "index": 4, "weight": 0.5, "skip": None, "pair": ("a", 1), "x": torch.ones(2)}
    _expect_structure(_to_device_info(student, mixed, TARGET), ref.to_device(mixed, TARGET), TARGET,
                      what="to_device of a dict with numbers, strings and None")


@pytest.mark.task(f"{M}.to_device")
def test_to_device_keeps_values(student):
    obj = {"x": torch.linspace(-1, 1, 5, dtype=torch.float64), "y": [torch.tensor([[1, 2], [3, 4]]), "s"],
           "b": Batch(torch.tensor([True, False]), torch.tensor(2.5))}
    want = ref.to_device(obj, "cpu")
    got = student.call(f"{M}.to_device", obj, "cpu")
    if not isinstance(got, dict):
        fail(f"to_device(dict, \"cpu\") returned {describe_value(got)}; expected a dict.")
    expect_tensor(got.get("x"), want["x"], what='to_device(dict, "cpu"): a float64 tensor in the dict', rtol=0, atol=0)
    if not isinstance(got.get("y"), list) or len(got["y"]) != 2 or got["y"][1] != "s":
        fail('to_device(dict, "cpu"): a list in the dict came back changed; expected the same items.')
    expect_tensor(got["y"][0], want["y"][0], what='to_device(dict, "cpu"): an int64 tensor in a list in the dict')
    if GPU:   # the values survive a round trip through the GPU too
        got = student.call(f"{M}.to_device", obj["x"], TARGET)
        expect_tensor(got, want["x"].to(TARGET), what=f"to_device(float64 tensor, {TARGET!r})", rtol=0, atol=0)


@pytest.mark.task(f"{M}.to_device")
def test_to_device_leaves_its_input_unchanged(student):
    x = torch.ones(2)
    for obj in ({"x": x, "items": [x, {"y": x}]}, [x, [x, x]]):
        held = student.put(obj)
        student.call(f"{M}.to_device", held, TARGET)
        _expect_structure(student.describe(held), obj, "cpu",
                          what="to_device changed its input container (it must build new ones)",
                          hint="build new lists and dicts instead of assigning into the ones you were given")


# -- model_device ------------------------------------------------------------------------
def _model(student, *layers: tuple[str, tuple, dict]) -> Ref:
    parts = [student.call(path, *args, keep=True, **kwargs) for path, args, kwargs in layers]
    return parts[0] if len(parts) == 1 else student.call("torch.nn.Sequential", *parts, keep=True)


def _expect_model_device(student, model: Ref, want: str, words: str, hint: str | None = None) -> None:
    got = student.call(f"{M}.model_device", model)
    if not isinstance(got, torch.device):
        fail(f"model_device({words}) should return a torch.device, but returned {describe_value(got)}.",
             hint="return the parameter's .device itself (a torch.device)")
    if not _is_device(got, want):
        fail(f"model_device({words}) returned {got}; expected {want}.", hint=hint)


@pytest.mark.task(f"{M}.model_device")
@pytest.mark.public
def test_model_device_of_a_cpu_model(student):
    student.module(M)
    _expect_model_device(student, _model(student, ("torch.nn.Linear", (2, 3), {})), "cpu", "nn.Linear(2, 3)")


@pytest.mark.task(f"{M}.model_device")
@pytest.mark.weight(2)
def test_model_device_of_a_model_without_parameters(student):
    student.module(M)
    hint = "a model without parameters has no first parameter: use next(model.parameters(), None) and return the CPU"
    _expect_model_device(student, _model(student, ("torch.nn.ReLU", (), {})), "cpu", "nn.ReLU()", hint)
    _expect_model_device(student, _model(student, ("torch.nn.Flatten", (), {}), ("torch.nn.ReLU", (), {})), "cpu",
                         "a Sequential without parameters", hint)
    _expect_model_device(student, _model(student, ("torch.nn.BatchNorm1d", (3,), {"affine": False, "device": TARGET})),
                         "cpu", f"nn.BatchNorm1d(3, affine=False) on {TARGET}: buffers but no parameters",
                         "buffers are not parameters: a model without parameters is on the CPU, whatever its buffers")


@pytest.mark.task(f"{M}.model_device")
@pytest.mark.weight(2)
def test_model_device_of_a_moved_model(student):
    student.module(M)
    model = _model(student, ("torch.nn.Linear", (2, 3), {}))
    student.call((model, "to"), TARGET)
    _expect_model_device(student, model, TARGET, f"a model moved to {TARGET}",
                         hint="return the device of the model's first parameter")
    model = _model(student, ("torch.nn.ReLU", (), {}), ("torch.nn.Linear", (2, 3), {"device": TARGET}))
    _expect_model_device(student, model, TARGET, f"a Sequential whose first layer has no parameters, on {TARGET}",
                         hint="next(model.parameters()) finds the first parameter of any module")


@pytest.mark.task(f"{M}.model_device")
def test_model_device_uses_the_first_parameter(student):
    student.module(M)
    for first, second in ((TARGET, "cpu"), ("cpu", TARGET)):
        model = _model(student, ("torch.nn.Linear", (2, 3), {"device": first}),
                       ("torch.nn.Linear", (3, 1), {"device": second}))
        _expect_model_device(student, model, first, "a Sequential whose layers are on two devices",
                             hint="the device of the FIRST parameter, next(model.parameters())")
        model = _model(student, ("torch.nn.BatchNorm1d", (3,), {"affine": False, "device": second}),
                       ("torch.nn.Linear", (3, 1), {"device": first}))
        _expect_model_device(student, model, first,
                             f"Sequential(BatchNorm1d(3, affine=False) on {second}, Linear(3, 1) on {first})",
                             hint="the first PARAMETER, next(model.parameters()): a buffer (in state_dict() or "
                                  "buffers()) is not one")


# -- to_numpy --------------------------------------------------------------------------
def _expect_array(got: Any, want: np.ndarray, what: str, hint: str | None = None, detail: str = "") -> None:
    if not isinstance(got, np.ndarray):
        fail(f"{what} should return a numpy.ndarray, but returned {describe_value(got)}.",
             hint=hint or "t.detach().cpu().numpy()", detail=detail)
    if got.shape != want.shape:
        fail(f"{what} returned an array of another shape than the tensor's: "
             f"{shape_words(tuple(got.shape), tuple(want.shape)).replace('a tensor', 'an array')}.", hint=hint,
             detail=f"{detail}\nreceived shape {list(got.shape)}, expected {list(want.shape)}".strip())
    if got.dtype != want.dtype:
        fail(f"{what} returned an array of dtype {got.dtype}; expected {want.dtype}, the tensor's dtype in NumPy.",
             hint=hint, detail=detail)
    if not np.array_equal(got, want, equal_nan=want.dtype.kind == "f"):
        fail(f"{what} returned other values than the tensor's.", hint=hint,
             detail=f"{detail}\nreceived {got!r}\nexpected {want!r}")


@pytest.mark.task(f"{M}.to_numpy")
@pytest.mark.public
def test_to_numpy_of_a_tensor_requiring_grad(student):
    x = torch.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    _expect_array(student.call(f"{M}.to_numpy", x), ref.to_numpy(x), "to_numpy(tensor with requires_grad=True)",
                  hint="t.numpy() fails for a tensor that requires grad: detach it first")


@pytest.mark.task(f"{M}.to_numpy")
@pytest.mark.weight(2)
def test_to_numpy_keeps_shape_dtype_and_values(student):
    for x in (torch.linspace(-2, 2, 7, dtype=torch.float64), torch.arange(12).reshape(3, 4),
              torch.tensor(1.5), torch.tensor([True, False, True]), torch.zeros(0, 3),
              torch.tensor([[1.0, 2.0, 3.0]]), torch.tensor([[1], [2], [3]]), torch.tensor([7.0]),
              torch.ones(2, 1, 3)):
        _expect_array(student.call(f"{M}.to_numpy", x), ref.to_numpy(x), "to_numpy(tensor)",
                      detail=f"a {x.dtype} tensor of shape {list(x.shape)}")


@pytest.mark.task(f"{M}.to_numpy")
@pytest.mark.weight(2)
def test_to_numpy_of_a_computed_tensor(student):
    student.module(M)
    x = torch.tensor([0.5, -1.0, 2.0], requires_grad=True)
    leaf = student.put(x)
    y = student.call("torch.mul", leaf, 3.0, keep=True)     # part of an autograd graph
    _expect_array(student.call(f"{M}.to_numpy", y), ref.to_numpy(x * 3.0),
                  "to_numpy of a tensor computed from one that requires grad",
                  hint="detach the tensor from the autograd graph before .numpy()")


@pytest.mark.task(f"{M}.to_numpy")
@pytest.mark.weight(2)
def test_to_numpy_of_a_tensor_on_each_device(student):
    # On a grader with a GPU this sends CUDA tensors; without one only the CPU part runs.
    devices = ["cpu"] + (["cuda"] if GPU else [])
    for device in devices:
        for requires_grad in (False, True):
            x = torch.arange(6.0).reshape(2, 3).to(device).requires_grad_(requires_grad)
            _expect_array(student.call(f"{M}.to_numpy", x), ref.to_numpy(x),
                          f"to_numpy of a tensor on {device}" + (" that requires grad" if requires_grad else ""),
                          hint="NumPy only knows the CPU: t.detach().cpu().numpy()")
