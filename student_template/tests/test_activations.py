"""Public checks for assignment 3, `activations`: run `pytest` in your starter folder.

Known values and properties that any correct answer has. The grader runs more checks on
the same tasks (hidden ones: other inputs, both float32 and float64, gradients, and the
ban on torch.sigmoid, torch.softmax, torch.nn.functional, ...).
"""

import math

import pytest
import torch

from activations import (binary_cross_entropy, cross_entropy, elu, leaky_relu, log_softmax, mse_loss, relu,
                         sigmoid, softmax, tanh)

LARGE = torch.tensor([-1e4, -100.0, -1.0, 0.0, 1.0, 100.0, 1e4])


def _finite_with_finite_gradient(fn, x):
    """fn(x) and the gradient of fn(x).sum() have no nan or inf."""
    x = x.clone().requires_grad_(True)
    out = fn(x)
    assert torch.isfinite(out).all(), f"{fn.__name__}(x) has nan or inf for x = {x.tolist()}: {out.tolist()}"
    out.sum().backward()
    assert x.grad is not None, f"no gradient flows back through {fn.__name__}"
    assert torch.isfinite(x.grad).all(), \
        (f"the gradient of {fn.__name__} has nan or inf for x = {x.tolist()}: {x.grad.tolist()} "
         "(both branches of torch.where are differentiated: keep both finite)")
    return out


# -- sigmoid, tanh -------------------------------------------------------------------
def test_sigmoid_known_values():
    out = sigmoid(torch.tensor([0.0, 2.0, -2.0]))
    want = torch.tensor([0.5, 1 / (1 + math.exp(-2)), 1 / (1 + math.exp(2))])
    assert torch.allclose(out, want, atol=1e-6), \
        f"sigmoid([0, 2, -2]) returned {out.tolist()}; expected {want.tolist()}"


def test_sigmoid_finite_for_large_inputs():
    out = _finite_with_finite_gradient(sigmoid, LARGE)
    assert out[0] == 0.0 and out[-1] == 1.0, f"sigmoid(-1e4) and sigmoid(1e4) should be 0 and 1, got {out.tolist()}"


def test_tanh_known_values():
    out = tanh(torch.tensor([0.0, 1.0, -1.0]))
    want = torch.tensor([0.0, math.tanh(1.0), -math.tanh(1.0)])
    assert torch.allclose(out, want, atol=1e-6), f"tanh([0, 1, -1]) returned {out.tolist()}; expected {want.tolist()}"


def test_tanh_finite_for_large_inputs():
    out = _finite_with_finite_gradient(tanh, LARGE)
    assert out[0] == -1.0 and out[-1] == 1.0, f"tanh(-1e4) and tanh(1e4) should be -1 and 1, got {out.tolist()}"


# -- relu and friends ------------------------------------------------------------------
def test_relu_known_values():
    out = relu(torch.tensor([-1.0, 0.0, 2.5]))
    assert out.tolist() == [0.0, 0.0, 2.5], f"relu([-1, 0, 2.5]) returned {out.tolist()}; expected [0, 0, 2.5]"


def test_leaky_relu_default_slope():
    out = leaky_relu(torch.tensor([-100.0, 3.0]))
    assert torch.allclose(out, torch.tensor([-1.0, 3.0])), \
        f"leaky_relu([-100, 3]) returned {out.tolist()}; expected [-1, 3] (the default slope is 0.01)"


def test_elu_known_values():
    out = elu(torch.tensor([-1.0, 0.0, 2.0]))
    want = torch.tensor([math.exp(-1) - 1, 0.0, 2.0])
    assert torch.allclose(out, want, atol=1e-6), f"elu([-1, 0, 2]) returned {out.tolist()}; expected {want.tolist()}"


def test_elu_finite_for_large_inputs():
    _finite_with_finite_gradient(elu, LARGE)


