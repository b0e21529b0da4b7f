"""A linear layer with today's Python: itertools.pairwise, dataclass-free but typed,
torch.distributions for the initialisation, a buffer slot for a missing bias."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import torch
from torch import nn
from torch.distributions import Uniform


def linear_forward(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
    match bias:
        case None:
            return x @ weight.mT
        case _:   # one fused BLAS call on the rows of x
            rows = torch.addmm(bias, x.reshape(-1, x.shape[-1]), weight.mT)
            return rows.reshape(*x.shape[:-1], weight.shape[0])


class Linear(nn.Module):
    weight: nn.Parameter
    bias: nn.Parameter | None

    def __init__(self, in_features: int, out_features: int, bias: bool = True) -> None:
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        bound = 1 / math.sqrt(in_features)
        init = Uniform(-bound, bound)
        self.weight = nn.Parameter(init.sample((out_features, in_features)))
        if bias:
            self.bias = nn.Parameter(init.sample((out_features,)))
        else:
            self.register_buffer("bias", None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return linear_forward(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return f"{self.in_features=}, {self.out_features=}, bias={self.bias is not None}"


def make_mlp(sizes: Sequence[int]) -> nn.Sequential:
    if len(sizes := list(sizes)) < 2:
        raise ValueError(f"make_mlp needs at least two sizes, got {sizes!r}")
    linears = [Linear(n_in, n_out) for n_in, n_out in itertools.pairwise(sizes)]
    layers = [layer for linear in linears[:-1] for layer in (linear, nn.ReLU())]
    return nn.Sequential(*layers, linears[-1])
