"""Hidden checks of assignment 1, ``tensors``: values, dtypes and shapes against the
reference on inputs drawn by hypothesis, the exceptions the handout asks for, memory
sharing with NumPy, and untouched inputs."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from solutions import tensors as ref

from autograder.checks.api import describe_value, expect_close, expect_float, expect_tensor, fail, shape_words
from autograder.checks.remote import call_unmutated
from autograder.checks.strategies import (booleans, broadcastable_shapes, dtypes, float_tensors, int_tensors, integers,
                                          sampled, seeded_tensor, shapes, tensors_of)
from autograder.sandbox.client import Ref, StudentError

M = "tensors"
ALL_DTYPES = (torch.float32, torch.float64, torch.float16, torch.int64, torch.int32, torch.uint8, torch.bool)
NUMPY_DTYPES = (np.float32, np.float64, np.int64, np.int32, np.uint8, np.bool_)


# -- helpers ---------------------------------------------------------------------
def _call(student, name, *args, **kwargs):
    return call_unmutated(student, f"{M}.{name}", *args, what=name, **kwargs)


def _expect(value, expected, *, what, **kwargs):
    """``expect_tensor`` for this module: no input requires grad, so no output may."""
    kwargs.setdefault("allow_requires_grad", False)
    return expect_tensor(value, expected, what=what, **kwargs)


def _raises(student, name, args, *, what, exception="ValueError", hint=None, detail=""):
    """Call the student's function and fail unless it raises ``exception``; return the error."""
    try:
        got = student.call(f"{M}.{name}", *args)
    except StudentError as err:
        if err.is_a(exception):
            return err
        fail(f"{what} raised {err.type_name} instead of {exception}.", hint=hint,
             detail=f"{detail}\n{err}".strip())
    fail(f"{what} should raise {exception}, but returned {describe_value(got)}.", hint=hint, detail=detail)


# -- to_tensor ------------------------------------------------------------------
TO_TENSOR_HINT = ("torch.tensor(data) infers the dtype like PyTorch (int64 for ints, float32 for floats, "
                  "bool for bools); torch.Tensor(...) always makes float32 and going through NumPy makes "
                  "float64; convert with .to(dtype) when dtype is given")


LIST_KINDS = {   # kind: (make the values from a NumPy generator, dtypes to convert to)
    "int": (lambda rng, shape: rng.integers(-1000, 1000, shape), [torch.float32, torch.float64]),
    "float": (lambda rng, shape: rng.uniform(-1000, 1000, shape).astype(np.float32).astype(np.float64),
              [torch.float64, torch.float32]),
    "bool": (lambda rng, shape: rng.integers(0, 2, shape).astype(bool), [torch.float32, torch.int64]),
}


@st.composite
def nested_lists(draw):
    """[(nested list, dtype or None)] with one list of ints, one of floats and one of bools."""
    cases = []
    for make, conversions in LIST_KINDS.values():
        shape = draw(shapes(min_dims=1, max_dims=3, min_side=1, max_side=4))
        rng = np.random.default_rng(draw(integers(0, 2**31 - 1)))
        cases.append((make(rng, shape).tolist(), draw(sampled((None, None, *conversions)))))
    return cases


@pytest.mark.task(f"{M}.to_tensor")
@pytest.mark.public
def test_to_tensor_from_nested_lists_known_values(student):
    for data, expected in (([[1, 2], [3, 4]], torch.tensor([[1, 2], [3, 4]])),
                           ([1.5, 2.5], torch.tensor([1.5, 2.5])),
                           ([[True, False]], torch.tensor([[True, False]]))):
        _expect(student.call(f"{M}.to_tensor", data), expected, what=f"to_tensor({data})", hint=TO_TENSOR_HINT)


@pytest.mark.task(f"{M}.to_tensor")
@pytest.mark.weight(2)
@given(cases=nested_lists())
def test_to_tensor_from_nested_lists_matches_reference(student, cases):
    for data, dtype in cases:
        kwargs = {} if dtype is None else {"dtype": dtype}
        what = "to_tensor(a nested list)" if dtype is None else "to_tensor(a nested list, dtype=...)"
        _expect(student.call(f"{M}.to_tensor", data, **kwargs), ref.to_tensor(data, dtype), what=what,
                hint=TO_TENSOR_HINT, detail=f"data={data!r}, dtype={dtype}")


