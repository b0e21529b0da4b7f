# expect-lost: none
"""Correct, written differently again: einsum for the affine map, torch.rand scaled
to [-k, k], register_parameter for both parameters, a broadcast product for the
module's forward, and interleaving a list of layers with ReLUs."""

import torch
from torch import nn


def linear_forward(x, weight, bias=None):
    out = torch.einsum("...i,oi->...o", x, weight)
    if bias is not None:
        out += bias
    return out


class Linear(nn.Module):
    def __init__(self, in_features, out_features, bias=True):
        super().__init__()
        k = in_features ** -0.5
        self.register_parameter("weight", nn.Parameter(torch.rand(out_features, in_features) * 2 * k - k))
        self.register_parameter("bias", nn.Parameter(k * (2 * torch.rand(out_features) - 1)) if bias else None)

    def forward(self, x):
        out = (x.unsqueeze(-2) * self.weight).sum(dim=-1)
        if self.bias is not None:
            out = out + self.bias
        return out


def make_mlp(sizes):
    if len(sizes) < 2:
        raise ValueError("at least two sizes are needed")
    linears = [Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:])]
    modules = []
    for layer in linears[:-1]:
        modules.extend([layer, nn.ReLU()])
    modules.append(linears[-1])
    return nn.Sequential(*modules)