# -- softmax, log_softmax ----------------------------------------------------------------
def test_softmax_rows_sum_to_one():
    out = softmax(torch.tensor([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]]))
    assert out.shape == (2, 3), f"softmax changed the shape to {tuple(out.shape)}"
    assert torch.allclose(out.sum(dim=-1), torch.ones(2)), \
        f"the rows of softmax(x) sum to {out.sum(-1).tolist()}, not 1"
    assert torch.allclose(out[1], torch.full((3,), 1 / 3)), \
        f"softmax of equal logits should be uniform: {out[1].tolist()}"


def test_softmax_finite_for_large_logits():
    out = softmax(torch.tensor([[1e4, 0.0, -1e4]]))
    assert torch.isfinite(out).all(), f"softmax([1e4, 0, -1e4]) has nan or inf: {out.tolist()}; subtract the max first"
    assert torch.allclose(out, torch.tensor([[1.0, 0.0, 0.0]])), f"softmax([1e4, 0, -1e4]) returned {out.tolist()}"


def test_log_softmax_known_values():
    out = log_softmax(torch.zeros(2, 4))
    assert torch.allclose(out, torch.full((2, 4), -math.log(4))), \
        f"log_softmax of zeros(2, 4) returned {out.tolist()}; expected -log(4) everywhere"


def test_log_softmax_finite_for_large_logits():
    out = log_softmax(torch.tensor([[1e4, 0.0, -1e4]]))
    assert torch.isfinite(out).all(), \
        f"log_softmax([1e4, 0, -1e4]) has nan or inf: {out.tolist()}; do not take log(softmax(x))"
    assert torch.allclose(out, torch.tensor([[0.0, -1e4, -2e4]])), \
        f"log_softmax([1e4, 0, -1e4]) returned {out.tolist()}"


# -- losses ------------------------------------------------------------------------------
def test_mse_loss_known_value():
    loss = mse_loss(torch.tensor([1.0, 2.0, 3.0]), torch.tensor([1.0, 0.0, 6.0]))
    assert loss.dim() == 0, f"mse_loss should return a 0-d tensor, got shape {tuple(loss.shape)}"
    assert torch.isclose(loss, torch.tensor(13 / 3)), \
        f"mse_loss([1, 2, 3], [1, 0, 6]) returned {loss.item()}; expected 13/3 (the mean)"


def test_binary_cross_entropy_known_value():
    loss = binary_cross_entropy(torch.tensor([0.5, 0.5]), torch.tensor([1.0, 0.0]))
    assert torch.isclose(loss, torch.tensor(math.log(2))), \
        f"binary_cross_entropy returned {loss.item()}; expected log(2)"


def test_binary_cross_entropy_finite_at_0_and_1():
    loss = binary_cross_entropy(torch.tensor([0.0, 1.0]), torch.tensor([1.0, 1.0]))
    assert torch.isfinite(loss), \
        f"binary_cross_entropy with probabilities 0 and 1 returned {loss.item()}; clamp them first"
    assert torch.isclose(loss, torch.tensor(-math.log(1e-7) / 2), rtol=1e-3), \
        (f"binary_cross_entropy([0, 1], [1, 1]) returned {loss.item()}; expected about -log(1e-7) / 2 "
         "(clamp the probabilities to [1e-7, 1 - 1e-7])")


def test_cross_entropy_uniform_logits():
    loss = cross_entropy(torch.zeros(2, 4), torch.tensor([0, 3]))
    assert loss.dim() == 0, f"cross_entropy should return a 0-d tensor, got shape {tuple(loss.shape)}"
    assert torch.isclose(loss, torch.tensor(math.log(4))), \
        f"cross_entropy(zeros(2, 4), [0, 3]) returned {loss.item()}; expected log(4)"


@pytest.mark.parametrize("fn", [sigmoid, tanh, relu, leaky_relu, elu], ids=lambda f: f.__name__)
def test_keeps_shape_and_dtype(fn):
    x = torch.linspace(-3, 3, 12, dtype=torch.float64).reshape(3, 4)
    out = fn(x)
    assert out.shape == x.shape and out.dtype == x.dtype, \
        f"{fn.__name__} returned shape {tuple(out.shape)} and dtype {out.dtype}; expected (3, 4) and float64"