@pytest.mark.task(f"{M}.to_tensor")
@pytest.mark.weight(2)
@given(data=st.data())
def test_to_tensor_from_numpy_matches_reference(student, data):
    np_dtype = data.draw(sampled(tuple(NUMPY_DTYPES)))
    shape = data.draw(shapes(min_dims=0, max_dims=3, min_side=0, max_side=4))
    seed = data.draw(integers(0, 2**31 - 1))
    low = 0 if np_dtype == np.uint8 else -100                 # no negative values for an unsigned dtype
    array = np.random.default_rng(seed).uniform(low, 100, shape).astype(np_dtype)
    dtype = data.draw(sampled((None, None, torch.float32, torch.float64)))
    kwargs = {} if dtype is None else {"dtype": dtype}
    what = "to_tensor(a NumPy array)" if dtype is None else "to_tensor(a NumPy array, dtype=...)"
    _expect(student.call(f"{M}.to_tensor", array, **kwargs), ref.to_tensor(array.copy(), dtype), what=what,
            hint="torch.from_numpy(array) keeps the array's dtype; convert with .to(dtype) when dtype is given",
            detail=f"array dtype {array.dtype}, shape {array.shape}, dtype={dtype}")


@pytest.mark.task(f"{M}.to_tensor")
@pytest.mark.weight(2)
@pytest.mark.parametrize("np_dtype", [np.float32, np.float64, np.int64], ids=["float32", "float64", "int64"])
def test_to_tensor_shares_memory_with_numpy(student, np_dtype):
    before = np.arange(6).reshape(2, 3).astype(np_dtype)
    after = (np.arange(6).reshape(2, 3) * 10 + 7).astype(np_dtype)
    array = student.put(before)                       # the array lives in the worker
    result = student.call(f"{M}.to_tensor", array, keep=True)
    student.call("numpy.copyto", array, after)        # write into the array in place
    (tensor,) = student.call("builtins.tuple", [result])
    what = "to_tensor(a NumPy array)"
    expected = torch.from_numpy(after)
    if not isinstance(tensor, torch.Tensor) or tuple(tensor.shape) != before.shape or tensor.dtype != expected.dtype:
        _expect(tensor, expected, what=what)   # fails, saying what is wrong with the result
    if torch.equal(tensor, torch.from_numpy(before)):
        fail(f"{what} copied the array: after writing into the array, the tensor still holds the old values; "
             "the result must share the array's memory (no copy).",
             hint="use torch.from_numpy(array) or torch.as_tensor(array); torch.tensor(array) always copies")
    _expect(tensor, expected, what=f"{what}, read after writing into the array",
            hint="the result must share memory with the array: use torch.from_numpy(array)")


# -- describe ---------------------------------------------------------------------
def _describe(student, t):
    """The student's describe(t). A dict subclass other than OrderedDict (a defaultdict, a
    class of the student's own) is not data on the wire and arrives as a reference: it is a
    dict, so its plain copy is what is compared."""
    got = _call(student, "describe", t)
    if isinstance(got, Ref) and "keys" in student.describe(got):
        return student.call("builtins.dict", got)
    return got


def _expect_description(got, t, *, what, detail=""):
    """``what`` names the call, e.g. ``describe(t)``."""
    expected = {"shape": tuple(t.shape), "dtype": str(t.dtype), "device": str(t.device)}
    if not isinstance(got, dict):     # an OrderedDict is a dict too
        fail(f"{what} should return a dict, but returned {describe_value(got)}.", detail=detail)
    if set(got) != set(expected):
        fail(f"{what} returned a dict with the keys {sorted(map(str, got))}; expected exactly "
             "'shape', 'dtype' and 'device'.", detail=detail)
    shape = got["shape"]
    if not isinstance(shape, tuple) or not all(type(s) is int for s in shape):
        fail(f"the 'shape' entry of {what} should be a tuple of ints, but is {describe_value(shape)}.",
             hint="tuple(t.shape)", detail=detail)
    if tuple(shape) != expected["shape"]:
        # Relational words only: the tensor's shape is the check's (possibly hidden) input.
        relation = shape_words(tuple(shape), expected["shape"]).replace("a tensor with", "").replace(
            "a tensor of", "").strip()
        fail(f"the 'shape' entry of {what} is not the tensor's shape ({relation}).", hint="tuple(t.shape)",
             detail=f"{detail}\nreceived {tuple(shape)}, expected {expected['shape']}".strip())
    for key, example in (("dtype", "'torch.float32'"), ("device", "'cpu'")):
        value = got[key]
        if type(value) is not str:
            fail(f"the '{key}' entry of {what} should be a string such as {example}, but is "
                 f"{describe_value(value)}.",
                 hint=f"str(t.{key})", detail=detail)
        if value != expected[key]:
            hint = f"str(t.{key}) gives the string PyTorch prints" if key == "dtype" else \
                "report the tensor's own device with str(t.device), not a fixed string"
            if key == "dtype" and "torch." + value == expected[key]:
                said = "lacks the 'torch.' prefix that str(t.dtype) writes (e.g. 'torch.float32')"
            else:
                said = f"is not the tensor's {key} as str(t.{key}) writes it"
            fail(f"the '{key}' entry of {what} {said}.", hint=hint,
                 detail=f"{detail}\nreceived {value!r}, expected {expected[key]!r}".strip())


