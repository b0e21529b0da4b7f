"""Public checks for assignment 1, ``tensors``: run ``pytest tests/test_tensors.py``.

They try a few known inputs for every task. The grader runs more checks (other shapes,
dtypes and edge cases) on the same tasks, so passing these is a good sign, not a
guarantee.
"""

import numpy as np
import pytest
import torch

from tensors import (accuracy, add_batch_dim, describe, flatten_images, normalize, one_hot, predicted_labels,
                     safe_add, to_tensor)


# -- to_tensor --------------------------------------------------------------------
def test_to_tensor_from_nested_list():
    t = to_tensor([[1, 2], [3, 4]])
    assert isinstance(t, torch.Tensor), f"to_tensor should return a tensor, got {type(t).__name__}"
    assert t.dtype == torch.int64, f"a list of ints should give dtype torch.int64, got {t.dtype}"
    assert t.tolist() == [[1, 2], [3, 4]], f"wrong values: {t.tolist()}"
    f = to_tensor([1.5, 2.5])
    assert f.dtype == torch.float32, (f"a list of floats should give torch.float32 (PyTorch's default), got {f.dtype}; "
                                      "use torch.tensor(data), not NumPy (float64) or torch.Tensor")


def test_to_tensor_shares_memory_with_numpy():
    a = np.zeros(3, dtype=np.float32)
    t = to_tensor(a)
    a[0] = 5.0
    assert t[0].item() == 5.0, ("writing into the NumPy array should change the tensor: to_tensor must not copy "
                                "(use torch.from_numpy)")


def test_to_tensor_converts_dtype():
    t = to_tensor([1, 2], dtype=torch.float64)
    assert t.dtype == torch.float64, f"to_tensor(..., dtype=torch.float64) returned dtype {t.dtype}"
    assert t.tolist() == [1.0, 2.0]


# -- describe ---------------------------------------------------------------------
def test_describe_known_tensor():
    d = describe(torch.zeros(2, 3, dtype=torch.int64))
    expected = {"shape": (2, 3), "dtype": "torch.int64", "device": "cpu"}
    assert d == expected, f"describe returned {d!r}; expected {expected!r}"
    assert isinstance(d["shape"], tuple), f"'shape' should be a tuple, got {type(d['shape']).__name__}"
    assert type(d["dtype"]) is str and type(d["device"]) is str, "'dtype' and 'device' should be strings"


# -- add_batch_dim ----------------------------------------------------------------
def test_add_batch_dim_adds_a_leading_axis():
    x = torch.arange(6.0).reshape(2, 3)
    y = add_batch_dim(x)
    assert tuple(y.shape) == (1, 2, 3), f"shape [2, 3] should become [1, 2, 3], got {list(y.shape)}"
    assert torch.equal(y[0], x), "the data should be unchanged"
    assert tuple(x.shape) == (2, 3), "add_batch_dim must not change its input (no unsqueeze_)"


# -- flatten_images ---------------------------------------------------------------
@pytest.mark.parametrize("batch", [0, 1, 4])
def test_flatten_images_keeps_the_batch(batch):
    x = torch.arange(batch * 3 * 2 * 2, dtype=torch.float32).reshape(batch, 3, 2, 2)
    y = flatten_images(x)
    assert tuple(y.shape) == (batch, 12), (f"[{batch}, 3, 2, 2] should become [{batch}, 12], got {list(y.shape)}; "
                                           "keep the batch axis (also for a batch of 0 or 1)")
    assert torch.equal(y, x.reshape(batch, 12)), "each row should hold one image in row-major order"


# -- normalize --------------------------------------------------------------------
def test_normalize_per_channel():
    x = torch.tensor([[[1.0, 2.0]], [[3.0, 4.0]]])          # [C=2, H=1, W=2]
    expected = torch.tensor([[[0.0, 0.5]], [[2.0, 4.0]]])
    got = normalize(x, [1.0, 2.0], [2.0, 0.5])
    assert torch.allclose(got, expected), f"normalize returned {got.tolist()}; expected {expected.tolist()}"
    batched = normalize(x.unsqueeze(0), [1.0, 2.0], [2.0, 0.5])
    assert tuple(batched.shape) == (1, 2, 1, 2), \
        f"a [B, C, H, W] input should keep its shape, got {list(batched.shape)}"
    assert torch.allclose(batched[0], expected), "a batch of one image should be normalised like the image"


def test_normalize_rejects_wrong_lengths():
    with pytest.raises(ValueError):
        normalize(torch.zeros(3, 2, 2), [0.5, 0.5], [1.0, 1.0, 1.0])


# -- one_hot ----------------------------------------------------------------------
def test_one_hot_known_values():
    got = one_hot(torch.tensor([2, 0]), 3)
    expected = torch.tensor([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])
    assert got.dtype == torch.float32, f"one_hot should return float32, got {got.dtype}"
    assert torch.equal(got, expected), f"one_hot([2, 0], 3) returned {got.tolist()}; expected {expected.tolist()}"


@pytest.mark.parametrize("bad", [-1, 3])
def test_one_hot_rejects_labels_out_of_range(bad):
    with pytest.raises(ValueError):
        one_hot(torch.tensor([0, bad]), 3)


# -- predicted_labels and accuracy ------------------------------------------------
def test_predicted_labels_known_values():
    logits = torch.tensor([[0.1, 0.9, 0.0], [2.0, -1.0, 0.5], [0.0, 0.1, 0.2]])
    got = predicted_labels(logits)
    assert got.dtype == torch.int64, f"predicted_labels should return int64, got {got.dtype}"
    assert got.tolist() == [1, 0, 2], f"predicted_labels returned {got.tolist()}; expected [1, 0, 2]"


def test_accuracy_is_a_python_float():
    got = accuracy(torch.tensor([[0.1, 0.9], [0.8, 0.2]]), torch.tensor([1, 1]))
    assert type(got) is float, f"accuracy should return a Python float, got {type(got).__name__} (use .item())"
    assert got == pytest.approx(0.5), f"accuracy returned {got}; expected 0.5"


# -- safe_add ---------------------------------------------------------------------
def test_safe_add_broadcasts():
    a, b = torch.ones(4, 3), torch.tensor([1.0, 2.0, 3.0])
    got = safe_add(a, b)
    assert torch.equal(got, a + b), "safe_add([4, 3], [3]) should broadcast like a + b"


def test_safe_add_error_names_both_shapes():
    with pytest.raises(ValueError) as info:
        safe_add(torch.zeros(4, 3), torch.zeros(4))
    message = str(info.value).replace(" ", "")
    assert ("(4,3)" in message or "[4,3]" in message) and ("(4,)" in message or "[4]" in message), \
        f"the message should name both shapes, e.g. (4, 3) and (4,); got {str(info.value)!r}"
