# expect-lost: none
"""make_mlp returns an instance of a subclass of nn.Sequential (minitorch's Network,
torchvision.ops.MLP): an nn.Sequential, with the layers' forward."""


import math
from collections import OrderedDict

import torch
import torch.nn as nn


def linear_forward(x, weight, bias=None):
    y = torch.matmul(x, weight.t())
    return y if bias is None else y + bias


class Linear(nn.Module):
    def __init__(self, in_features, out_features, bias=True):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.weight = nn.Parameter(torch.empty(out_features, in_features))
        self.bias = nn.Parameter(torch.empty(out_features)) if bias else None
        self.reset_parameters()

    def reset_parameters(self):
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            bound = 1 / math.sqrt(self.in_features)
            nn.init.uniform_(self.bias, -bound, bound)

    def forward(self, x):
        return linear_forward(x, self.weight, self.bias)


class Network(nn.Sequential):
    """minitorch's / torchvision.ops.MLP's way: the MLP is a subclass of nn.Sequential."""

    def __init__(self, sizes):
        sizes = list(sizes)
        if len(sizes) < 2:
            raise ValueError(f"need an input and an output size, got {sizes}")
        layers = []
        for n_in, n_out in zip(sizes[:-1], sizes[1:]):
            layers += [Linear(n_in, n_out), nn.ReLU()]
        super().__init__(*layers[:-1])


def make_mlp(sizes):
    return Network(sizes)