@pytest.mark.task(f"{M}.describe")
@pytest.mark.public
def test_describe_known_tensor(student):
    t = torch.zeros(2, 3, dtype=torch.int64)
    _expect_description(_describe(student, t), t, what="describe(torch.zeros(2, 3, dtype=torch.int64))")


@pytest.mark.task(f"{M}.describe")
@pytest.mark.weight(3)
@given(shape=shapes(min_dims=0, max_dims=4, min_side=0, max_side=5), dtype=sampled(ALL_DTYPES))
def test_describe_matches_reference(student, shape, dtype):
    t = torch.zeros(shape, dtype=dtype)
    _expect_description(_describe(student, t), t, what="describe(t)",
                        detail=f"shape {list(shape)}, dtype {dtype}")


@pytest.mark.task(f"{M}.describe")
def test_describe_reports_the_device(student):
    t = torch.empty(4, 1, dtype=torch.float16, device="meta")
    _expect_description(_describe(student, t), t, what="describe(t) for a tensor on the meta device")


# -- add_batch_dim ----------------------------------------------------------------
ADD_BATCH_HINT = "a new axis of size 1 in front of all others: x.unsqueeze(0) (not unsqueeze(-1), not reshape(1, -1))"


@pytest.mark.task(f"{M}.add_batch_dim")
@pytest.mark.public
def test_add_batch_dim_known_values(student):
    x = torch.arange(6.0).reshape(2, 3)
    _expect(_call(student, "add_batch_dim", x), x.reshape(1, 2, 3), what="add_batch_dim(x) for x of shape [2, 3]",
            hint=ADD_BATCH_HINT)


@pytest.mark.task(f"{M}.add_batch_dim")
@pytest.mark.weight(3)
@given(data=st.data())
def test_add_batch_dim_matches_reference(student, data):
    shape = data.draw(shapes(min_dims=0, max_dims=4, min_side=0, max_side=5))
    x = data.draw(tensors_of(shape, data.draw(sampled(tuple(ALL_DTYPES)))))
    _expect(_call(student, "add_batch_dim", x), ref.add_batch_dim(x), what="add_batch_dim(x)", hint=ADD_BATCH_HINT,
            detail=f"x: shape {list(x.shape)}, dtype {x.dtype}")


# -- flatten_images ---------------------------------------------------------------
def _flatten_hint(got, batch):
    if isinstance(got, torch.Tensor) and got.dim() == 1:
        return ("you flattened the batch dimension away: keep axis 0 and flatten only C, H and W, "
                "e.g. x.flatten(start_dim=1)")
    if batch == 0:
        return "with B = 0, reshape(B, -1) cannot infer the -1; use x.flatten(start_dim=1) or reshape(B, C * H * W)"
    return "keep axis 0 (the batch) and flatten C, H and W in row-major order: x.flatten(start_dim=1)"


def _flatten(student, x, what):
    try:
        got = _call(student, "flatten_images", x)
    except StudentError as err:
        if x.shape[0] != 0:
            raise
        fail(f"{what} raised {err} for an empty batch (B = 0).\n{err.student_traceback}".rstrip(),
             hint=_flatten_hint(None, 0))
    _expect(got, ref.flatten_images(x), what=what, hint=_flatten_hint(got, x.shape[0]),
            detail=f"x: shape {list(x.shape)}, dtype {x.dtype}")


