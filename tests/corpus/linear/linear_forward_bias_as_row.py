# expect-lost: linear.linear_forward, linear.Linear
# The bias added as a row (bias.unsqueeze(0)): right for inputs with a batch axis, but a single vector
# x of shape [in] gives [1, out] instead of [out], in linear_forward and in Linear's forward.
from __future__ import annotations
import math
from collections.abc import Sequence
import torch
from torch import nn
__all__ = ['linear_forward', 'Linear', 'make_mlp']

def linear_forward(x, weight, bias=None):
    out = x @ weight.T
    if bias is not None:
        out = out + bias.unsqueeze(0)
    return out

class Linear(nn.Module):

    def __init__(self, in_features: int, out_features: int, bias: bool=True) -> None:
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        bound = 1.0 / math.sqrt(in_features)
        self.weight = nn.Parameter(torch.empty(out_features, in_features).uniform_(-bound, bound))
        if bias:
            self.bias = nn.Parameter(torch.empty(out_features).uniform_(-bound, bound))
        else:
            self.register_parameter('bias', None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return linear_forward(x, self.weight, self.bias)

def make_mlp(sizes: Sequence[int]) -> nn.Sequential:
    sizes = list(sizes)
    if len(sizes) < 2:
        raise ValueError(f'make_mlp needs at least two sizes (input and output), got {sizes}')
    layers: list[nn.Module] = []
    for i in range(len(sizes) - 1):
        if i > 0:
            layers.append(nn.ReLU())
        layers.append(Linear(sizes[i], sizes[i + 1]))
    return nn.Sequential(*layers)
