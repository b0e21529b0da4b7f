"""Public checks for assignment 2, ``linear``: run ``pytest tests/test_linear.py``.

They try a few known inputs for every task. The grader runs more checks (other shapes,
gradients, initialisation statistics) on the same tasks, so passing these is a good
sign, not a guarantee.
"""

import math

import pytest
import torch
from torch import nn

from linear import Linear, linear_forward, make_mlp


# -- linear_forward ---------------------------------------------------------------
def test_linear_forward_known_values():
    x = torch.tensor([[1.0, 2.0]])
    weight = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])     # [out=3, in=2]
    bias = torch.tensor([0.0, 0.0, 1.0])
    got = linear_forward(x, weight, bias)
    assert tuple(got.shape) == (1, 3), f"x [1, 2] and weight [3, 2] should give [1, 3], got {list(got.shape)}"
    assert got.tolist() == [[1.0, 2.0, 4.0]], f"linear_forward returned {got.tolist()}; expected [[1, 2, 4]]"
    assert linear_forward(x, weight).tolist() == [[1.0, 2.0, 3.0]], "without a bias, the output is x @ weight.T"


def test_linear_forward_any_leading_axes():
    weight = torch.ones(4, 3)
    for shape in [(3,), (2, 3), (2, 5, 3), (0, 3)]:
        got = linear_forward(torch.ones(shape), weight)
        expected = shape[:-1] + (4,)
        assert tuple(got.shape) == expected, \
            f"x of shape {list(shape)} should give {list(expected)}, got {list(got.shape)}"


def test_linear_forward_is_differentiable():
    x = torch.ones(2, 3, requires_grad=True)
    weight = torch.ones(4, 3, requires_grad=True)
    bias = torch.zeros(4, requires_grad=True)
    linear_forward(x, weight, bias).sum().backward()
    for name, t in (("x", x), ("weight", weight), ("bias", bias)):
        assert t.grad is not None, f"no gradient reached {name}: keep the computation in autograd"
    assert weight.grad.tolist() == [[2.0, 2.0, 2.0]] * 4, "the gradient of weight is wrong"
    assert bias.grad.tolist() == [2.0] * 4, "the gradient of bias is wrong"


# -- Linear -----------------------------------------------------------------------
def test_Linear_registers_parameters():
    layer = Linear(5, 3)
    names = dict(layer.named_parameters())
    assert set(names) == {"weight", "bias"}, f"named_parameters() should list weight and bias, got {sorted(names)}"
    assert isinstance(layer.weight, nn.Parameter) and isinstance(layer.bias, nn.Parameter), \
        "weight and bias should be nn.Parameter"
    assert tuple(layer.weight.shape) == (3, 5), f"weight should be [out, in] = [3, 5], got {list(layer.weight.shape)}"
    assert tuple(layer.bias.shape) == (3,), f"bias should be [out] = [3], got {list(layer.bias.shape)}"


def test_Linear_without_bias():
    layer = Linear(5, 3, bias=False)
    assert layer.bias is None, "with bias=False, layer.bias should be None"
    assert [n for n, _ in layer.named_parameters()] == ["weight"], "with bias=False, weight is the only parameter"


def test_Linear_init_within_bounds():
    torch.manual_seed(0)
    layer = Linear(100, 50)
    bound = 1 / math.sqrt(100)
    for name, p in (("weight", layer.weight), ("bias", layer.bias)):
        assert p.abs().max().item() <= bound + 1e-6, f"{name} has values outside [-1/sqrt(in), 1/sqrt(in)]"
        assert p.max().item() > 0.5 * bound and p.min().item() < -0.5 * bound, \
            f"{name} should spread over [-1/sqrt(in), 1/sqrt(in)] (not zeros, not one-sided)"


def test_Linear_forward_matches_formula():
    layer = Linear(4, 2)
    x = torch.randn(3, 4)
    expected = x @ layer.weight.T + layer.bias
    got = layer(x)
    assert tuple(got.shape) == (3, 2), f"Linear(4, 2) on x [3, 4] should give [3, 2], got {list(got.shape)}"
    assert torch.allclose(got, expected, atol=1e-6), "forward should compute x @ weight.T + bias"


# -- make_mlp ---------------------------------------------------------------------
def test_make_mlp_structure():
    mlp = make_mlp([784, 128, 10])
    assert isinstance(mlp, nn.Sequential), f"make_mlp should return nn.Sequential, got {type(mlp).__name__}"
    layers = list(mlp)
    kinds = [type(m).__name__ for m in layers]
    assert len(layers) == 3, f"[784, 128, 10] should give Linear, ReLU, Linear; got {kinds}"
    assert type(layers[0]) is Linear and type(layers[2]) is Linear, \
        f"the layers should be your own Linear (not nn.Linear); got {kinds}"
    assert isinstance(layers[1], nn.ReLU), f"a ReLU should sit between the two layers; got {kinds}"
    assert tuple(layers[0].weight.shape) == (128, 784) and tuple(layers[2].weight.shape) == (10, 128), \
        "the layers should be Linear(784, 128) and Linear(128, 10)"
    assert tuple(mlp(torch.zeros(2, 784)).shape) == (2, 10), "the MLP should map [2, 784] to [2, 10]"


def test_make_mlp_single_layer_has_no_activation():
    kinds = [type(m).__name__ for m in make_mlp([4, 2])]
    assert kinds == ["Linear"], \
        f"[4, 2] should give just Linear(4, 2) (no activation after the last layer); got {kinds}"


@pytest.mark.parametrize("sizes", [[], [5]])
def test_make_mlp_rejects_fewer_than_two_sizes(sizes):
    with pytest.raises(ValueError):
        make_mlp(sizes)