@pytest.mark.task(f"{M}.flatten_images")
@pytest.mark.public
def test_flatten_images_known_values(student):
    x = torch.arange(8.0).reshape(2, 1, 2, 2)
    _flatten(student, x, "flatten_images(x) for x of shape [2, 1, 2, 2]")


@pytest.mark.task(f"{M}.flatten_images")
@pytest.mark.public
@pytest.mark.weight(2)
@pytest.mark.parametrize("batch", [0, 1, 5])
def test_flatten_images_keeps_the_batch(student, batch):
    x = seeded_tensor((batch, 3, 4, 5), torch.float32, batch)
    _flatten(student, x, f"flatten_images(x) for a batch of {batch} image{'s' if batch != 1 else ''}")


@pytest.mark.task(f"{M}.flatten_images")
@pytest.mark.weight(2)
@given(data=st.data())
def test_flatten_images_matches_reference(student, data):
    shape = data.draw(st.tuples(integers(0, 5), integers(1, 4), integers(1, 5), integers(1, 5)))
    x = data.draw(tensors_of(shape, data.draw(sampled((torch.float32, torch.float64, torch.int64)))))
    _flatten(student, x, "flatten_images(x)")


# -- normalize --------------------------------------------------------------------
NORMALIZE_HINT = ("reshape mean and std to [C, 1, 1] so that they line up with the channel axis (axis -3) for both "
                  "[C, H, W] and [B, C, H, W], and keep x's dtype")


@pytest.mark.task(f"{M}.normalize")
@pytest.mark.public
def test_normalize_known_values(student):
    x = torch.tensor([[[1.0, 2.0]], [[3.0, 4.0]]])
    expected = torch.tensor([[[0.0, 0.5]], [[2.0, 4.0]]])
    _expect(_call(student, "normalize", x, [1.0, 2.0], [2.0, 0.5]), expected,
            what="normalize(x, [1, 2], [2, 0.5]) for x of shape [2, 1, 2]", hint=NORMALIZE_HINT)


@st.composite
def normalize_cases(draw):
    channels = draw(integers(1, 4))
    image = (channels, draw(integers(1, 4)), draw(integers(1, 4)))
    shape = draw(sampled((image, (draw(integers(0, 3)), *image))))
    dtype = draw(dtypes())
    x = draw(tensors_of(shape, dtype))
    mean = draw(float_tensors((channels,), torch.float32, min_value=-2.0, max_value=2.0)).tolist()
    std = draw(float_tensors((channels,), torch.float32, min_value=0.25, max_value=3.0)).tolist()
    if draw(booleans()):
        mean, std = tuple(mean), tuple(std)
    return x, mean, std


@pytest.mark.task(f"{M}.normalize")
@pytest.mark.weight(4)
@given(case=normalize_cases())
def test_normalize_matches_reference(student, case):
    x, mean, std = case
    what = f"normalize(x, mean, std) for x of shape [{'B, ' if x.dim() == 4 else ''}C, H, W] and dtype {x.dtype}"
    _expect(_call(student, "normalize", x, mean, std), ref.normalize(x, mean, std), what=what, rtol=1e-5, atol=1e-5,
            hint=NORMALIZE_HINT, detail=f"x: shape {list(x.shape)}, mean={mean}, std={std}")


@pytest.mark.task(f"{M}.normalize")
@pytest.mark.weight(2)
@pytest.mark.parametrize("shape,n_mean,n_std", [
    ((3, 2, 2), 2, 3), ((3, 2, 2), 3, 4), ((2, 3, 4, 4), 1, 3), ((2, 3, 4, 4), 3, 1), ((2, 3, 2, 2), 2, 2),
], ids=["short-mean", "long-std", "batched-mean-of-one", "batched-std-of-one", "batched-length-of-B"])
def test_normalize_rejects_wrong_lengths(student, shape, n_mean, n_std):
    x = seeded_tensor(shape, torch.float32, 0)
    mean, std = [0.5] * n_mean, [0.25] * n_std
    _raises(student, "normalize", (x, mean, std), what="normalize(x, mean, std) with len(mean) or len(std) "
            "different from the number of channels",
            hint="compare len(mean) and len(std) with the number of channels x.shape[-3] and raise ValueError "
                 "before computing (a length of 1 would otherwise broadcast silently)",
            detail=f"x: shape {list(shape)}, len(mean)={n_mean}, len(std)={n_std}")


