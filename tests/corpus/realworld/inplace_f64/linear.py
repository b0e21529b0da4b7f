# In-place initialisation under no_grad, addmm / add_ in the forward pass.
import math

import torch
from torch import nn


def linear_forward(x, weight, bias=None):
    x2 = x.reshape(-1, x.shape[-1])
    if bias is not None:
        out = torch.addmm(bias, x2, weight.t())
    else:
        out = torch.mm(x2, weight.t())
    return out.view(*x.shape[:-1], weight.shape[0])


class Linear(nn.Module):
    def __init__(self, in_features, out_features, bias=True):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(out_features, in_features))
        self.bias = nn.Parameter(torch.empty(out_features)) if bias else None
        bound = 1 / math.sqrt(in_features)
        with torch.no_grad():
            self.weight.uniform_(-bound, bound)
            if self.bias is not None:
                self.bias.uniform_(-bound, bound)

    def forward(self, x):
        return linear_forward(x, self.weight, self.bias)


def make_mlp(sizes):
    if len(sizes) < 2:
        raise ValueError(f"make_mlp needs >= 2 sizes, got {len(sizes)}")
    mlp = nn.Sequential()
    for i in range(len(sizes) - 1):
        if i > 0:
            mlp.add_module(f"relu{i}", nn.ReLU(inplace=True))
        mlp.add_module(f"linear{i}", Linear(sizes[i], sizes[i + 1]))
    return mlp
