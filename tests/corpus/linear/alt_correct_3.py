# expect-lost: none
"""Correct, in yet another style: x @ weight.transpose(-1, -2) plus bias via torch.add,
torch.distributions.Uniform for the initialisation, bias=False handled by leaving
self.bias = None, and a while loop for make_mlp that also accepts tuples."""

import math

import torch
from torch import nn
from torch.distributions import Uniform


def linear_forward(x, weight, bias=None):
    result = x @ weight.transpose(-1, -2)
    if bias is not None:
        result = torch.add(result, bias)
    return result


class Linear(nn.Module):
    def __init__(self, in_features, out_features, bias=True):
        super().__init__()
        bound = 1.0 / math.sqrt(in_features)
        uniform = Uniform(-bound, bound)
        self.weight = nn.Parameter(uniform.sample((out_features, in_features)))
        self.bias = nn.Parameter(uniform.sample((out_features,))) if bias else None

    def forward(self, x):
        out = x.matmul(self.weight.T)
        return out if self.bias is None else out + self.bias


def make_mlp(sizes):
    if not isinstance(sizes, (list, tuple)) or len(sizes) < 2:
        raise ValueError("sizes must hold at least two layer widths")
    model = nn.Sequential()
    i = 0
    while i < len(sizes) - 1:
        if i:
            model.append(nn.ReLU())
        model.append(Linear(sizes[i], sizes[i + 1]))
        i += 1
    return model