# -- one_hot ----------------------------------------------------------------------
ONE_HOT_HINT = "a float32 tensor of zeros of shape [N, num_classes] with a 1 at [i, labels[i]] in each row"


@pytest.mark.task(f"{M}.one_hot")
@pytest.mark.public
def test_one_hot_known_values(student):
    labels = torch.tensor([2, 0])
    _expect(_call(student, "one_hot", labels, 3), torch.tensor([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]),
            what="one_hot([2, 0], 3)", hint=ONE_HOT_HINT)


@pytest.mark.task(f"{M}.one_hot")
@pytest.mark.weight(4)
@given(data=st.data())
def test_one_hot_matches_reference(student, data):
    k = data.draw(integers(1, 8))
    labels = data.draw(int_tensors(shapes(min_dims=1, max_dims=1, max_side=10), 0, k - 1))
    _expect(_call(student, "one_hot", labels, k), ref.one_hot(labels, k), what="one_hot(labels, num_classes)",
            hint=ONE_HOT_HINT, detail=f"labels={labels.tolist()}, num_classes={k}")


@pytest.mark.task(f"{M}.one_hot")
def test_one_hot_empty_labels(student):
    labels = torch.zeros(0, dtype=torch.int64)
    _expect(_call(student, "one_hot", labels, 4), torch.zeros(0, 4), what="one_hot of an empty label tensor",
            hint="an empty [0] label tensor gives an empty [0, num_classes] result (labels.max() fails on an "
                 "empty tensor)")


@pytest.mark.task(f"{M}.one_hot")
@pytest.mark.weight(2)
@pytest.mark.parametrize("bad,kind,hint", [
    (4, "equal to num_classes",
     "valid labels are 0 .. num_classes - 1, so a label equal to num_classes is out of range"),
    (-1, "that is negative", "negative labels are out of range too (indexing with -1 silently picks the last class)"),
    (9, "larger than num_classes", "check that every label is in [0, num_classes) and raise ValueError otherwise"),
], ids=["equal-to-num-classes", "negative", "too-large"])
def test_one_hot_rejects_labels_out_of_range(student, bad, kind, hint):
    labels = torch.tensor([0, bad, 1])
    _raises(student, "one_hot", (labels, 4), what=f"one_hot(labels, num_classes) with a label {kind}", hint=hint,
            detail=f"labels={labels.tolist()}, num_classes=4")


# -- predicted_labels -------------------------------------------------------------
PREDICTED_HINT = "the arg-max over the classes of each row: logits.argmax(dim=1), an int64 tensor of shape [B]"


def _expect_argmax(got, logits, what, detail=""):
    expected = ref.predicted_labels(logits)
    if isinstance(got, torch.Tensor) and got.shape == expected.shape and got.dtype == expected.dtype and \
            not got.requires_grad and bool(((got >= 0) & (got < logits.shape[1])).all()):
        # any index of a row's maximum is right when a row has ties
        if torch.equal(logits.gather(1, got.unsqueeze(1)).squeeze(1), logits.amax(dim=1)):
            return
    _expect(got, expected, what=what, hint=PREDICTED_HINT, detail=detail)


@pytest.mark.task(f"{M}.predicted_labels")
@pytest.mark.public
def test_predicted_labels_known_values(student):
    logits = torch.tensor([[0.1, 0.9, 0.0], [2.0, -1.0, 0.5], [0.0, 0.1, 0.2], [1.0, 0.0, 3.0]])
    _expect_argmax(_call(student, "predicted_labels", logits), logits, "predicted_labels(logits) of shape [4, 3]")


@pytest.mark.task(f"{M}.predicted_labels")
@pytest.mark.weight(3)
@given(data=st.data())
def test_predicted_labels_matches_reference(student, data):
    shape = (data.draw(integers(0, 8)), data.draw(integers(1, 7)))
    # few distinct values, so that rows often have ties (any index of a row's maximum is right)
    logits = data.draw(tensors_of(shape, data.draw(dtypes()), -4, 4)).round()
    _expect_argmax(_call(student, "predicted_labels", logits), logits, "predicted_labels(logits)",
                   detail=f"logits: shape {list(shape)}, dtype {logits.dtype}")


