# Style of the "Build the Neural Network" and "What is torch.nn really?" tutorials.
import math

import torch
from torch import nn


def linear_forward(x, weight, bias=None):
    y = x @ weight.transpose(0, 1)
    return y if bias is None else y + bias


class Linear(nn.Module):
    def __init__(self, in_features, out_features, bias=True):
        super().__init__()
        k = 1 / in_features
        self.weight = nn.Parameter(torch.FloatTensor(out_features, in_features).uniform_(-math.sqrt(k), math.sqrt(k)))
        if bias:
            self.bias = nn.Parameter(torch.FloatTensor(out_features).uniform_(-math.sqrt(k), math.sqrt(k)))
        else:
            self.register_parameter("bias", None)

    def forward(self, xb):
        return linear_forward(xb, self.weight, self.bias)

    def extra_repr(self):
        return f"in_features={self.weight.shape[1]}, out_features={self.weight.shape[0]}, bias={self.bias is not None}"


def make_mlp(sizes):
    if len(sizes) < 2:
        raise ValueError("sizes must hold at least the input and the output size")
    modules = []
    for n_in, n_out in zip(sizes, sizes[1:]):
        modules += [Linear(n_in, n_out), nn.ReLU()]
    return nn.Sequential(*modules[:-1])
