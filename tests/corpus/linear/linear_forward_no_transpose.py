# expect-lost: linear.linear_forward
# expect-outcome: linear.linear_forward: failed, error
"""Multiplies by weight instead of weight.T. Linear.forward has its own code, so only
linear_forward is wrong."""

import math

import torch
from torch import nn


def linear_forward(x, weight, bias=None):
    out = x @ weight
    if bias is not None:
        out = out + bias
    return out


class Linear(nn.Module):
    def __init__(self, in_features, out_features, bias=True):
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        k = 1.0 / math.sqrt(in_features)
        self.weight = nn.Parameter(torch.empty(out_features, in_features).uniform_(-k, k))
        if bias:
            self.bias = nn.Parameter(torch.empty(out_features).uniform_(-k, k))
        else:
            self.register_parameter("bias", None)

    def forward(self, x):
        out = x @ self.weight.T
        if self.bias is not None:
            out = out + self.bias
        return out


def make_mlp(sizes):
    if len(sizes) < 2:
        raise ValueError("make_mlp needs at least two sizes")
    layers = []
    for i in range(len(sizes) - 1):
        if i > 0:
            layers.append(nn.ReLU())
        layers.append(Linear(sizes[i], sizes[i + 1]))
    return nn.Sequential(*layers)