# -- accuracy ---------------------------------------------------------------------
def _expect_accuracy(got, logits, labels, what, detail=""):
    hint = ("numpy.float32 is not a Python float: convert it with float(...)"
            if getattr(got, "type_name", "") == "numpy.float32" else
            "convert the 0-d tensor to a Python float with .item() (or float(...))")
    value = expect_float(got, what=what, hint=hint)
    want = ref.accuracy(logits, labels)
    hint = "return a fraction in [0, 1], not a percentage" if want and abs(value - 100 * want) < 1e-3 else \
        "the fraction of rows whose arg-max (over dim=1) equals the label"
    expect_close(value, want, what=what, rtol=1e-6, atol=1e-7, hint=hint, detail=detail)


@pytest.mark.task(f"{M}.accuracy")
@pytest.mark.public
def test_accuracy_known_value(student):
    logits, labels = torch.tensor([[0.1, 0.9], [0.8, 0.2]]), torch.tensor([1, 1])
    _expect_accuracy(_call(student, "accuracy", logits, labels), logits, labels,
                     "accuracy([[0.1, 0.9], [0.8, 0.2]], [1, 1])")


@st.composite
def classifications(draw):
    b, k = draw(integers(1, 10)), draw(integers(2, 6))
    dtype = draw(dtypes())
    g = torch.Generator().manual_seed(draw(integers(0, 2**31 - 1)))
    # distinct values, so every row has a single arg-max
    logits = ((torch.randperm(b * k, generator=g).to(dtype) - b * k / 2) / 3).reshape(b, k)
    hits = draw(int_tensors((b,), 0, 1)).bool().tolist()
    others = draw(int_tensors((b,), 0, k - 1)).tolist()
    best = logits.argmax(dim=1).tolist()
    labels = torch.tensor([best[i] if hit else others[i] for i, hit in enumerate(hits)], dtype=torch.int64)
    return logits, labels


@pytest.mark.task(f"{M}.accuracy")
@pytest.mark.weight(3)
@given(case=classifications())
def test_accuracy_matches_reference(student, case):
    logits, labels = case
    _expect_accuracy(_call(student, "accuracy", logits, labels), logits, labels, "accuracy(logits, labels)",
                     detail=f"logits={logits.tolist()}, labels={labels.tolist()}")


@pytest.mark.task(f"{M}.accuracy")
def test_accuracy_all_right_and_all_wrong(student):
    logits = torch.tensor([[3.0, 1.0, 2.0], [0.0, 5.0, 1.0], [1.0, 2.0, 9.0]])
    for labels in (torch.tensor([0, 1, 2]), torch.tensor([1, 2, 0])):
        _expect_accuracy(_call(student, "accuracy", logits, labels), logits, labels,
                         "accuracy(logits, labels) when every prediction is " +
                         ("right" if labels[0] == 0 else "wrong"))


# -- safe_add ---------------------------------------------------------------------
SAFE_ADD_HINT = ("shapes broadcast when, compared from the right, each pair of sizes is equal or one of them is 1 "
                 "(a missing axis counts as 1); such tensors must be added, not rejected")
ADDITION_DTYPES = [(torch.float32, torch.float32), (torch.float64, torch.float64), (torch.int64, torch.int64),
                   (torch.float32, torch.float64), (torch.int64, torch.float32)]


def _spellings(shape) -> set[str]:
    dims = [str(int(d)) for d in shape]
    return {"(" + ",".join(dims) + ("," if len(dims) == 1 else "") + ")", "[" + ",".join(dims) + "]"}


def _names_shape(message: str, shape) -> bool:
    """``(4, 3)``, ``[4, 3]`` and ``torch.Size([4, 3])`` all name the shape [4, 3] (spaces ignored)."""
    compact = re.sub(r"\s+", "", message)
    return any(s in compact for s in _spellings(shape))


def _expect_sum(student, a, b, what):
    detail = f"a: shape {list(a.shape)}, {a.dtype}; b: shape {list(b.shape)}, {b.dtype}"
    try:
        got = _call(student, "safe_add", a, b)
    except StudentError as err:
        if not err.is_a("ValueError"):
            raise
        fail(f"{what} raised ValueError for two shapes that broadcast.", hint=SAFE_ADD_HINT,
             detail=f"{detail}\n{err}")
    _expect(got, ref.safe_add(a, b), what=what, hint=SAFE_ADD_HINT, detail=detail)


