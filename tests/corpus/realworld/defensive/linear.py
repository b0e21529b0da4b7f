"""Assignment 2, written defensively: validated arguments, annotations everywhere, and a
self-test that checks the layer against torch.nn.Linear / F.linear (run as a script)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def linear_forward(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``x @ weight.T + bias`` for x ``[..., in]``, weight ``[out, in]``, bias ``[out]`` or None."""
    if weight.dim() != 2:
        raise ValueError(f"weight must be [out, in], got shape {tuple(weight.shape)}")
    if x.shape[-1] != weight.shape[1]:
        raise ValueError(f"x has {x.shape[-1]} features but weight expects {weight.shape[1]}")
    if bias is not None and bias.shape != (weight.shape[0],):
        raise ValueError(f"bias must be [{weight.shape[0]}], got shape {tuple(bias.shape)}")
    result: Tensor = torch.matmul(x, weight.t())
    if bias is not None:
        result = result + bias
    return result


class Linear(nn.Module):
    """A fully connected layer; same parameters and initialisation as ``nn.Linear``."""

    in_features: int
    out_features: int
    weight: nn.Parameter
    bias: nn.Parameter | None

    def __init__(self, in_features: int, out_features: int, bias: bool = True) -> None:
        super().__init__()
        for name, value in (("in_features", in_features), ("out_features", out_features)):
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        self.in_features = in_features
        self.out_features = out_features
        bound: float = 1.0 / math.sqrt(in_features)
        self.weight = nn.Parameter(torch.empty(out_features, in_features).uniform_(-bound, bound))
        if bias:
            self.bias = nn.Parameter(torch.empty(out_features).uniform_(-bound, bound))
        else:
            self.register_parameter("bias", None)

    def forward(self, x: Tensor) -> Tensor:
        return linear_forward(x, self.weight, self.bias)


def make_mlp(sizes: Sequence[int]) -> nn.Sequential:
    sizes = list(sizes)
    if len(sizes) < 2:
        raise ValueError(f"make_mlp needs at least two sizes (input and output), got {sizes}")
    if any(not isinstance(s, int) or s <= 0 for s in sizes):
        raise ValueError(f"every size must be a positive int, got {sizes}")
    layers: list[nn.Linear | nn.ReLU] = []   # our Linear plays nn.Linear's part
    last = len(sizes) - 2
    for index, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layer: Linear = Linear(n_in, n_out)
        layers.append(layer)
        if index != last:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def _copy_into_torch(mine: Linear) -> nn.Linear:
    """An nn.Linear holding the same parameters (for the self-test only)."""
    layer: nn.Linear = nn.Linear(mine.in_features, mine.out_features, bias=mine.bias is not None)
    with torch.no_grad():
        layer.weight.copy_(mine.weight)
        if mine.bias is not None:
            layer.bias.copy_(mine.bias)
    return layer


if __name__ == "__main__":
    torch.manual_seed(0)
    mine = Linear(5, 3)
    theirs = _copy_into_torch(mine)
    x = torch.randn(4, 2, 5)
    assert torch.allclose(mine(x), theirs(x), atol=1e-6)
    assert torch.allclose(linear_forward(x, mine.weight), F.linear(x, mine.weight), atol=1e-6)
    print(make_mlp([784, 128, 10]))
