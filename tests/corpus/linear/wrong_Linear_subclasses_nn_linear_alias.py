# expect-lost: linear.Linear
# expect-message: linear.Linear: (that is torch.nn.linear)
# expect-outcome: linear.Linear: penalty
"""Linear derives from nn.Linear, reached through a module-level alias to
nn.modules.linear.Linear: the static rule follows the alias and compares by object."""


import math
from collections import OrderedDict

import torch
import torch.nn as nn

_Base = nn.modules.linear.Linear     # nn.Linear, under another name: still nn.Linear


def linear_forward(x, weight, bias=None):
    y = torch.matmul(x, weight.t())
    return y if bias is None else y + bias


class Linear(_Base):
    def __init__(self, in_features, out_features, bias=True):
        nn.Module.__init__(self)
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


def make_mlp(sizes):
    sizes = list(sizes)
    if len(sizes) <= 1:
        raise ValueError(f"need an input and an output size, got {sizes}")
    layers = OrderedDict()
    for i, (n_in, n_out) in enumerate(zip(sizes, sizes[1:])):
        layers[f"fc{i + 1}"] = Linear(n_in, n_out)
        layers[f"relu{i + 1}"] = nn.ReLU(inplace=True)
    layers.popitem()  # no activation after the last layer
    return nn.Sequential(layers)