@pytest.mark.task(f"{M}.safe_add")
@pytest.mark.public
def test_safe_add_known_values(student):
    a, b = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]), torch.tensor([10.0, 20.0, 30.0])
    _expect_sum(student, a, b, "safe_add(a, b) for shapes [2, 3] and [3]")


def _expect_incompatible(student, a, b, what):
    detail = f"a: shape {list(a.shape)}, b: shape {list(b.shape)}"
    err = _raises(student, "safe_add", (a, b), what=what, detail=detail,
                  hint="torch raises RuntimeError for shapes that do not broadcast: check them first (e.g. with "
                       "torch.broadcast_shapes inside try/except RuntimeError) and raise ValueError")
    if not (_names_shape(err.message, a.shape) and _names_shape(err.message, b.shape)):
        fail(f"the ValueError of {what} should name both shapes, but its message does not.",
             hint="e.g. raise ValueError(f\"cannot broadcast shapes {tuple(a.shape)} and {tuple(b.shape)}\")",
             detail=f"{detail}\nmessage: {err.message!r}")


@pytest.mark.task(f"{M}.safe_add")
@pytest.mark.public
def test_safe_add_error_names_both_shapes(student):
    _expect_incompatible(student, torch.zeros(4, 3), torch.zeros(4), "safe_add(a, b) for shapes [4, 3] and [4]")


@pytest.mark.task(f"{M}.safe_add")
@pytest.mark.weight(3)
@given(data=st.data())
def test_safe_add_matches_reference(student, data):
    shape_a, shape_b = data.draw(broadcastable_shapes(2, min_dims=0, max_dims=4, min_side=0, max_side=4))
    dtype_a, dtype_b = data.draw(sampled(tuple(ADDITION_DTYPES)))
    if data.draw(booleans()):
        dtype_a, dtype_b = dtype_b, dtype_a
    a, b = data.draw(tensors_of(shape_a, dtype_a)), data.draw(tensors_of(shape_b, dtype_b))
    _expect_sum(student, a, b, "safe_add(a, b)")


@pytest.mark.task(f"{M}.safe_add")
@pytest.mark.parametrize("a, b", [
    (torch.tensor(2.5, dtype=torch.float64), torch.tensor([1.0, 2.0, 3.0])),
    (torch.tensor([[1], [2]]), torch.tensor(0.5)),
    (torch.tensor([1.5, -2.0], dtype=torch.float16), torch.tensor([[3], [4]])),
], ids=["0d_float64_and_float32", "int64_and_0d_float32", "float16_and_int64"])
def test_safe_add_keeps_pytorchs_result_dtype(student, a, b):
    # a + b's dtype: a 0-d tensor takes part in type promotion only through its category
    # (float or integer), so broadcasting both first (torch.broadcast_tensors) changes it.
    _expect_sum(student, a, b, f"safe_add(a, b) of a {a.dtype} and a {b.dtype} tensor, {a.dim()}-d and {b.dim()}-d "
                               f"(a + b is {(a + b).dtype})")


@st.composite
def incompatible_shapes(draw):
    base = list(draw(shapes(min_dims=1, max_dims=4, min_side=1, max_side=4)))
    axis = draw(integers(0, len(base) - 1))                # where the sizes clash
    size_a = draw(integers(2, 5))
    size_b = draw(integers(2, 5).filter(lambda s: s != size_a))
    shape_a = base.copy()
    shape_a[axis] = size_a
    shape_b = base[draw(integers(0, axis)):]               # a suffix that still holds the clashing axis
    shape_b[axis - (len(base) - len(shape_b))] = size_b
    if draw(booleans()):
        shape_a, shape_b = shape_b, shape_a
    return tuple(shape_a), tuple(shape_b)


@pytest.mark.task(f"{M}.safe_add")
@pytest.mark.weight(3)
@given(pair=incompatible_shapes())
def test_safe_add_rejects_shapes_that_do_not_broadcast(student, pair):
    shape_a, shape_b = pair
    _expect_incompatible(student, torch.zeros(shape_a), torch.zeros(shape_b),
                         "safe_add(a, b) for shapes that do not broadcast")
