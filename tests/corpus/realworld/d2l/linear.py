# d2l.ai "Linear Regression Implementation from Scratch" / "Concise Implementation" style.
import math

import torch
from torch import nn


def linear_forward(x, weight, bias=None):
    """The linear regression model (d2l's linreg), for weights stored [out, in]."""
    out = torch.matmul(x, weight.T)
    if bias is not None:
        out += bias
    return out


class Linear(nn.Module):
    def __init__(self, in_features, out_features, bias=True):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.weight = nn.Parameter(torch.empty(out_features, in_features))
        if bias:
            self.bias = nn.Parameter(torch.empty(out_features))
        else:
            self.bias = None
        self.reset_parameters()

    def reset_parameters(self):
        bound = 1 / math.sqrt(self.in_features)
        nn.init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            nn.init.uniform_(self.bias, -bound, bound)

    def forward(self, X):
        return linear_forward(X, self.weight, self.bias)


def make_mlp(sizes):
    if len(sizes) < 2:
        raise ValueError('an MLP needs an input and an output size')
    net = nn.Sequential()
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        if i:
            net.append(nn.ReLU())
        net.append(Linear(n_in, n_out))
    return net
