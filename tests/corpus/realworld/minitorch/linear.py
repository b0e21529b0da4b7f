"""A linear layer, minitorch style (module 4's Linear with weights [out, in]): no matmul,
broadcast multiply and sum, parameters drawn as 2 * (rand - 0.5) scaled."""

from __future__ import annotations

import math
from typing import Optional, Sequence

import torch
from torch import Tensor, nn


def linear_forward(x: Tensor, weight: Tensor, bias: Optional[Tensor] = None) -> Tensor:
    # [..., 1, in] * [out, in] -> [..., out, in] -> sum over in -> [..., out]
    out = (x.unsqueeze(-2) * weight).sum(dim=-1)
    return out if bias is None else out + bias


class Linear(nn.Module):
    def __init__(self, in_features: int, out_features: int, bias: bool = True):
        super().__init__()
        scale = 1.0 / math.sqrt(in_features)
        self.weight = nn.Parameter(2 * (torch.rand(out_features, in_features) - 0.5) * scale)
        if bias:
            self.bias = nn.Parameter(2 * (torch.rand(out_features) - 0.5) * scale)
        else:
            self.bias = None
        self.in_size, self.out_size = in_features, out_features

    def forward(self, x: Tensor) -> Tensor:
        return linear_forward(x, self.weight, self.bias)


class Network(nn.Sequential):
    """minitorch's Network (Linear -> ReLU -> ... -> Linear) as an nn.Sequential, the way
    torchvision.ops.MLP is one: the layers are its children, the forward pass is Sequential's."""

    def __init__(self, sizes: Sequence[int]):
        if len(sizes) < 2:
            raise ValueError("make_mlp: at least two layer sizes are needed")
        layers: list[nn.Module] = [Linear(sizes[0], sizes[1])]
        for n_in, n_out in zip(sizes[1:-1], sizes[2:]):
            layers.append(nn.ReLU())
            layers.append(Linear(n_in, n_out))
        super().__init__(*layers)
        self.sizes = tuple(sizes)


def make_mlp(sizes: Sequence[int]) -> nn.Sequential:
    return Network(sizes)
