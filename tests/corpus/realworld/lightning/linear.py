# Lightning-codebase style: nn.Linear's own reset_parameters (kaiming_uniform_ with
# a=sqrt(5) gives the bound 1/sqrt(in_features)), named layers in an OrderedDict.
from __future__ import annotations

import math
from collections import OrderedDict
from typing import Optional, Sequence

import torch
from torch import Tensor, nn


def linear_forward(x: Tensor, weight: Tensor, bias: Optional[Tensor] = None) -> Tensor:
    out = torch.einsum("...i,oi->...o", x, weight)
    if bias is not None:
        out = out + bias
    return out


class Linear(nn.Module):
    __constants__ = ["in_features", "out_features"]

    def __init__(self, in_features: int, out_features: int, bias: bool = True) -> None:
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.weight = nn.Parameter(torch.empty((out_features, in_features)))
        if bias:
            self.bias = nn.Parameter(torch.empty(out_features))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            bound = 1 / math.sqrt(self.in_features) if self.in_features > 0 else 0
            nn.init.uniform_(self.bias, -bound, bound)

    def forward(self, input: Tensor) -> Tensor:
        return linear_forward(input, self.weight, self.bias)


def make_mlp(sizes: Sequence[int]) -> nn.Sequential:
    sizes = list(sizes)
    if len(sizes) < 2:
        raise ValueError(f"`sizes` must have at least two entries, got {sizes}")
    layers: "OrderedDict[str, nn.Module]" = OrderedDict()
    for idx, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers[f"fc{idx}"] = Linear(n_in, n_out)
        if idx < len(sizes) - 2:
            layers[f"act{idx}"] = nn.ReLU()
    return nn.Sequential(layers)
